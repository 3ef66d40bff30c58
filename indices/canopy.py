"""Canopy density and restoration trajectories.

Canopy cover is unmixed between two endmembers taken from the site's own baseline composite:
closed canopy (median red and NIR of confidently classified habitat) and bare background
(median red and NIR of unvegetated, dry pixels: NDVI < 0.25, NDWI < 0). For a linear mixture
``f * canopy + (1 - f) * background`` NDVI is not linear in ``f`` (a 50 % canopy over mud reads
NDVI ~0.6, i.e. "68 %" by scaled NDVI), but it can be solved for ``f`` exactly:

    f = (Db - v Sb) / (v (Sc - Sb) - (Dc - Db)),   D = NIR - red, S = NIR + red, v = NDVI

and, being a ratio, it ignores brightness texture that would bias an unmixing of NIR alone.
The classes 20-50, 50-80 and 80-100 % are counted on that cover.

They are counted over the mangrove *and* the restoration zone: pixels that were not mangrove in
the baseline and have gained at least ``MIN_GAIN`` cover since (a replanting on the mudflat),
leaving out stable terrestrial vegetation, which unmixes as closed canopy too.

The trajectory compares the mean NDVI of the restoration zone with the mean NDVI of intact
habitat (habitat in the baseline and now) of a reference site, month by month.
"""

from __future__ import annotations

import numba
import numpy as np
import xarray as xr

from indices.change import MonthState, monthly_states, strong_look
from indices.patches import MMU_HA, mmu_pixels

__all__ = ["CANOPY_CLASSES", "CANOPY_METRICS", "CANOPY_SUMS", "MIN_GAIN", "CanopyWalk",
           "canopy_metrics", "canopy_row", "canopy_step", "cover_ndvi", "endmembers",
           "unmix_cover"]

CANOPY_CLASSES = {"canopy_20_50_ha": (0.2, 0.5), "canopy_50_80_ha": (0.5, 0.8),
                  "canopy_80_100_ha": (0.8, np.inf)}
MIN_GAIN = 0.15
"""Cover gained since the baseline that puts a non-habitat pixel in the restoration zone."""
MIN_VIEWS = 3
"""Clear views a month needs before its cover replaces the last known cover of a pixel."""
MIN_ZONE_HA = 0.5
"""Smallest restoration zone whose NDVI is reported (below it, noise would pass for growth)."""
DEFAULT_ENDMEMBERS = ((0.075, 0.09), (0.028, 0.32))
"""(red, NIR) of bare intertidal mud and of closed mangrove canopy, used when a site lacks
enough pixels of either in its baseline."""

CANOPY_METRICS = (*CANOPY_CLASSES, "habitat_ndvi_mean", "restored_ndvi_mean")


MIN_ENDMEMBER_PIXELS = 20
"""Baseline pixels an endmember's median needs; fewer, and :data:`DEFAULT_ENDMEMBERS` is used."""


def endmember_masks(red_base, nir_base, ndvi_base, ndwi_base, base_score,
                    site) -> tuple[np.ndarray, np.ndarray]:
    """``(bare, canopy)``: the baseline pixels whose median red and NIR are the endmembers
    (of a map or of rows of it)."""
    ok = site & np.isfinite(nir_base) & np.isfinite(red_base)
    return ok & (ndvi_base < 0.25) & (ndwi_base < 0), ok & (base_score >= 1)


def endmembers(median, counts: tuple[int, int]) -> tuple[tuple[float, float], ...]:
    """``(bare, canopy)`` endmembers: ``median(which, band)`` gives the median red (band 0) or
    NIR (band 1) of the bare (``which`` 0) or canopy (1) pixels, which number ``counts``."""
    return tuple((float(median(i, 0)), float(median(i, 1)))
                 if counts[i] >= MIN_ENDMEMBER_PIXELS else DEFAULT_ENDMEMBERS[i]
                 for i in (0, 1))


def _endmembers(red_base, nir_base, ndvi_base, ndwi_base, base_score, site):
    masks = endmember_masks(red_base, nir_base, ndvi_base, ndwi_base, base_score, site)
    bands = (red_base, nir_base)
    return endmembers(lambda i, b: np.median(bands[b][masks[i]]),
                      (int(masks[0].sum()), int(masks[1].sum())))


