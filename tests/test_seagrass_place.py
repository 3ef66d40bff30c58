"""Rule v6's place map (:mod:`indices.seagrass_place`): blue judges past the green gate where
the site's water lets it, on an independent scene (``tests/scenarios``, seed 1: clear water,
the map supports some thousand pixels), and not in a turbid twin of its water."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from indices.evidence import site_evidence, site_place
from indices.habitat import RULES
from indices.seagrass_place import place_map
from indices.seagrass_rule import seagrass_offset, seagrass_score

RULE = RULES["seagrass"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from scenarios import make_scenario

    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite

    sc = make_scenario(1, kind="seagrass", size=200, n_months=8,
                       out_dir=tmp_path_factory.mktemp("seagrass1"))
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    return baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)
                              ).compute()


@pytest.fixture(scope="module")
def evidence(base):
    return site_evidence(base, "seagrass")


def test_the_place_map_judges_only_where_the_gate_leaves_water(base, evidence):
    water, place = evidence.water, evidence.place
    assert evidence.rule_id == "seagrass-lyzenga1981-v6"
    sand = place.sel(layer="sand_blue").values
    supported = np.isfinite(sand)
    assert supported.sum() > 1000  # clear water: q > 1, blue sees past green
    assert place.attrs["q"] >= 1
    _, offset = seagrass_offset(base, RULE, water)
    assert not np.isfinite(offset.values[supported]).any()
    # the threshold bottom's blue: albedo_ratio_blue times sand's, plus the site's beta
    np.testing.assert_allclose(place.sel(layer="threshold_blue").values[supported],
                               RULE.albedo_ratio_blue * sand[supported] + place.attrs["beta"],
                               rtol=1e-6)
    before = seagrass_score(base, RULE, water).values
    after = seagrass_score(base, RULE, water, place).values
    judged = np.isfinite(before)
    np.testing.assert_array_equal(after[judged], before[judged])  # the gate's calls stand
    added = np.isfinite(after) & ~judged
    assert added.any() and not (added & ~supported).any()
    assert (after[added] > 0).any() and (after[added] < 0).any()  # meadow and sand both
    # the baseline: every supported pixel its bottom shows; a month (place_months): only
    # where its blue is 3 of its sigmas off the threshold's (the gate's blue test)
    from indices.seagrass_rule import bottom_signals, seagrass_constants

    b = bottom_signals(base, RULE, water)[0].values
    assert (added == (supported & np.isfinite(b) & ~judged)).all()
    c = seagrass_constants(water, RULE, base["n_clear"].clip(min=1).astype(np.float32))
    noise = np.broadcast_to(np.asarray(c["noise_b"]), b.shape)
    far = abs(b - place.sel(layer="threshold_blue").values) >= RULE.detect_sigmas * noise
    months = dataclasses.replace(RULE, place_months=True)
    month = seagrass_score(base, months, water, place, month=True).values
    in_month = np.isfinite(month) & ~judged
    assert far[in_month].all() and (added & ~in_month).any()
    np.testing.assert_array_equal(month[in_month], after[in_month])


def test_a_turbid_twin_of_the_water_has_no_place(base, evidence):
    """Blue attenuated nearly as fast as green (``r`` near 1, Jerlov's coastal water): past
    green's limit blue tells nothing, ``q < 1``, and the map is empty."""
    water = evidence.water.copy()
    water.loc[{"parameter": "k_ratio"}] = 0.95
    place = place_map(base, RULE, water)
    assert place.attrs["q"] < 1
    assert not np.isfinite(place.values).any()
    np.testing.assert_array_equal(seagrass_score(base, RULE, water, place).values,
                                  seagrass_score(base, RULE, water).values)


def test_without_the_place_test_the_evidence_has_no_map(base):
    rule = dataclasses.replace(RULE, place_test=False)
    ev = site_evidence(base, "seagrass", rule)
    assert ev.place is None and ev.arrays == (ev.water,)
    assert ev.rule_id.startswith("seagrass-custom-")


def test_the_lazy_map_is_the_eager_one(base, evidence):
    import dask

    lazy = site_place(base.chunk({"y": 64, "x": 64}), RULE, evidence.water)
    assert isinstance(lazy.data, dask.array.Array)
    np.testing.assert_array_equal(lazy.compute().values, evidence.place.values)


def test_a_month_of_one_view_is_judged_on_its_own_noise(base, evidence):
    """With ``place_months`` the months read the baseline's map with their own blue noise: a
    month of one view (noisier than the baseline's median of several) is judged on fewer
    supported places. Without it (the default) a month judges none of them by blue."""
    rule = dataclasses.replace(RULE, place_months=True)
    one = base.assign(n_clear=xr.ones_like(base["n_clear"]))
    many = seagrass_score(base, rule, evidence.water, evidence.place, month=True).values
    single = seagrass_score(one, rule, evidence.water, evidence.place, month=True).values
    supported = np.isfinite(evidence.place.sel(layer="sand_blue").values)
    assert np.isfinite(single[supported]).sum() < np.isfinite(many[supported]).sum()
    default = seagrass_score(base, RULE, evidence.water, evidence.place, month=True).values
    np.testing.assert_array_equal(default, seagrass_score(base, RULE, evidence.water).values)


def test_a_glinty_month_does_not_turn_the_mapped_water_to_land(base, evidence):
    """Sun glint, flat over the bands (Hedley 2005), lifts green and NIR alike: over clear
    deep water (green a few thousandths) a glinty month's NDWI falls under
    ``water_ndwi_min``. Where the place map holds (the baseline's water) that is not land:
    the baseline's class is carried (with ``place_months``, the place term judges the pixel
    by its deglinted blue, or leaves it unjudged; sg39: the spurious month losses of seeds
    304-315 under v6b). Elsewhere the land test stands."""
    glint = 0.03
    month = base.assign(**{b: base[b] + glint for b in ("B02", "B03", "B04", "B08")})
    supported = np.isfinite(evidence.place.sel(layer="sand_blue").values)
    from indices.rules import CONTEXT_SCORE
    from indices.water import water_mask

    dry = ~water_mask(month, RULE).values & supported
    assert dry.sum() > 100  # the glint takes the deep water under the NDWI threshold
    score = seagrass_score(month, RULE, evidence.water, evidence.place, month=True).values
    assert np.isnan(score[dry]).all()  # not land: not judged, the baseline's class carried
    rule = dataclasses.replace(RULE, place_months=True)
    judged = seagrass_score(month, rule, evidence.water, evidence.place, month=True).values
    assert not (judged[dry] == -CONTEXT_SCORE).any() and np.isfinite(judged[dry]).any()
    without = seagrass_score(month, RULE, evidence.water).values
    assert (without[dry] == -CONTEXT_SCORE).all()  # no map: the month's land test as before
