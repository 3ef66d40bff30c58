"""How many pixels the fill touches on tests/test_memory.py's walk tile (1026², 12 and 24
scenes a month apart, 3-month baseline), and what counting and filling cost (wall time)."""
import json
import sys
import tempfile
import time

sys.path[:0] = [sys.argv[1], sys.argv[1] + "/benchmarks"]
import synthetic  # noqa: E402

from flows.sources.stac import StacSource  # noqa: E402
from indices.bap import baseline_fill  # noqa: E402
from indices.composite import composite  # noqa: E402

root = tempfile.mkdtemp()
for k in (12, 24):
    source = StacSource(str(synthetic.write_tile(root, 1026, k)))
    site = synthetic.tile_site(1026)
    scenes = source.search(site, *synthetic.scene_dates(k))
    cube = source.load(site, scenes, chunks=1024)
    bl = (site.baseline_start, site.baseline_end)
    base = composite(cube, *bl)
    t = time.perf_counter()
    fill = baseline_fill(base, cube, bl)
    months = {int(o): int((fill.offset == o).sum()) for o in sorted(set(fill.offset.tolist()))}
    print(json.dumps({"scenes": k, "unseen": fill.unseen, "filled": fill.filled,
                      "by_month": months, "seconds_lazy": round(time.perf_counter() - t, 1)}))