def cover_ndvi(cover: float, bare: tuple[float, float], canopy: tuple[float, float]) -> float:
    """NDVI of a pixel ``cover`` canopy and the rest bare, mixing linearly in red and NIR
    (the inverse of :func:`indices.canopy.unmix_cover`)."""
    (rb, nb), (rc, nc) = bare, canopy
    red, nir = cover * rc + (1 - cover) * rb, cover * nc + (1 - cover) * nb
    return float((nir - red) / (nir + red))


def unmix_cover(ndvi: np.ndarray, bare: tuple[float, float],
                canopy: tuple[float, float]) -> np.ndarray:
    """Canopy fraction (>= 0, NaN where NDVI is) of a two-endmember mixture with this NDVI."""
    (rb, nb), (rc, nc) = bare, canopy
    db, sb, dc, sc = nb - rb, nb + rb, nc - rc, nc + rc
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (db - ndvi * sb) / (ndvi * (sc - sb) - (dc - db))
    return np.clip(f, 0, None)


class CanopyWalk:
    """The canopy metrics month by month, fed the :func:`indices.change.monthly_states` of the
    change table: built from the baseline composite's maps, then :meth:`step` once a month
    with that month's state, NDVI and clear-view count. Holds two float maps (last cover and
    last NDVI), so a walk over any number of months needs the same memory."""

    def __init__(self, base_score, red_base, nir_base, ndvi_base, ndwi_base, site, *,
                 pixel_area_ha: float, habitat: str):
        self.site = site.astype(bool)
        self.pixel_area_ha, self.habitat = pixel_area_ha, habitat
        self.bare, self.canopy = _endmembers(red_base, nir_base, ndvi_base, ndwi_base, base_score,
                                             self.site)
        self.cover_base = unmix_cover(ndvi_base, self.bare, self.canopy)
        self.cover = np.where(np.isfinite(self.cover_base), self.cover_base, 0.0)
        self.last_ndvi = np.where(np.isfinite(ndvi_base), ndvi_base, np.nan)

    def step(self, m: MonthState, ndvi: np.ndarray, n_clear: np.ndarray) -> np.ndarray:
        """This month's :data:`CANOPY_METRICS`."""
        sums = canopy_step(self.cover, self.last_ndvi, self.cover_base, m, ndvi, n_clear,
                           self.site, bare=self.bare, canopy=self.canopy, habitat=self.habitat)
        return canopy_row(sums, pixel_area_ha=self.pixel_area_ha, habitat=self.habitat)


CANOPY_SUMS = 8
"""Length of :func:`canopy_step`'s sums: three class counts, then the sum and the number of
the NDVI of intact habitat, of the restoration zone, and the zone's pixel count."""


