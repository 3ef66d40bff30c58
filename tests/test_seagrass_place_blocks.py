"""The place map built in row strips (:func:`indices.seagrass_place.place_map`, sg40) equals
sg38's eager whole-site build (``tests/place_oracle38.py``, kept verbatim as the oracle) bit
for bit: values, layers, coordinates and attrs, on independent scenes (``tests/scenarios``,
seeds not used to build it) of clear and turbid water, at strip sizes down to one block (the
last strip and the last block partial: the grid is not a multiple of ``place_block``), and
lazy, from a composite whose chunks cut through the blocks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from place_oracle38 import place_map as oracle

from indices.evidence import site_evidence, site_place
from indices.habitat import RULES
from indices.seagrass_place import place_map
from indices.water import PARAMETERS, water_parameters

RULE = RULES["seagrass"]
SCENES = ((1, 200), (4, 150), (7, 150))
"""(seed, size): seed 1 at 200 px is clear water (``tests/test_seagrass_place.py``)."""


def _base(seed, size, out_dir):
    from scenarios import make_scenario

    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite

    sc = make_scenario(seed, kind="seagrass", size=size, n_months=8, out_dir=out_dir)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    return baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)
                              ).compute()


@pytest.fixture(scope="module", params=SCENES, ids=[f"seed{s}" for s, _ in SCENES])
def scene(request, tmp_path_factory):
    seed, size = request.param
    base = _base(seed, size, tmp_path_factory.mktemp(f"seagrass{seed}"))
    return seed, base, water_parameters(base, RULE).compute()


def _same(new, ref):
    assert new.dims == ref.dims and new.dtype == ref.dtype and new.shape == ref.shape
    assert new.attrs == ref.attrs
    for k in ref.coords:
        np.testing.assert_array_equal(new[k].values, ref[k].values)
    assert new.values.tobytes() == ref.values.tobytes()  # NaNs and all, bit for bit


def _turbid(water):
    """The scene's water with a turbid column (``k_ratio`` 0.95): q < 1, nothing placed."""
    values = water.values.copy()
    values[list(PARAMETERS).index("k_ratio")] = 0.95
    return water.copy(data=values)


def test_the_strips_build_the_eager_map_bit_for_bit(scene):
    seed, base, water = scene
    ref = oracle(base, RULE, water)
    if seed == 1:  # clear water: a map, not only empty ones
        assert ref.attrs["q"] >= 1 and np.isfinite(ref.values).sum() > 1000
    nx = base.sizes["x"]
    assert base.sizes["y"] % RULE.place_block and nx % RULE.place_block  # partial blocks
    for strip in (2**20, 7 * RULE.place_block * nx, 3 * RULE.place_block * nx - 1, 1):
        _same(place_map(base, RULE, water, strip_pixels=strip), ref)
    turbid = _turbid(water)
    empty = oracle(base, RULE, turbid)
    assert empty.attrs["q"] < 1 and not np.isfinite(empty.values).any()
    _same(place_map(base, RULE, turbid, strip_pixels=RULE.place_block * nx), empty)


def test_lazy_from_chunks_that_cut_blocks(scene):
    """A lazy composite read strip by strip, and the one-task lazy map
    (:func:`indices.evidence.site_place`), from chunks that cut through the blocks and the
    strips."""
    _, base, water = scene
    ref = oracle(base, RULE, water)
    lazy = base.chunk({"y": 64, "x": 37})
    _same(place_map(lazy, RULE, water), ref)
    _same(place_map(lazy, RULE, water, strip_pixels=3 * RULE.place_block * base.sizes["x"]),
          ref)
    task = site_place(lazy, RULE, water).compute()
    task.attrs = ref.attrs  # one delayed task: its attrs are not known until computed (sg38)
    _same(task, ref)


def test_the_flow_reads_the_composite_twice_not_whole(scene):
    """flows.site.evidence: a site larger than a block has its water, then its map from the
    lazy composite strip by strip: the same evidence as in one numpy pass."""
    from flows.site.evidence import _place_and_water

    _, base, water = scene
    evidence = site_evidence(base.chunk({"y": 50, "x": 64}), "seagrass")
    got_water, place = _place_and_water(base.chunk({"y": 50, "x": 64}), evidence, lean=True)
    np.testing.assert_array_equal(np.asarray(got_water), np.asarray(water))
    _same(place, oracle(base, RULE, water))


def test_nothing_is_built_when_q_is_below_one(scene):
    _, base, water = scene
    empty = place_map(base, RULE, _turbid(water))
    assert empty.attrs["q"] < 1
    assert empty.values.base is not None and empty.values.strides == (0, 0, 0)  # no bytes


def test_other_place_sizes(scene):
    """Other block and window sizes than the rule's (the halo follows them)."""
    _, base, water = scene
    for block, window in ((7, 1), (13, 3)):
        rule = dataclasses.replace(RULE, place_block=block, place_window=window)
        _same(place_map(base, rule, water, strip_pixels=2 * block * base.sizes["x"]),
              oracle(base, rule, water))
