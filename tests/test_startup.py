"""``flows.runtime.startup``: a run without a cluster computes and rechunks with dask without
importing ``distributed`` (nor does :func:`flows.runtime.scheduler.computes_here` to find
that dask computes here), leaves dask alone when ``distributed`` is already imported (a
caller's client), imports late modules on a helper thread, and that a run (its modules and
its carbon step) never imports ``scipy.stats``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def test_no_distributed_import_without_a_cluster():
    out = _python(
        "import sys\n"
        "from flows.runtime.startup import local_dask\n"
        "from flows.runtime.scheduler import computes_here\n"
        "import dask, dask.array as da\n"
        "here = [computes_here(), computes_here([da.ones(2)])]\n"
        "with local_dask():\n"
        "    x = da.ones((60, 60), chunks=10).rechunk(30)\n"
        "    here += [computes_here(), computes_here([x])]\n"
        "    total = dask.compute(x.sum(), x.mean())[0]\n"
        "print(float(total), 'distributed' in sys.modules, all(here))\n")
    assert out == "3600.0 False True"


def test_left_alone_when_distributed_is_imported():
    out = _python(
        "import distributed, dask\n"
        "from flows.runtime.startup import local_dask\n"
        "with local_dask():\n"
        "    print(dask.config.get('scheduler', None), dask.config.get('array.rechunk.method', None))\n")
    assert out == "None None"


def test_a_compute_from_another_thread_runs_one_task_a_core():
    """dask gives a compute from a thread other than the main one (a site's thread, the
    one-pass walk's helper) a pool of its own; under ``local_dask`` it has one worker a core
    (dask's ``CPU_COUNT``), as the main thread's, not ThreadPoolExecutor's cores + 4."""
    out = _python(
        "import threading, time\n"
        "import dask\n"
        "from dask.system import CPU_COUNT\n"
        "from flows.runtime.startup import local_dask\n"
        "lock, now, most = threading.Lock(), [0], [0]\n"
        "def task(i):\n"
        "    with lock:\n"
        "        now[0] += 1; most[0] = max(most[0], now[0])\n"
        "    time.sleep(0.05)\n"
        "    with lock:\n"
        "        now[0] -= 1\n"
        "    return i\n"
        "def run():\n"
        "    with local_dask():\n"
        "        dask.compute(*[dask.delayed(task)(i) for i in range(3 * CPU_COUNT + 8)])\n"
        "t = threading.Thread(target=run); t.start(); t.join(60)\n"
        "print(most[0], CPU_COUNT)\n")
    most, cores = map(int, out.split())
    assert 1 <= most <= cores


def test_a_run_never_imports_scipy_stats():
    """``scipy.stats`` (~0.4-0.8 s of CPU, ~30 MB) is imported neither by the flow's modules
    (the calibration guard's Student's t is imported where a partner calibrates, review 33)
    nor by the carbon step: its Monte Carlo design is :mod:`indices.sobol` and its normal
    scores ``scipy.special.ndtri`` (perf38; it had been imported on a helper thread)."""
    out = _python(
        "import sys\n"
        "import flows.cli, flows.site, flows.site.evidence, flows.nightly, indices.calibration\n"
        "from indices.carbon import carbon_ledger\n"
        "from indices.carbon_factors import default_factors\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from test_carbon import busy_rows\n"
        "out = carbon_ledger(busy_rows(), default_factors('mangrove', 'tropical_wet'), seed=1)\n"
        "print(len(out), 'scipy.stats' in sys.modules)\n")
    assert out == "24 False"
