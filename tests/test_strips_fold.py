"""The strips walk's per-scene rows summed from its baseline pass (issue 22, seventh pass).

A mangrove site walked in strips (``walk="strips"``) over a source that reports its read
status by rows (``StacSource``) computes its per-scene rows' chunk partials in the baseline
pass, with that pass's reads, instead of reading every scene once more for them
(:func:`flows.site.strips._foldable`). The rows, the change table, the alerts and the maps
must be those of the month-by-month walk on the same chunks (whose per-scene rows are
computed whole, in one ``dask.compute``), bit for bit, and a scene whose read fails must be
failed as there. Real path: a static catalog of local COGs (``benchmarks/synthetic.py``), a
small tile read by chunks (``READ_WINDOW`` below the site, as a whole tile is read), so that
the strips are several.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import synthetic  # noqa: E402

from flows.site import site_tables  # noqa: E402
from flows.site import strips as strips_walk  # noqa: E402
from flows.sources import _reader  # noqa: E402
from flows.sources.stac import StacSource  # noqa: E402

SIZE, SCENES, CHUNKS = 258, 5, 64


@pytest.fixture
def tile(tmp_path_factory):
    root = tmp_path_factory.mktemp("fold")
    return StacSource(str(synthetic.write_tile(root, SIZE, SCENES, change=True))), root


def _tables(source, scenes, walk):
    site = synthetic.tile_site(SIZE)
    return site_tables(site, source, scenes, start=None, end=synthetic.scene_dates(SCENES)[1],
                       run_id="fold", products=True, walk=walk, chunks=CHUNKS)


def _broken(scenes, root: Path, k: int):
    """``scenes`` with scene ``k``'s red band an unreadable file (its read fails)."""
    broken = root / "broken.tif"
    broken.write_bytes(b"not a tiff")
    scene = scenes[k]
    assets = dict(scene.properties["assets"])
    assets["B04"] = ((str(broken), 0),)
    return [*scenes[:k], dataclasses.replace(scene, properties={**scene.properties,
                                                                  "assets": assets}),
            *scenes[k + 1:]]


def test_strips_rows_from_the_baseline_pass_are_the_stream_walks(tile, monkeypatch):
    """One scene's read failing (the fold's read status), the others' rows bit for bit."""
    source, root = tile
    broken = 3
    monkeypatch.setattr(_reader, "READ_WINDOW", CHUNKS)  # read by chunks: several strips
    site = synthetic.tile_site(SIZE)
    scenes = source.search(site, *synthetic.scene_dates(SCENES))
    scenes = _broken(scenes, root, broken)
    folds = []
    with_partials = strips_walk._with_partials
    monkeypatch.setattr(strips_walk, "_with_partials",  # counts the calls, runs the real one
                        lambda *a: folds.append(1) or with_partials(*a))
    strips = _tables(source, scenes, "strips")
    assert strips.walk == "strips" and folds == [1]
    stream = _tables(source, scenes, "stream")
    assert strips.failed_scenes == stream.failed_scenes
    assert list(strips.failed_scenes) == [scenes[broken].scene_id]
    assert len(strips.observations) == SCENES - 1
    assert strips.observations.equals(stream.observations)
    assert strips.change.equals(stream.change)
    assert strips.alerts.rows.equals(stream.alerts.rows)
    for product in ("class", "change"):
        np.testing.assert_array_equal(strips.maps[product].values, stream.maps[product].values)
