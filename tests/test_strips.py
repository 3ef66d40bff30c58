"""The month walk in row strips (``indices.strips``, what ``site_tables(walk="strips")`` runs
for a site too large for one month's maps in memory) gives the numbers and maps of the
whole-map walk (``indices.summary.walk_months``) whatever the strips: patch sizes joined
across strip edges, erosion and dilation across them, exact medians without the values.
Through the flow: tests/test_walk_stream.py; memory: tests/test_memory.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from indices.patches import fringe
from indices.strip_parts import Patches, order_statistics
from indices.strips import StripWalk, strips_of
from indices.summary import MONTHLY_COLUMNS, walk_months

EIGHT = np.ones((3, 3), bool)


def _cuts(rng, height: int) -> list[int]:
    """Random strip heights adding up to ``height`` (some of one row)."""
    cuts, left = [], height
    while left:
        cuts.append(int(min(left, rng.choice([1, 2, 3, 7, 19]))))
        left -= cuts[-1]
    return cuts


def _scipy_fringe(patches, small, above, below):
    """The fringe as scipy's morphology gives it: the whole map's rows around the strip."""
    rows = [r for r in (above, patches, below) if r is not None]
    ext = np.concatenate([np.atleast_2d(r) for r in rows])
    inner = slice(0 if above is None else 1, ext.shape[0] - (0 if below is None else 1))
    edges = patches & ~ndimage.binary_erosion(ext, structure=EIGHT)[inner]
    ring = ndimage.binary_dilation(ext, structure=EIGHT)[inner] & ~patches
    return edges | small, ring


@pytest.mark.parametrize("height", [1, 2, 3, 17])
@pytest.mark.parametrize("width", [1, 2, 3, 33])
def test_fringe_is_scipys_erosion_and_dilation(height, width):
    """Patch edges (8-connected erosion, outside the map no patch) and the ring (dilation) of
    the one-pass kernel are scipy's, at the map's edges and inside a strip's neighbours."""
    rng = np.random.default_rng(height * 100 + width)
    for density in (0.3, 0.7, 0.97):
        for above_below in range(4):
            patches = rng.random((height, width)) < density
            small = patches & (rng.random((height, width)) < 0.2)
            above = rng.random(width) < density if above_below & 1 else None
            below = rng.random(width) < density if above_below & 2 else None
            got = fringe(patches, small, above=above, below=below)
            want = _scipy_fringe(patches, small, above, below)
            for g, w in zip(got, want, strict=True):
                assert g.dtype == bool and g.shape == patches.shape
                np.testing.assert_array_equal(g, w)


def test_fringe_rejects_maps_of_other_shapes():
    """The kernel indexes without bounds checks: shapes are checked before it runs."""
    with pytest.raises(ValueError, match="rows of 4 pixels"):
        fringe(np.ones((2, 4), bool), np.zeros((2, 4), bool), above=np.ones(5, bool))
    with pytest.raises(ValueError, match="one shape"):
        fringe(np.ones((2, 4), bool), np.zeros((3, 4), bool))