def canopy_step(cover: np.ndarray, last_ndvi: np.ndarray, cover_base: np.ndarray,
                m: MonthState, ndvi: np.ndarray, n_clear: np.ndarray, site: np.ndarray, *,
                bare: tuple[float, float], canopy: tuple[float, float],
                habitat: str) -> np.ndarray:
    """One month of :class:`CanopyWalk` on a map or on rows of it: updates ``cover`` and
    ``last_ndvi`` in place and returns the sums behind :func:`canopy_row` (float64, length
    :data:`CANOPY_SUMS`), which add up over row strips (:mod:`indices.strips`).

    The per-pixel rules and counts are one pass (:func:`_step_kernel`, float32 arithmetic as
    numpy's on these float32 maps: the same values); the NDVI sums stay numpy's
    (:func:`_sum_count`), over the same pixels in the same order."""
    shape = np.shape(cover)
    maps = (last_ndvi, cover_base, m.seen, m.habitat, m.baseline, ndvi, n_clear, site)
    if any(np.shape(a) != shape for a in maps) or any(
            np.asarray(a).dtype != np.float32 for a in (cover, last_ndvi, cover_base, ndvi)):
        return _canopy_step_arrays(cover, last_ndvi, cover_base, m, ndvi, n_clear, site,
                                   bare=bare, canopy=canopy, habitat=habitat)
    sums = np.zeros(CANOPY_SUMS)
    (rb, nb), (rc, nc) = bare, canopy
    db, sb, dc, sc = nb - rb, nb + rb, nc - rc, nc + rc
    # numpy's float32 loops take Python floats as float32: the same constants here
    terms = np.array([db, sb, sc - sb, dc - db], np.float32)
    flat = [np.ascontiguousarray(a).reshape(-1) for a in (cover, last_ndvi)]
    # the last NDVI of intact habitat and of the restoration zone, in map order: what
    # ``last_ndvi[mask]`` gives, for numpy's own sums of them
    intact, restoring = np.empty(flat[1].size, np.float32), np.empty(flat[1].size, np.float32)
    counts = _step_kernel(*flat, *(np.ascontiguousarray(a).reshape(-1) for a in (
        cover_base, ndvi, n_clear)),
        *(np.ascontiguousarray(a, dtype=bool).reshape(-1).view(np.uint8)
          for a in (m.seen, m.habitat, m.baseline, site)),
        terms, np.float32(MIN_GAIN), np.array([v for ab in CANOPY_CLASSES.values()
                                               for v in ab], np.float32),
        MIN_VIEWS, habitat == "mangrove", intact, restoring)
    for array, updated in zip((cover, last_ndvi), flat, strict=True):
        if not np.may_share_memory(array, updated):  # a view not contiguous: copy back
            array[...] = updated.reshape(shape)
    sums[3:5] = _sum_count(intact[:counts[4]])
    if habitat == "mangrove":
        sums[:3] = counts[:3]
        sums[5:7] = _sum_count(restoring[:counts[3]])
        sums[7] = counts[3]
    return sums


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _step_kernel(cover, last_ndvi, cover_base, ndvi, n_clear, seen, hab, base, site, terms,
                 min_gain, classes, min_views, mangrove, intact, restoring
                 ):  # pragma: no cover (numba)
    """:func:`_canopy_step_arrays` per pixel (flat maps; 0/1 uint8 masks): ``cover`` and
    ``last_ndvi`` updated; the last NDVI of intact habitat (habitat now and in the baseline)
    and of the restoration zone written in order to the starts of ``intact`` and
    ``restoring``; returns the three class counts, the restoration zone's pixels and the
    intact habitat's."""
    a, b, c, d = terms[0], terms[1], terms[2], terms[3]
    k0 = k1 = k2 = k3 = k4 = 0
    for k in range(cover.size):
        v = ndvi[k]
        look = seen[k] and not np.isnan(v) and not np.isinf(v)
        if look:
            if n_clear[k] >= min_views:  # unmix_cover: (Db - v Sb) / (v (Sc - Sb) - (Dc - Db))
                f = np.float32(np.float32(a - np.float32(v * b))
                               / np.float32(np.float32(v * c) - d))
                if not f > 0 and not np.isnan(f):
                    f = np.float32(0.0)  # np.clip(f, 0, None)
                cover[k] = f
            last_ndvi[k] = v
        h, bb = hab[k], base[k]
        intact[k4] = last_ndvi[k]  # kept where counted: written always, no branch to miss
        k4 += h & bb
        if mangrove:
            g = np.float32(cover[k] - cover_base[k])
            gained = 1 if (not np.isnan(g)) and g >= min_gain else 0  # nan_to_num: 0 < gain
            r = site[k] & (bb ^ 1) & (gained | h)
            restoring[k3] = last_ndvi[k]
            x = cover[k]
            if h | r:
                k0 += 1 if classes[0] <= x < classes[1] else 0
                k1 += 1 if classes[2] <= x < classes[3] else 0
                k2 += 1 if classes[4] <= x < classes[5] else 0
            k3 += r
    return np.array([k0, k1, k2, k3, k4], np.int64)


