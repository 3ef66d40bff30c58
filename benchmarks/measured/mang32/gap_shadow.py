"""Are the truth's mangrove pixels that pass the spectral test but lie outside the context
(diag.py's ctx_only) cut off by the baseline's never-clear gap? (helper mang32)
For each seed: those pixels, and how many of them the context would connect if the gap's
pixels were passable (a path through the candidates or the gap from the connected canopy
or the coast's water: 8-connected components of candidates | gap touching level 1/2/3).
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang32/gap_shadow.py SEED..."""
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from scenario_sweep import mangrove_baseline  # noqa: E402

from indices.evidence import mangrove_final_context  # noqa: E402
from indices.mangrove_rule import mangrove_candidates, mangrove_spectral_score  # noqa: E402

for s in sys.argv[1:]:
    sc, site, cube, base, rule, params, codes = mangrove_baseline(int(s), Path("/work/wt/mang24-cache"))
    level = mangrove_final_context(base, rule, params, codes).compute().values.astype(np.uint8)
    spec = mangrove_spectral_score(base, rule, params).values
    cand = mangrove_candidates(base, rule, params).values
    gap = base["n_clear"].values == 0
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    crop = (slice(i0, i0 + level.shape[0]), slice(j0, j0 + level.shape[1]))
    truth = sc.habitat[0][crop] & sc.site[crop]
    ctx_only = truth & (level == 0) & (spec > 0)
    lab, _ = ndimage.label(cand | gap, np.ones((3, 3), bool))
    touching = np.unique(lab[(level != 0) & (lab > 0)])
    behind = ctx_only & np.isin(lab, touching)
    print(json.dumps({"seed": int(s), "gap_px": int(gap.sum()), "gap_truth_px": int((gap & truth).sum()),
                      "ctx_only_px": int(ctx_only.sum()), "reached_through_gap_px": int(behind.sum())}),
          flush=True)
