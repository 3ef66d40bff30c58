"""mang41: every row of the inside-box case (``few_pixels.py``, the window clouded but a 3 x 3
tidal box inside the polygon; a run ending 2024-03-31, the memory walk): extent, its
interval, gain and loss with theirs. The stand (the clear demo's baseline extent) is
140.82 ha; the truth is not read."""
import datetime as dt
import json
import sys

import few_pixels as fp
from aoi import site_grid, site_mask
from flows.site import load_range, site_tables


def main(label):
    end = dt.date(2024, 3, 31)
    mask = site_mask(fp.SITE, site_grid(fp.SITE))
    fp.BOX = fp.inside_box(mask)
    source = fp.FewSeen(seed=3)
    scenes = source.search(fp.SITE, *load_range(fp.SITE, None, end))
    got = site_tables(fp.SITE, source, scenes, start=None, end=end, run_id="r", walk="memory")
    ch = got.change
    cols = ("extent_ha", "extent_ci_low_ha", "extent_ci_high_ha", "gain_ha", "gain_ci_low_ha",
            "gain_ci_high_ha", "loss_ha", "loss_ci_low_ha", "loss_ci_high_ha")
    rows = [{"month": str(ch["period"].iloc[i])[:7] if "period" in ch else i,
             **{c: round(float(ch[c].iloc[i]), 2) for c in cols}} for i in range(len(ch))]
    out = {"label": label, "box": [fp.BOX[0].start, fp.BOX[1].start],
           "fill": got.evidence["rule"].get("fill"), "warnings": list(got.warnings),
           "rows": rows, "contains_140.82": [r["extent_ci_low_ha"] <= 140.82
                                              <= r["extent_ci_high_ha"] for r in rows]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
