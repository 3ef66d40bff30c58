"""Monthly class and change maps: the pixels behind each row of the change table.

Both maps are built from :func:`indices.change.monthly_states`, the walk over the months that
:func:`indices.change.change_metrics` sums, so the maps and the table cannot disagree: the
pixels of class 1 add up to ``extent_ha``, those of change 2 and 3 to ``gain_ha`` and
``loss_ha`` (same gap-filling, same minimum mapping unit).

Codes (uint8; 255 is nodata in both):

* class: 0 not habitat, 1 habitat;
* change: 0 stable non-habitat, 1 stable habitat, 2 gain, 3 loss (cumulative since the baseline);
* 255: outside the site polygon, or never observed clear (neither in the baseline composite nor
  in any month up to this one): a class there would only be the gap-filling default.
"""

from __future__ import annotations

import numba
import numpy as np
import xarray as xr

from indices.change import MonthState, monthly_states, strong_look
from indices.patches import MMU_HA, mmu_pixels

__all__ = ["CHANGE_CODES", "CLASS_CODES", "MapsWalk", "NODATA", "labelled", "map_codes",
           "mode_halve", "monthly_maps"]

NODATA = 255
CLASS_CODES = {0: "not habitat", 1: "habitat", NODATA: "no data"}
CHANGE_CODES = {0: "stable non-habitat", 1: "stable habitat", 2: "gain", 3: "loss",
                NODATA: "no data"}


class MapsWalk:
    """The class and change maps month by month from :func:`indices.change.monthly_states`
    (:meth:`step` once a month); holds one boolean map (observed so far)."""

    def __init__(self, baseline: np.ndarray, site: np.ndarray):
        self.observed = ~np.isnan(baseline) & site.astype(bool)

    def step(self, m: MonthState) -> tuple[np.ndarray, np.ndarray]:
        """This month's ``(class, change)`` uint8 maps."""
        self.observed |= m.seen
        return map_codes(self.observed, m)


def map_codes(observed: np.ndarray, m: MonthState) -> tuple[np.ndarray, np.ndarray]:
    """A month's ``(class, change)`` uint8 maps (or rows of them) from its state and the
    pixels observed so far."""
    code = np.where(m.loss, 3, np.where(m.gain, 2, m.baseline.astype(np.uint8)))
    return (np.where(observed, m.habitat.astype(np.uint8), NODATA).astype(np.uint8),
            np.where(observed, code, NODATA).astype(np.uint8))


def _maps_kernel(scores: np.ndarray, baseline: np.ndarray, site: np.ndarray, *,
                 mmu_px: int, stale_months: int,
                 strong: float = float("inf")) -> tuple[np.ndarray, np.ndarray]:
    """(period, y, x) scores, (y, x) baseline score and site -> class, change (period, y, x)."""
    site = site.astype(bool)
    classes = np.full(scores.shape, NODATA, np.uint8)
    change = np.full(scores.shape, NODATA, np.uint8)
    walk = MapsWalk(baseline, site)
    for p, m in enumerate(monthly_states(scores, baseline, site, mmu_pixels=mmu_px,
                                         stale_months=stale_months, strong=strong)):
        classes[p], change[p] = walk.step(m)
    return classes, change


def monthly_maps(scores: xr.DataArray, baseline_score: xr.DataArray, site_mask: xr.DataArray,
                 *, pixel_area_ha: float, habitat: str | None, mmu_ha: float = MMU_HA,
                 stale_months: int = 2) -> tuple[xr.DataArray, xr.DataArray]:
    """Class and change map of every period (lazy when the inputs are).

    Takes exactly what :func:`indices.change.change_metrics` takes: habitat scores per period
    ``(period, y, x)`` (NaN not observed), the baseline composite's score ``(y, x)``, the
    boolean site mask, the pixel area and the minimum mapping unit in hectares; ``habitat``:
    the site's, for the look that changes a class alone (:func:`indices.change.strong_look`;
    None: two confident looks, always), required so that no caller's maps follow another
    rule than its change table.

    Returns ``(class, change)``, uint8 ``(period, y, x)`` with the codes of :data:`CLASS_CODES`
    and :data:`CHANGE_CODES`.
    """
    core = ["period", "y", "x"]

    def whole(a: xr.DataArray) -> xr.DataArray:  # the MMU needs whole patches: one chunk
        return a.chunk({d: -1 for d in a.dims}) if a.chunks else a

    classes, change = xr.apply_ufunc(
        _maps_kernel, whole(scores), whole(baseline_score), whole(site_mask),
        input_core_dims=[core, ["y", "x"], ["y", "x"]],
        output_core_dims=[core, core],
        kwargs={"mmu_px": mmu_pixels(mmu_ha, pixel_area_ha), "stale_months": stale_months,
                "strong": strong_look(habitat)},
        dask="parallelized",
        output_dtypes=[np.uint8, np.uint8],
    )
    return labelled(classes.transpose("period", "y", "x"), change.transpose("period", "y", "x"))


def labelled(classes: xr.DataArray, change: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """The class and change maps named, with their legends and nodata code as their only
    attributes (not those of the scores they came from)."""
    out = []
    for array, name, codes in ((classes, "class", CLASS_CODES), (change, "change", CHANGE_CODES)):
        array = array.rename(name)
        array.attrs = {"legend": dict(codes), "nodata": NODATA}
        out.append(array)
    return out[0], out[1]


@numba.njit(nogil=True, cache=True)
def mode_halve(codes: np.ndarray, nodata: int) -> np.ndarray:
    """A uint8 code map at half resolution: each pixel the most frequent code among the 2 x 2
    pixels it covers (fewer at an odd edge), ``nodata`` ignored unless all of them are
    nodata, a tie going to the smallest code. The overviews of the map COGs, each level from
    the one before (a class map must not be averaged): GDAL's MODE resampling did the same
    at ~40 MB/s of map, 3.3 s for a tile's map; here ~0.1 s for all its levels.

    Branch-free per output pixel: each of the four codes scores ``count * 256 + 255 - code``
    (count 0 for nodata) and the highest score wins."""
    height, width = codes.shape
    out = np.empty(((height + 1) // 2, (width + 1) // 2), np.uint8)
    nd = np.int32(nodata)
    for i in range(out.shape[0]):
        y0, y1 = 2 * i, 2 * i + 1
        for j in range(out.shape[1]):
            x0, x1 = 2 * j, 2 * j + 1
            a = np.int32(codes[y0, x0])
            b = np.int32(codes[y0, x1]) if x1 < width else nd
            c = np.int32(codes[y1, x0]) if y1 < height else nd
            d = np.int32(codes[y1, x1]) if x1 < width and y1 < height else nd
            ab, ac, ad = np.int32(a == b), np.int32(a == c), np.int32(a == d)
            bc, bd, cd = np.int32(b == c), np.int32(b == d), np.int32(c == d)
            sa = (1 + ab + ac + ad) * 256 + 255 - a if a != nd else 0
            sb = (1 + ab + bc + bd) * 256 + 255 - b if b != nd else 0
            sc = (1 + ac + bc + cd) * 256 + 255 - c if c != nd else 0
            sd = (1 + ad + bd + cd) * 256 + 255 - d if d != nd else 0
            best = max(max(sa, sb), max(sc, sd))
            out[i, j] = np.uint8(255 - (best & 255)) if best else np.uint8(nd)
    return out
