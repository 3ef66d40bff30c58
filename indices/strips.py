"""The month walk in row strips: a site larger than one month's maps in memory.

:func:`indices.summary.walk_months` walks whole maps: a month of a whole Sentinel-2 tile
(120 Mpx) is ~110-130 B a pixel of float maps, label images and boolean temporaries. Only the
patches are not local: the minimum mapping unit and the small-patch doubt need each patch's
size, patch edges and the ring around them a pixel's neighbours. :class:`StripWalk` walks the
same months over horizontal strips of rows, giving the same numbers:

* per pixel, only what the rules carry from month to month stays in memory, as bits: the
  site, the baseline's class and doubt, the class carried forward, whether the last look was a
  close call, whether it was seen this month and ever (maps), and the months since the last
  look (one byte): 3 B a pixel (5 with the maps' own walk of a seagrass site with plume
  months);
* the canopy's float state (last cover, last NDVI, baseline cover) and each month's NDVI and
  clear views wait in temporary files between passes (read and written with ``pread`` and
  ``pwrite``: file pages are not this process's memory);
* patches are labelled strip by strip, and the labels that touch across a strip edge joined
  (a graph of the edge pairs, :func:`scipy.sparse.csgraph.connected_components`), so every
  pixel knows the size of its whole patch; erosion and dilation see the rows just outside the
  strip;
* the endmembers' medians are exact order statistics found with two histogram passes over the
  baseline's strips (:func:`indices.strip_parts.order_statistics_of`), not a copy of every
  selected pixel.

A month is two passes over its strips: the first updates the carried state and labels the
candidate gain and loss, the second applies the patch sizes and counts. Strips arrive in row
order, of any heights (the flow gives the cube's chunk rows, so each scene is read once a
month). The parts that know nothing of habitats (the patches' sizes across strips, the
temporary files, the order statistics) are :mod:`indices.strip_parts`'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
from scipy import ndimage

from indices.canopy import (
    CANOPY_SUMS,
    canopy_row,
    canopy_step,
    endmember_masks,
    endmembers,
    unmix_cover,
)
from indices.change import (
    GREEN_NDVI,
    MonthState,
    change_counts,
    change_values,
    check_ends,
    confirmed_state,
    filled_bits,
    shore_bits,
    strong_look,
    unjudged_views,
    wet_views_observe,
)
from indices.maps import map_codes
from indices.patches import EIGHT_CONNECTED, MMU_HA, SMALL_PATCH_MMUS, fringe, mmu_pixels
from indices.strip_parts import Patches, Spill, medians_of

__all__ = ["STRIP_PIXELS", "StripWalk", "strips_of"]

# bits of the shared map and of each walk's map
_SITE, _BASE, _BASE_UNCERTAIN, _OBSERVED, _ENDS = 1, 2, 4, 8, 16
_STATE, _CLOSE, _SEEN, _PENDING, _SHOWN = 1, 2, 4, 8, 16

Strips = Iterable[tuple[int, tuple[np.ndarray, ...]]]
"""``(first row, maps)`` per strip, in row order, covering every row once."""
STRIP_PIXELS = 2**21
"""Pixels of the strips walked: larger strips given are walked in parts of about this many
pixels (a strip's temporaries are ~100 B a pixel)."""


def _split(strips: Strips, rows: int) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
    """``strips`` in parts of at most ``rows`` rows."""
    for r0, maps in strips:
        for s0 in range(0, maps[0].shape[0], rows):
            yield r0 + s0, tuple(m[s0:s0 + rows] for m in maps)


class _Walk:
    """One walk of :func:`indices.change.monthly_states` over strips: its class carried
    forward, close calls, seen and age as bits and a byte per pixel."""

    def __init__(self, shape: tuple[int, int], strong: float = float("inf"),
                 green: float = GREEN_NDVI) -> None:
        self.strong = strong  # the look that changes a class alone (indices.change)
        self.green = green  # the close-call ending's floor (monthly_states' green)
        self.bits = np.zeros(shape, np.uint8)
        self.age = np.zeros(shape, np.uint8)
        self.gain = self.loss = None

    def init(self, rows: slice, base: np.ndarray, close_call: np.ndarray) -> None:
        self.bits[rows] = base * np.uint8(_STATE) | close_call * np.uint8(_CLOSE)

    def update(self, rows: slice, score: np.ndarray, site: np.ndarray,
               base: np.ndarray, views: np.ndarray | None = None,
               ends: np.ndarray | None = None, ndvi: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """A strip's month: the carried state updated; returns the gain and loss candidates.
        ``views``: the strip's clear views where an unjudged one is a look for the age, and
        with ``ends`` and ``ndvi`` ends a bare close call there unless the pixel has shown
        canopy (:func:`indices.change.monthly_states`; ``ends`` without both raises)."""
        check_ends(views, ends, ndvi)
        bits = self.bits[rows]
        seen = ~np.isnan(score) & site
        state, pending = confirmed_state(score, seen, (bits & _STATE) != 0,
                                         (bits & _PENDING) != 0, self.strong)
        state &= site
        close = np.where(seen, np.abs(score) < 1, (bits & _CLOSE) != 0)
        looked = seen  # and the unjudged clear views (NaN scores), as _month_kernel's wet
        shown = (bits & _SHOWN) != 0
        if views is not None:
            wet = (unjudged_views(score, views) != 0) & site
            looked = seen | wet
            if ends is not None:
                shown |= ndvi > self.green
                # the state before this month's look, as the kernel's st (a wet view is none)
                close &= ~(wet & ends & ~state & ~pending & ~shown)
        age = self.age[rows]
        age[...] = np.where(looked, np.uint8(0), np.minimum(age, np.uint8(254)) + np.uint8(1))
        bits[...] = (state * np.uint8(_STATE) | close * np.uint8(_CLOSE)
                     | seen * np.uint8(_SEEN) | pending * np.uint8(_PENDING)
                     | shown * np.uint8(_SHOWN))
        return state & ~base, base & ~state

    def start_month(self) -> None:
        self.gain, self.loss = Patches(), Patches()

    def state(self, rows: slice, k: int, site: np.ndarray, base: np.ndarray,
              base_uncertain: np.ndarray, mmu: int, stale_months: int
              ) -> tuple[MonthState, np.ndarray, np.ndarray]:
        """Strip ``k``'s :class:`MonthState`, with the patch sizes of its gain and loss."""
        bits = self.bits[rows]
        state = (bits & _STATE) != 0
        changes = []
        for patches, candidates in ((self.gain, state & ~base), (self.loss, base & ~state)):
            labels, _ = ndimage.label(candidates, structure=EIGHT_CONNECTED)
            size = patches.sizes(k, labels)
            changes += [size >= mmu, size]
        gain, gain_size, loss, loss_size = changes
        m = MonthState(seen=(bits & _SEEN) != 0, habitat=(base | gain) & ~loss, baseline=base,
                       gain=gain, loss=loss,
                       uncertain=((bits & (_CLOSE | _PENDING)) != 0
                                  | (self.age[rows] > stale_months)) & site,
                       baseline_uncertain=base_uncertain)
        return m, gain_size, loss_size


class StripWalk:
    """:func:`indices.summary.walk_months` over row strips (see the module doc).

    ``site``: the (y, x) boolean site mask. ``base``: a callable giving the baseline's strips,
    ``(first row, (score, red, nir, ndvi, ndwi[, ends]))`` (the order of
    :attr:`indices.summary.MonthlyInputs.base`), anew each time it is called (at the start:
    twice for the four endmember medians, whose order statistics share the passes, and once
    to set up). Then
    :meth:`step` once a month with that month's strips of ``(score, map_score, ndvi,
    n_clear)`` returns its row of :data:`indices.summary.MONTHLY_COLUMNS`; with ``maps``,
    ``emit(first row, class, change)`` gets the month's map rows as they are done. Call
    :meth:`close` (or use it as a context manager) to free its temporary files. ``green``:
    the site's rule's ``ndvi_min`` (:attr:`indices.summary.MonthlyInputs.green`).
    """

    def __init__(self, base: Callable[[], Strips], site: np.ndarray, *, habitat: str,
                 pixel_area_ha: float, mmu_ha: float = MMU_HA, maps: bool = False,
                 plume_months: bool = True, stale_months: int = 2,
                 green: float = GREEN_NDVI) -> None:
        site = np.asarray(site, bool)
        self.shape = site.shape
        self.habitat, self.pixel_area_ha = habitat, pixel_area_ha
        self.mmu = mmu_pixels(mmu_ha, pixel_area_ha)
        self.stale_months, self.maps = stale_months, maps
        self.n_site = int(site.sum())
        self.rows = max(1, STRIP_PIXELS // max(1, self.shape[1]))
        self.shared = site.astype(np.uint8)  # _SITE
        self.ends = False  # whether the baseline gave MonthlyInputs.base_ends (_ENDS)
        del site
        strong = strong_look(habitat)
        self.wet_views = wet_views_observe(habitat)
        self.walk = _Walk(self.shape, strong, green)
        self.map_walk = _Walk(self.shape, strong, green) if maps and plume_months else None
        self.canopy = Spill(self.shape, (np.float32,) * 3)  # cover, last NDVI, baseline cover
        self.month = Spill(self.shape, (np.float32, np.int16))  # NDVI, clear views
        try:
            self._start(base)
        except BaseException:
            self.close()
            raise

    def _site(self, rows: slice) -> np.ndarray:
        return (self.shared[rows] & _SITE) != 0

    def _start(self, base: Callable[[], Strips]) -> None:
        def pieces():  # red and NIR of the bare, then of the canopy endmember pixels
            for r0, (score, red, nir, ndvi, ndwi, *_) in _split(base(), self.rows):
                masks = endmember_masks(red, nir, ndvi, ndwi, score,
                                        self._site(slice(r0, r0 + score.shape[0])))
                yield tuple(band[m] for m in masks for band in (red, nir))

        # the four medians, exactly, in the same two passes over the baseline
        counts, medians = medians_of(pieces, sets=4)

        def median(which: int, band: int) -> float:
            return medians[2 * which + band]

        self.bare, self.canopy_rn = endmembers(median, (counts[0], counts[2]))
        for r0, (score, _, _, ndvi, _, *ends) in _split(base(), self.rows):
            rows = slice(r0, r0 + score.shape[0])
            site = self._site(rows)
            base_habitat = (score > 0) & site
            close_call = ~(np.abs(score) >= 1)
            if ends:  # MonthlyInputs.base_ends: the walk's (indices.change.monthly_states)
                self.ends = True
                self.shared[rows] |= (shore_bits(ends[0]) & site) * np.uint8(_ENDS)
                close_call |= filled_bits(ends[0])  # a baseline filled after the window
            self.shared[rows] |= (base_habitat * np.uint8(_BASE)
                                  | (close_call & site) * np.uint8(_BASE_UNCERTAIN)
                                  | (~np.isnan(score) & site) * np.uint8(_OBSERVED))
            for walk in self._walks():
                walk.init(rows, base_habitat, close_call)
            cover_base = unmix_cover(ndvi, self.bare, self.canopy_rn)
            self.canopy.write(0, r0, np.where(np.isfinite(cover_base), cover_base, 0.0))
            self.canopy.write(1, r0, np.where(np.isfinite(ndvi), ndvi, np.nan))
            self.canopy.write(2, r0, cover_base)

    def _walks(self) -> list[_Walk]:
        return [self.walk] + ([self.map_walk] if self.map_walk is not None else [])

    def step(self, strips: Strips,
             emit: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> np.ndarray:
        """One month (see the class doc): its row of values."""
        walks = self._walks()
        for w in walks:
            w.start_month()
        spans = []
        for r0, (score, map_score, ndvi, n_clear) in _split(strips, self.rows):
            rows = slice(r0, r0 + score.shape[0])
            if spans and rows.start != spans[-1].stop or not spans and r0 != 0:
                raise ValueError(f"strips must follow each other from row 0; got row {r0}")
            spans.append(rows)
            site, base = self._site(rows), (self.shared[rows] & _BASE) != 0
            views = n_clear if self.wet_views else None
            # the close-call ending reads the views (rule v12): none where they are no look
            ends = (self.shared[rows] & _ENDS) != 0 if self.ends and views is not None else None
            for w, s in zip(walks, (score, map_score), strict=False):
                gain, loss = w.update(rows, s, site, base, views, ends, ndvi)
                w.gain.add(gain)
                w.loss.add(loss)
            self.month.write(0, r0, ndvi)
            self.month.write(1, r0, n_clear)
        if not spans or spans[-1].stop != self.shape[0]:
            raise ValueError(f"strips cover {spans[-1].stop if spans else 0} of "
                             f"{self.shape[0]} rows")
        for w in walks:
            w.gain.finish()
            w.loss.finish()
        counts = np.zeros(12, np.int64)
        sums = np.zeros(CANOPY_SUMS)
        small = SMALL_PATCH_MMUS * self.mmu
        above = None  # the previous strip's last row of final gain and loss
        for k, rows in enumerate(spans):
            site = self._site(rows)
            shared = self.shared[rows]
            base = (shared & _BASE) != 0
            m, gain_size, loss_size = self.walk.state(
                rows, k, site, base, (shared & _BASE_UNCERTAIN) != 0, self.mmu,
                self.stale_months)
            if k + 1 < len(spans):
                below = tuple(p.first_row_sizes(k + 1) >= self.mmu
                              for p in (self.walk.gain, self.walk.loss))
            else:
                below = (None, None)
            up = (None, None) if above is None else above
            fringes = [fringe(patches, patches & (size < small), above=a, below=b)
                       for patches, size, a, b in ((m.gain, gain_size, up[0], below[0]),
                                                   (m.loss, loss_size, up[1], below[1]))]
            counts += change_counts(m, site, *fringes)
            above = (m.gain[-1], m.loss[-1])
            cover, last_ndvi, cover_base = (self.canopy.read(j, rows) for j in range(3))
            sums += canopy_step(cover, last_ndvi, cover_base, m, self.month.read(0, rows),
                                self.month.read(1, rows), site, bare=self.bare,
                                canopy=self.canopy_rn, habitat=self.habitat)
            self.canopy.write(0, rows.start, cover)
            self.canopy.write(1, rows.start, last_ndvi)
            if self.maps:
                mm = m if self.map_walk is None else self.map_walk.state(
                    rows, k, site, base, m.baseline_uncertain, self.mmu, self.stale_months)[0]
                observed = ((shared & _OBSERVED) != 0) | mm.seen
                self.shared[rows] |= observed * np.uint8(_OBSERVED)
                if emit is not None:
                    emit(rows.start, *map_codes(observed, mm))
        for w in walks:
            w.gain = w.loss = None
        return np.concatenate([
            change_values(counts, self.n_site, pixel_area_ha=self.pixel_area_ha),
            canopy_row(sums, pixel_area_ha=self.pixel_area_ha, habitat=self.habitat)])

    def close(self) -> None:
        self.canopy.close()
        self.month.close()

    def __enter__(self) -> StripWalk:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def strips_of(arrays: tuple[np.ndarray, ...], rows: int) -> Iterator[tuple[int, tuple]]:
    """Strips of ``rows`` rows of (y, x) arrays, for :class:`StripWalk` (tests, notebooks)."""
    height = arrays[0].shape[0]
    for r0 in range(0, height, rows):
        yield r0, tuple(a[r0:r0 + rows] for a in arrays)