def _canopy_step_arrays(cover: np.ndarray, last_ndvi: np.ndarray, cover_base: np.ndarray,
                        m: MonthState, ndvi: np.ndarray, n_clear: np.ndarray, site: np.ndarray,
                        *, bare: tuple[float, float], canopy: tuple[float, float],
                        habitat: str) -> np.ndarray:
    """:func:`canopy_step` as array expressions (maps that are not float32, and the tests'
    reference)."""
    sums = np.zeros(CANOPY_SUMS)
    seen = m.seen & np.isfinite(ndvi)
    # a clear view can be hazy at a cloud's unflagged edge and a median of two averages it in:
    # cover moves on three or more views
    steady = seen & (n_clear >= MIN_VIEWS)
    cover[...] = np.where(steady, unmix_cover(ndvi, bare, canopy), cover)
    last_ndvi[...] = np.where(seen, ndvi, last_ndvi)
    sums[3:5] = _sum_count(last_ndvi[m.habitat & m.baseline])
    if habitat == "mangrove":
        gained = np.nan_to_num(cover - cover_base, nan=0.0) >= MIN_GAIN
        restoring = site & ~m.baseline & (gained | m.habitat)
        counted = m.habitat | restoring
        for i, (a, b) in enumerate(CANOPY_CLASSES.values()):
            sums[i] = (counted & (cover >= a) & (cover < b)).sum()
        sums[5:7] = _sum_count(last_ndvi[restoring])
        sums[7] = restoring.sum()
    return sums


def _sum_count(values: np.ndarray) -> tuple[float, int]:
    """Sum (float64) and number of the values that are not NaN."""
    ok = ~np.isnan(values)
    return float(values.sum(where=ok, dtype=np.float64)), int(ok.sum())


def canopy_row(sums: np.ndarray, *, pixel_area_ha: float, habitat: str) -> np.ndarray:
    """:data:`CANOPY_METRICS` from :func:`canopy_step`'s sums (of a map or of its strips)."""
    out = np.full(len(CANOPY_METRICS), np.nan)
    if sums[4]:
        out[3] = sums[3] / sums[4]
    if habitat == "mangrove":
        out[:3] = sums[:3] * pixel_area_ha
        if sums[7] * pixel_area_ha >= MIN_ZONE_HA and sums[6]:
            out[4] = sums[5] / sums[6]
    return out


def _canopy_kernel(scores, ndvi, n_clear, base_score, red_base, nir_base, ndvi_base, ndwi_base, site, *,
                   pixel_area_ha: float, mmu: int, habitat: str):
    walk = CanopyWalk(base_score, red_base, nir_base, ndvi_base, ndwi_base, site,
                      pixel_area_ha=pixel_area_ha, habitat=habitat)
    out = np.full((scores.shape[0], len(CANOPY_METRICS)), np.nan)
    for p, m in enumerate(monthly_states(scores, base_score, walk.site, mmu_pixels=mmu,
                                         strong=strong_look(habitat))):
        out[p] = walk.step(m, ndvi[p], n_clear[p])
    return out


def canopy_metrics(scores: xr.DataArray, ndvi: xr.DataArray, n_clear: xr.DataArray,
                   base_score: xr.DataArray, base_red: xr.DataArray, base_nir: xr.DataArray,
                   base_ndvi: xr.DataArray, base_ndwi: xr.DataArray, site_mask: xr.DataArray, *,
                   habitat: str, pixel_area_ha: float, mmu_ha: float = MMU_HA) -> xr.Dataset:
    """Per month: canopy class areas (ha, NaN for seagrass), mean NDVI of intact habitat and of
    the restoration zone. ``ndvi`` and ``n_clear`` are the monthly composites' ``(period, y,
    x)``, ``base_*`` the baseline composite's red, NIR, NDVI and NDWI; lazy when the inputs
    are."""
    period_core, core = ["period", "y", "x"], ["y", "x"]
    inputs = [scores, ndvi, n_clear, base_score, base_red, base_nir, base_ndvi, base_ndwi,
              site_mask]
    inputs = [a.chunk(-1) if a.chunks else a for a in inputs]  # whole maps per month walk
    table = xr.apply_ufunc(
        _canopy_kernel, *inputs,
        input_core_dims=[period_core] * 3 + [core] * 6,
        output_core_dims=[["period", "metric"]],
        kwargs={"pixel_area_ha": pixel_area_ha, "mmu": mmu_pixels(mmu_ha, pixel_area_ha),
                "habitat": habitat},
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"metric": len(CANOPY_METRICS)}},
    )
    return table.assign_coords(metric=list(CANOPY_METRICS)).to_dataset(dim="metric")