@pytest.mark.parametrize("seed", range(6))
def test_patch_sizes_joined_across_strips_are_the_whole_maps(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((61, 47)) < [0.2, 0.45, 0.6][seed % 3]  # near percolation: long patches
    labels, _ = ndimage.label(mask, structure=EIGHT)
    want = np.bincount(labels.ravel())[labels] * mask
    patches, r0, spans = Patches(), 0, []
    for h in _cuts(rng, mask.shape[0]):
        spans.append(slice(r0, r0 + h))
        patches.add(mask[spans[-1]])
        r0 += h
    patches.finish()
    got = np.concatenate([patches.sizes(k, ndimage.label(mask[s], structure=EIGHT)[0])
                          for k, s in enumerate(spans)])
    np.testing.assert_array_equal(got, want)
    for k, s in enumerate(spans):
        np.testing.assert_array_equal(patches.first_row_sizes(k), want[s.start])


def test_a_patch_joined_only_through_a_diagonal_across_an_edge():
    mask = np.zeros((4, 6), bool)
    mask[0:2, 0] = True  # above the edge
    mask[2:4, 1] = True  # below, touching only diagonally
    patches = Patches()
    patches.add(mask[:2])
    patches.add(mask[2:])
    patches.finish()
    assert patches.sizes(0, ndimage.label(mask[:2], structure=EIGHT)[0])[0, 0] == 4


@pytest.mark.parametrize("values", [
    np.array([3.0, -1.5, 0.0, -0.0, 2.5, 2.5, 1e-30, -1e30, 7.0], np.float32),
    np.random.default_rng(1).normal(0.1, 0.05, 10001).astype(np.float32),
    np.random.default_rng(2).random(4000).astype(np.float32),
])
def test_order_statistics_are_exact_and_median_is_numpys(values):
    from indices.strip_parts import medians_of

    pieces = np.array_split(values, 7)
    ranks = [0, values.size // 2, values.size - 1]
    got = order_statistics(lambda: iter(pieces), ranks)
    want = np.sort(values)[ranks]
    assert np.array_equal(np.array(got, np.float32).view(np.uint32) & 0x7FFFFFFF,
                          want.view(np.uint32) & 0x7FFFFFFF)  # -0.0 and 0.0 are one value
    assert medians_of(lambda: ((p,) for p in pieces), sets=1) == (
        [values.size], [float(np.median(values))])


def test_medians_of_several_sets_share_two_passes():
    """The endmembers' four medians in the same two passes: each set's counts and medians are
    numpy's, an empty set gives none, and the pieces are read twice, not twice a set."""
    from indices.strip_parts import medians_of

    rng = np.random.default_rng(3)
    sets = [rng.normal(0.1, 0.05, 5001).astype(np.float32),
            rng.random(4000).astype(np.float32),
            np.array([], np.float32),
            np.full(10, 0.25, np.float32)]
    parts = [np.array_split(v, 5) for v in sets]
    passes = []

    def pieces():
        passes.append(1)
        return zip(*parts, strict=True)

    counts, medians = medians_of(pieces, sets=4)
    assert counts == [v.size for v in sets] and len(passes) == 2
    for v, m in zip(sets, medians, strict=True):
        assert m == float(np.median(v)) if v.size else np.isnan(m)


def _synthetic_months(rng, shape, n):
    """Scores with patches of change growing and shrinking, clouds, NDVI and clear views."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    base = np.where(((yy - 20) ** 2 + (xx - 25) ** 2) < 180, 2.0, -2.0) + rng.normal(0, 0.8, shape)
    months = []
    for p in range(n):
        blob = ((yy - 10 - 2 * p) ** 2 + (xx - 40) ** 2) < 25 + 8 * p
        cut = ((yy - 20) ** 2 + (xx - 18) ** 2) < 10 * p + 4
        score = base + np.where(blob, 4.0, 0.0) - np.where(cut, 4.5, 0.0)
        score = score + rng.normal(0, 0.9, shape)
        score[rng.random(shape) < 0.15] = np.nan  # clouds
        ndvi = np.clip(0.3 + 0.1 * score, -1, 1).astype(np.float32)
        months.append((score.astype(np.float32), score.astype(np.float32), ndvi,
                       rng.integers(0, 6, shape).astype(np.int16)))
    red = rng.uniform(0.02, 0.09, shape).astype(np.float32)
    nir = rng.uniform(0.08, 0.35, shape).astype(np.float32)
    base_ndvi = ((nir - red) / (nir + red)).astype(np.float32)
    base_ndwi = rng.uniform(-0.5, 0.2, shape).astype(np.float32)
    base_score = base.astype(np.float32)
    base_score[rng.random(shape) < 0.05] = np.nan
    return months, [base_score, red, nir, base_ndvi, base_ndwi]


@pytest.mark.parametrize("habitat, rows, ends", [("mangrove", 1, False), ("mangrove", 5, False),
                                                 ("seagrass", 9, False), ("seagrass", 6, True),
                                                 ("mangrove", 100, False), ("mangrove", 7, True),
                                                 ("mangrove", 8, 0.05)])
def test_the_strip_walk_gives_the_whole_walks_rows_and_maps(habitat, rows, ends, monkeypatch):
    import indices.strips

    # strips given taller than the walk's parts are walked in parts (here of 4 rows)
    monkeypatch.setattr(indices.strips, "STRIP_PIXELS", 4 * 64 + 3)
    rng = np.random.default_rng(rows)
    shape = (53, 64)
    months, base = _synthetic_months(rng, shape, 6)
    site = np.ones(shape, bool)
    site[:, :3] = False
    site[-4:, -10:] = False
    kw = dict(habitat=habitat, pixel_area_ha=0.01, mmu_ha=0.05, maps=True,
              plume_months=bool(ends))
    if ends:  # rule v12: the coast's water in the shore's ground (MonthlyInputs.base_ends)
        v11 = list(walk_months(iter(months), list(base), site, **kw))
        base.append((rng.random(shape) < 0.6).astype(np.uint8))
    if ends is not True and ends:  # a site's refitted green floor (its rule's ndvi_min)
        default = list(walk_months(iter(months), list(base), site, **kw))
        kw["green"] = ends
    whole = list(walk_months(iter(months), list(base), site, **kw))
    assert any(row[2] > 0 for row, _ in whole) and any(row[3] > 0 for row, _ in whole)
    if ends and habitat == "mangrove":  # views under the tide end close calls: it narrows
        assert any(w[0][6] < o[0][6] for w, o in zip(whole, v11, strict=True))
    if ends and habitat == "seagrass":  # no view is a look there: no close call ends
        for w, o in zip(whole, v11, strict=True):
            np.testing.assert_array_equal(w[0], o[0])
    if "green" in kw:  # fewer bare pixels below the floor: fewer close calls end
        assert any(w[0][6] > o[0][6] for w, o in zip(whole, default, strict=True))
    with StripWalk(lambda: strips_of(tuple(base), rows), site, **kw) as walk:
        for (want, (want_class, want_change)), month in zip(whole, months, strict=True):
            classes = np.full(shape, 77, np.uint8)
            change = classes.copy()

            def emit(r0, c, g, classes=classes, change=change):
                classes[r0:r0 + c.shape[0]], change[r0:r0 + g.shape[0]] = c, g

            got = walk.step(strips_of(month, rows), emit)
            assert got.shape == (len(MONTHLY_COLUMNS),)
            np.testing.assert_array_equal(got[:12], want[:12])  # hectares: the same pixels
            np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
            np.testing.assert_array_equal(classes, want_class)
            np.testing.assert_array_equal(change, want_change)


def test_strips_out_of_order_are_refused():
    rng = np.random.default_rng(0)
    months, base = _synthetic_months(rng, (20, 30), 1)
    site = np.ones((20, 30), bool)
    with StripWalk(lambda: strips_of(tuple(base), 5), site, habitat="mangrove",
                   pixel_area_ha=0.01) as walk:
        pieces = list(strips_of(months[0], 5))
        with pytest.raises(ValueError, match="strips must follow"):
            walk.step([pieces[1], pieces[0]])
        with pytest.raises(ValueError, match="cover 15 of 20 rows"):
            walk.step(pieces[:3])


@pytest.mark.parametrize("seed", range(4))
def test_alert_patches_from_flagged_pixels_are_the_labelled_maps(seed):
    """The alerts' patches are found among the flagged pixels only (what a site walked in
    strips keeps of the alerts' state), numbered and measured as labelling the whole map."""
    import pandas as pd
    import xarray as xr

    from indices.alerts import AlertRule, FlaggedPixels, alert_patches, flagged_patches

    rng = np.random.default_rng(seed)
    shape = (40, 57)
    score = np.where(rng.random(shape) < [0.3, 0.5, 0.55, 0.62][seed],
                     rng.integers(1, 6, shape), 0).astype(np.int16)
    days = np.datetime64("2024-01-01", "ns") + rng.integers(0, 300, shape) * np.timedelta64(
        1, "D")
    nat = np.datetime64("NaT", "ns")
    pixels = xr.Dataset({"score": (("y", "x"), score),
                         "first_seen": (("y", "x"), np.where(score > 0, days, nat)),
                         "last_seen": (("y", "x"), np.where(score > 0, days + 86400 * 10**9, nat)),
                         "confirmed_at": (("y", "x"), np.where(score >= 3, days, nat))})
    rule = AlertRule(mmu_ha=0.04)
    labels, table = alert_patches(pixels, pixel_area_ha=0.01, rule=rule)
    # the whole map, labelled
    want, n = ndimage.label(score >= 1, structure=EIGHT)
    sizes = np.bincount(want.ravel(), minlength=n + 1)
    keep = sizes >= 4
    keep[0] = False
    renumber = np.zeros(n + 1, np.int32)
    renumber[keep] = np.arange(1, keep.sum() + 1)
    np.testing.assert_array_equal(labels, renumber[want])
    assert len(table) == keep.sum() > 0
    np.testing.assert_array_equal(table["n_pixels"], sizes[keep])
    # in strips, gathered: the same table
    parts = [FlaggedPixels.of(pixels.isel(y=slice(r, r + 7)), shape=shape, row0=r)
             for r in range(0, shape[0], 7)]
    _, strips = flagged_patches(FlaggedPixels.concat(parts), pixel_area_ha=0.01, rule=rule)
    pd.testing.assert_frame_equal(strips, table)
