"""The scene cube's ``fetch_status`` and ``fetch_status_rows`` (:mod:`flows.sources._reader`)
have two graph forms, chosen when the cube is built (:func:`flows.runtime.scheduler.computes_here`):
where dask computes in this process each scene's status task takes its read tasks' results;
elsewhere (a cluster, the processes scheduler) it takes one small task per read that picks
its code. Both must give the same values, dtype and chunks. Real COGs on disk, no network;
the cluster form is computed synchronously here (its graph, not the scheduler, is tested)."""

from __future__ import annotations

import datetime as dt

import dask
import dask.local
import dask.multiprocessing
import dask.threaded
import numpy as np
import pytest
import shapely
from stac_fixtures import write_cog

from aoi import Site, site_grid
from flows.runtime.scheduler import computes_here
from flows.sources import FETCH_BROKEN, FETCH_OK
from flows.sources._checks import FETCH_RANGE
from flows.sources._reader import (
    CUBE_BANDS,
    Granule,
    _band_arrays,
    _spans,
    load_cube,
    solar_day_scenes,
)

CHUNK = 32
BAD_ROWS = 20  # the last rows of scene 2's SCL hold class 12: only the reads over them fail


@pytest.fixture(scope="module")
def cube_input(tmp_path_factory):
    """A ~110 px site and three scenes of COGs: read, one band not a TIFF, SCL out of range in
    its last rows."""
    root = tmp_path_factory.mktemp("status")
    site = Site("synthetic", "synthetic", "mangrove", shapely.box(39.98, -3.35, 39.99, -3.34),
                dt.date(2023, 1, 1), dt.date(2023, 3, 31))
    grid = site_grid(site)
    h, w = grid.shape
    rng = np.random.default_rng(3)
    granules = []
    for k in range(3):
        hrefs = {}
        for band in CUBE_BANDS:
            if band == "SCL":
                pixels = np.full((h, w), 4, np.uint8)
                if k == 2:
                    pixels[-BAD_ROWS:] = 12
            else:
                pixels = rng.integers(1100, 4000, (h, w), dtype=np.uint16)
            path = write_cog(root / f"s{k}_{band}.tif", pixels, grid.left, grid.top, 10.0,
                             grid.epsg)
            hrefs[band] = str(path)
        if k == 1:
            (root / "broken.tif").write_bytes(b"not a tiff")
            hrefs["B08"] = str(root / "broken.tif")
        when = dt.datetime(2023, 1, 5 + 10 * k, 7, 30, tzinfo=dt.UTC)
        granules.append(Granule(f"T37MCB-{k}", when, hrefs, -1000))
    return site, grid, solar_day_scenes(site, granules, "test")


def _status(site, grid, scenes, read_windows: str):
    """The cube's two status arrays: as ``load_cube`` builds them (a small site: one read
    window, the whole site), or over read windows of one chunk (``load_cube``'s form for a
    site above ``READ_WINDOW``)."""
    if read_windows == "whole":
        cube = load_cube(site, scenes, CHUNK, source="test")
        return cube["fetch_status"].data, cube["fetch_status_rows"].data
    ys, xs = _spans(grid.height, CHUNK), _spans(grid.width, CHUNK)
    return _band_arrays(scenes, grid, ys, xs, CHUNK)[1]


@pytest.mark.parametrize("read_windows", ["whole", "chunks"])
def test_the_cluster_form_of_the_fetch_status_gives_the_local_form(cube_input, read_windows):
    site, grid, scenes = cube_input
    assert computes_here()
    local = _status(site, grid, scenes, read_windows)
    # the processes scheduler, as a function: by its name dask would import distributed
    with dask.config.set(scheduler=dask.multiprocessing.get):
        assert not computes_here()
        cluster = _status(site, grid, scenes, read_windows)
    # two forms indeed: other keys, and the cluster form's status tasks take picked codes
    for lo, cl in zip(local, cluster, strict=True):
        assert lo.name != cl.name
        assert not any(n.startswith("fetch-codes-") for n in lo.dask.layers)
        picks = [n for n in cl.dask.layers if n.startswith("fetch-codes-")]
        assert picks and picks[0] in cl.dask.dependencies[cl.name]
        assert lo.dtype == cl.dtype == np.int16 and lo.chunks == cl.chunks
    got_local = dask.compute(*local, scheduler="sync")
    got_cluster = dask.compute(*cluster, scheduler="sync")
    for lo, cl in zip(got_local, got_cluster, strict=True):
        assert lo.dtype == cl.dtype == np.int16
        np.testing.assert_array_equal(cl, lo)
    status, rows = got_cluster
    assert status.tolist() == [FETCH_OK, FETCH_BROKEN, FETCH_RANGE]
    assert rows.shape == (3, grid.height)
    assert (rows[0] == FETCH_OK).all() and (rows[1] == FETCH_BROKEN).all()
    bad = np.zeros(grid.height, bool)  # the rows of scene 2 read with the out-of-range SCL
    if read_windows == "whole":
        bad[:] = True
    else:
        first = (grid.height - BAD_ROWS) // CHUNK * CHUNK
        bad[first:] = True
        assert not bad.all()
    np.testing.assert_array_equal(rows[2], np.where(bad, FETCH_RANGE, FETCH_OK))
    assert (rows.max(axis=1) == status).all()


def test_where_dask_computes_for_the_reader_and_for_the_walks():
    """:func:`computes_here` for the reader (no collections: dask arrays to be built) and for
    the walks (their arrays) alike; with no scheduler set, nothing to compute has none (the
    walks' answer before the two tests became one). Without ``distributed`` imported: tests/test_startup.py."""
    import dask.array as da

    x = [da.ones(4, chunks=2)]
    for scheduler, here in ((dask.threaded.get, True), (dask.local.get_sync, True),
                            (dask.multiprocessing.get, False)):
        with dask.config.set(scheduler=scheduler):
            assert computes_here() is computes_here(x) is here, scheduler
    assert computes_here() is computes_here(x) is True  # none set: a dask array's default
    assert computes_here([]) is False
