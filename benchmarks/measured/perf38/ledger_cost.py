"""What the carbon step's first ledger costs in a process that has imported the run's modules
(as a run has by then): CPU s and the rise of peak RSS over the first ``carbon_ledger`` call
(main: its ``scipy.stats`` import included; the branch: indices.sobol), and over a second
call (the ledger alone). Run from a tree: ``cd TREE && PYTHONPATH=TREE:TREE/tests python
ledger_cost.py``; one JSON line."""

import json
import resource
import time

from test_carbon import busy_rows

import flows.cli  # noqa: F401  (the run's modules, imported as a run has them)
import flows.nightly  # noqa: F401
import flows.site  # noqa: F401
import indices.carbon as carbon
from indices.carbon_factors import default_factors


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


rows, factors = busy_rows(), default_factors("mangrove", "tropical_wet")
out = {"peak_before_mib": round(peak_mib(), 1)}
for label in ("first", "second"):
    cpu, peak = time.process_time(), peak_mib()
    carbon.carbon_ledger(rows, factors, seed=1)
    out[f"{label}_cpu_s"] = round(time.process_time() - cpu, 3)
    out[f"{label}_peak_rise_mib"] = round(peak_mib() - peak, 1)
import sys  # noqa: E402

out["scipy.stats"] = "scipy.stats" in sys.modules
print(json.dumps(out))
