"""The review of rule v16's case 2 (session 36, /work/wt/notes/r36/test_r36main.py): the demo
site selangor-kuala-selangor, its baseline clouded everywhere but a 3 x 3 box of tidal pixels
(rows 0-2, cols 172-174 of the grid, 9 of 69,120 px, off the polygon; with ``inside`` in
the label, the first 3 x 3 box of the clear baseline's intertidal zone inside the polygon), the months after clear; a run ending
2024-03-31, the memory walk. Prints the fill, the warnings and the rows' figures, and the
scene's truth is not used (the demo's stand, ~140 ha, is the clear run's baseline extent)."""
import datetime as dt
import json
import sys

import numpy as np

from aoi import load_sites, site_grid, site_mask
from flows.site import load_range, site_tables
from flows.sources.demo import DemoSource

SITE = {s.id: s for s in load_sites()}["selangor-kuala-selangor"]
BOX = (slice(0, 3), slice(172, 175))


class FewSeen(DemoSource):
    def load(self, site, scenes, *args, **kwargs):
        cube = super().load(site, scenes, *args, **kwargs)
        hide = (cube["time"] < np.datetime64("2024-01-01")).values
        scl = cube["SCL"].values.copy()
        keep = np.zeros(scl.shape[1:], bool)
        keep[BOX] = True
        scl[hide] = np.where(keep, scl[hide], 9)
        cube["SCL"] = cube["SCL"].copy(data=scl)
        return cube


def inside_box(mask):
    """The first 3 x 3 box (row-major) of the clear baseline's intertidal zone wholly inside
    the polygon: the variant where the window's own context reaches the site."""
    from indices.composite import composite
    from indices.context import intertidal_zone

    source = DemoSource(seed=3)
    scenes = source.search(SITE, *load_range(SITE, None, dt.date(2024, 3, 31)))
    base = composite(source.load(SITE, scenes, chunks=None), SITE.baseline_start,
                     SITE.baseline_end).compute()
    zone = intertidal_zone(base["n_wet"].transpose("y", "x").values,
                           base["n_clear"].transpose("y", "x").values, 2) & mask
    for y, x in zip(*np.nonzero(zone), strict=True):
        if zone[y:y + 3, x:x + 3].all():
            return (slice(int(y), int(y) + 3), slice(int(x), int(x) + 3))
    raise SystemExit("no 3 x 3 tidal box inside the polygon")


def main(label):
    global BOX
    end = dt.date(2024, 3, 31)
    mask = site_mask(SITE, site_grid(SITE))
    if "inside" in label:
        BOX = inside_box(mask)
    out = {"label": label, "box": [BOX[0].start, BOX[1].start]}
    out["box_inside_polygon"] = int(mask[BOX].sum())
    runs = (("few", FewSeen(seed=3)),) if "inside" in label else (
        ("clear", DemoSource(seed=3)), ("few", FewSeen(seed=3)))
    for name, source in runs:
        scenes = source.search(SITE, *load_range(SITE, None, end))
        got = site_tables(SITE, source, scenes, start=None, end=end, run_id="r", walk="memory")
        ch = got.change
        out[name] = {"fill": got.evidence["rule"].get("fill"), "warnings": list(got.warnings),
                     **{c: [round(float(ch[c].iloc[i]), 4) for i in (0, -1)] for c in (
                         "baseline_extent_ha", "baseline_observed_fraction",
                         "baseline_filled_fraction", "assessable_fraction", "extent_ha",
                         "extent_ci_low_ha", "extent_ci_high_ha")}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
