"""The carbon rows of two results folders (main's run and the branch's): the central values
must be equal (they use the factor values and mapped areas, not the draws); the interval ends
differ by Monte Carlo noise (another design and stream). Per column: max and median |diff|
as % of main's 95 % interval width of that row (the 90 % interval's own width for the
conservative figure's uncertainty is not known, so those use the 95 % width too).

    python compare_carbon.py MAIN_RESULTS BRANCH_RESULTS
"""

import sys

import numpy as np

from flows.results.read import read_table

a, b = (read_table(p, "carbon").sort_values(["site_id", "period"]).reset_index(drop=True)
        for p in sys.argv[1:3])
assert len(a) == len(b) and (a["site_id"] == b["site_id"]).all()
for col in ("extent_ha", "stock_tco2e", "change_tco2e"):
    print(f"{col}: identical {np.array_equal(a[col].to_numpy(), b[col].to_numpy())}")
for what in ("stock", "change", "baseline_stock"):
    width = (a[f"{what}_ci_high_tco2e"] - a[f"{what}_ci_low_tco2e"]).to_numpy()
    moving = width > 1e-6
    for end in ("low", "high"):
        col = f"{what}_ci_{end}_tco2e"
        rel = np.abs(a[col] - b[col]).to_numpy()[moving] / width[moving] * 100
        print(f"{col}: rows {moving.sum()}/{len(a)}, |diff| median {np.median(rel):.3f} %, "
              f"max {rel.max():.3f} % of the 95 % width")
width = (a["change_ci_high_tco2e"] - a["change_ci_low_tco2e"]).to_numpy()
moving = width > 1e-6
rel = np.abs(a["change_conservative_tco2e"] - b["change_conservative_tco2e"]).to_numpy()
print(f"change_conservative_tco2e: identical rows {(rel == 0).sum()}/{len(a)}, |diff| max "
      f"{(rel[moving] / width[moving] * 100).max():.3f} % of the 95 % width")
u = (a["change_uncertainty_90_pct"] - b["change_uncertainty_90_pct"]).abs()
print(f"change_uncertainty_90_pct: |diff| median {u.median():.3f}, max {u.max():.3f} points")
