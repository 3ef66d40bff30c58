"""The reader's per-thread handles (:mod:`flows.sources._blocks`): a raster read once a pass
(a site read whole) is closed after its read; rasters read in several windows stay open for
the next window. The pixels are the same either way."""

from __future__ import annotations

import threading

import numpy as np
import rasterio
from rasterio.transform import from_origin

from aoi.grid import SiteGrid
from flows.sources import _blocks, _reader


def _raster(path, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    print("seed", seed)
    values = rng.integers(1, 10000, (64, 64), dtype=np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint16",
                       crs="EPSG:32633", transform=from_origin(500000, 4000000, 10, 10),
                       tiled=True, blockxsize=32, blockysize=32) as dst:
        dst.write(values, 1)
    return values


def _open_here() -> list:
    return [key for key in _blocks._handles().open]


def test_a_raster_read_once_is_closed_after_its_read(tmp_path):
    grid = SiteGrid(32633, 500000, 4000000, 64, 64)
    path = str(tmp_path / "B04.tif")
    values = _raster(path, 7)
    out: dict = {}

    def run():  # a thread of its own: its handles start empty
        kept = _reader.read_block(((path, 0),), grid, "B04", (0, 0, 64, 64), keep=True)
        out["kept"] = (kept, _open_here())
        for key in list(_blocks._handles().open):
            _blocks._handles().open.pop(key).close()
        once = _reader.read_block(((path, 0),), grid, "B04", (0, 0, 64, 64), keep=False)
        out["once"] = (once, _open_here())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    (kept, open_kept), (once, open_once) = out["kept"], out["once"]
    assert np.array_equal(kept[0], values) and np.array_equal(once[0], values)
    assert open_kept == [("ds", path)] and open_once == []


def test_the_cube_keeps_handles_only_when_a_raster_is_read_in_several_windows():
    """``load_cube``'s read tasks say ``keep`` from the number of read windows of the site."""

    grid = SiteGrid(32633, 500000, 4000000, 300, 200)
    scene = type("S", (), {"properties": {"assets": {b: [("x.tif", 0)] for b in
                                                      _reader.CUBE_BANDS}}})()
    for step, read_step, keep in ((100, 300, False), (100, 100, True)):
        ys, xs = _reader._spans(grid.height, step), _reader._spans(grid.width, step)
        bands, _ = _reader._band_arrays([scene], grid, ys, xs, read_step)
        graph = dict(bands["B04"].dask)
        reads = [task for key, task in graph.items() if str(key[0]).startswith("read-")]
        assert reads and all(_task_keep(t) is keep for t in reads), (step, read_step)


def _task_keep(task):
    args = getattr(task, "args", None)
    if args is None:  # a plain tuple task
        return task[-1]
    last = args[-1]
    return getattr(last, "value", last)
