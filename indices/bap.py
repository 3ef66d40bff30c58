"""Best-available-pixel fill of a mangrove site's baseline composite, by need.

A pixel that no scene of the baseline window saw clear has no composite (every band NaN,
``n_clear`` 0): it scored NaN, was no candidate for the intertidal context, and so stayed
not-mangrove for the whole series; the stand under the baseline's clouds then came in as
false gain once a month saw it (``benchmarks/measured/mang32``, cause B: 40 ha of stand on
one seed; ``mang35``). Best-available-pixel compositing takes, per pixel, the observation
nearest the target date among those that pass the clear test, widening the window per pixel
until one does (White et al. 2014, Can. J. Remote Sens. 40(3):192-212, "Pixel-based image
compositing for large-area dense time series applications and science"; Griffiths et al.
2013, IEEE JSTARS 6(5):2088-2101, who fill from the years either side of the target year).

Here: where the baseline composite has no clear view, the pixel takes the monthly median
composite (:func:`indices.composite.monthly_composite`, the same clear test and kernel) of
the first clear month **after** the baseline window within :data:`FILL_MONTHS` calendar
months of its last. It stops at that first clear month, so a change later in the series is
not read into the baseline.

**Only months after the window** (rule v16; v15 also took the months before, a tie going to
the month before): a run always loads the baseline and the months after it up to its end
(:func:`flows.site.plan.load_range`), so these are the months every later run has too; a
month before the window is loaded only by a run that starts earlier, so with it the baseline
would depend on the run's dates. The fill still depends on the run's end while that end is
inside :func:`fill_window` (a later run may find a clear month the earlier did not have):
:func:`flows.site.plan.plan_site` passes the window's scenes the store does not hold as
candidates, and :func:`flows.site.plan.fill_settled`, once the fill is computed, rewrites the
site's rows (from the earlier of the run's start and its first stored row) only when one of
them could have changed the fill; a window scene that fails in a run while the fill had
pixels to fill fails the site for that run (:class:`flows.site.plan.FillSceneFailed`), so
the rows stored always share one baseline. The candidates' observation rows are written
whatever the run's start; once the window has passed and its scenes are stored, the fill is
final.

**Only a window whose own context reaches the site is filled** (rule v16, after its review,
session 36): the window's own counts must give an intertidal zone inside the site's polygon
(:mod:`indices.bap_gate`: :func:`indices.context.intertidal_zone`, seen wet and dry over
the rule's ``min_views`` clear views and opened with a 3 x 3 square, on the window's counts
alone). A window that saw no tide there (every scene clouded, a single scene, or a tide seen
only off the polygon) cannot build the site's intertidal context; filling the pixels it
missed would give those alone a tide from their month's views (the review's case: a window
clouded everywhere but a 3 x 3 tidal box, 99.99 % filled from one month, extent 0 ha certain
where ~140 ha stand). Its context, its "lengthen the baseline" warning
(:func:`flows.site.notices.context_warning`) and its observed fraction then stay its own:
nothing is filled (:attr:`BaselineFill.skipped` says "no tide"). This depends on the data
only.

**By need** (rule v15; mang35's v14 draft composited the 12 months after every baseline,
+288 MiB on ``tests/test_memory.py``'s strips walk): :func:`baseline_fill` first counts the
never-clear pixels from the composite's own ``n_clear`` (free where the composite is
computed, one pass over the baseline's scenes where it stays lazy); with none, nothing more
is read and the composite is untouched (same graph, same bits). Else the months are
composited nearest first, **each only on the blocks that still hold an unfilled pixel**, and
each block's task keeps only the values at those pixels; it stops when every such pixel is
filled or the bound is reached. The result, :class:`BaselineFill`, is sparse (the filled
pixels' values, ~37 bytes each held, ~140 while built: :data:`flows.site.budget.
FILL_BUILD_BYTES_PER_PIXEL`; a caller bounds it with ``max_pixels``, beyond which
:class:`FillTooLarge` is raised before anything is filled: a fill never depends on the
machine's memory, a run that cannot afford it fails the site), computed once per site and
applied to any composite of the
same baseline, lazy or not (:meth:`BaselineFill.apply`): every walk and the alerts read the
same composite, bit for bit. Pixels seen clear in the window are untouched. A pixel no month
of the bounded window saw stays NaN (unobserved: its baseline score is NaN, which
:func:`indices.change.monthly_states` counts as uncertain in both bounds of the interval).

Compute; reads only through the lazy cube it is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import dask
import numpy as np
import xarray as xr

from indices.bap_gate import gate_views, never_clear, tidal_zone, window_has_context
from indices.composite import monthly_composite
from indices.masks import BANDS

__all__ = ["FILL_MONTHS", "BaselineFill", "FillTooLarge", "baseline_fill", "fill_lazily",
           "fill_months", "fill_window", "filled", "window_has_context"]

FILL_MONTHS = 12
"""Calendar months after the baseline window a never-clear pixel is filled from: one year,
the bound of Griffiths et al. (2013) and White et al. (2014), who fill a target year's gaps
from the year before and after it (here only after: module doc)."""


class FillTooLarge(RuntimeError):
    """A fill of more never-clear pixels than the caller's bound (``max_pixels``): nothing
    filled, nothing to write on the unfilled baseline (module doc)."""

    def __init__(self, unseen: int, max_pixels: int):
        super().__init__(f"{unseen} never-clear baseline pixels to fill, more than the "
                         f"{max_pixels} the memory allows")
        self.unseen, self.max_pixels = unseen, max_pixels


def fill_window(baseline_end: dt.date, months: int = FILL_MONTHS) -> tuple[dt.date, dt.date]:
    """``(first, last)`` days the fill reads: from the day after the baseline's end to the
    last day of the ``months``-th calendar month after the baseline's last month. A scene
    in it that a run did not have may change the fill (module doc)."""
    first = baseline_end + dt.timedelta(days=1)
    m = baseline_end.year * 12 + baseline_end.month - 1 + months + 1  # the month after
    last = dt.date(m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)
    return first, last


def fill_months(times: np.ndarray, baseline: tuple[dt.date, dt.date],
                months: int = FILL_MONTHS) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, offsets)``: the scenes of ``times`` after the baseline window and within
    ``months`` calendar months of its last month, and each one's month offset (``+k``; a
    scene in the baseline's last month but after the window counts as 1 month off). None
    before the window (module doc)."""
    times = np.asarray(times).astype("datetime64[ns]")
    hi = np.datetime64(baseline[1], "D") + np.timedelta64(1, "D")
    m = times.astype("datetime64[M]").astype(np.int64)
    m_hi = (hi - np.timedelta64(1, "D")).astype("datetime64[M]").astype(np.int64)
    after = times >= hi
    off = np.where(after, np.maximum(m - m_hi, 1), 0)
    keep = after & (off <= months)
    return np.flatnonzero(keep), off[keep]


@dataclass(frozen=True)
class BaselineFill:
    """The never-clear pixels of a baseline composite and their fill, sparse (module doc)."""

    shape: tuple[int, int]
    """``(y, x)`` of the composite."""
    unseen: int
    """Pixels no baseline scene saw clear (filled or not)."""
    flat: np.ndarray = field(repr=False)
    """int64, ascending: the filled pixels, ``y * nx + x``."""
    offset: np.ndarray = field(repr=False)
    """int8: each filled pixel's month (``+k`` the k-th month after the window)."""
    values: Mapping[str, np.ndarray] = field(repr=False)
    """Per variable of the composite, its filled pixels' values (the variable's dtype; the
    counts ``n_clear``, ``n_wet`` are their month's)."""
    skipped: str = ""
    """Why nothing was filled though pixels were unseen ("" when filled or none unseen): the
    window's own counts give no intertidal zone inside the site (one line, for the run's
    record; it depends on the data only)."""

    @property
    def filled(self) -> int:
        """Pixels filled."""
        return int(self.flat.size)

    def site_fraction(self, mask) -> float:
        """Share of the site (``mask``, a computed boolean ``(y, x)``) whose baseline was
        filled: the change rows' ``baseline_filled_fraction``."""
        inside = np.asarray(mask, bool)
        n_site = int(inside.sum())
        return float(inside.ravel()[self.flat].sum()) / n_site if n_site else 0.0

    def mask(self) -> np.ndarray:
        """Boolean ``(y, x)``: the filled pixels (numpy)."""
        out = np.zeros(self.shape, bool)
        out.ravel()[self.flat] = True
        return out

    def offsets(self) -> np.ndarray:
        """int8 ``(y, x)``: :attr:`offset` where filled, else 0 (numpy, for diagnostics)."""
        out = np.zeros(self.shape, np.int8)
        out.ravel()[self.flat] = self.offset
        return out

    def summary(self) -> dict:
        """JSON-able, for the run record: pixels unseen in the window, filled, left unseen,
        filled per month after the window (``{"+1": n, ...}``) and why a fill was skipped."""
        months, counts = np.unique(self.offset, return_counts=True)
        out = {"unseen": self.unseen, "filled": self.filled,
               "unobserved": self.unseen - self.filled,
               "months": {f"+{int(m)}": int(n) for m, n in zip(months, counts, strict=True)}}
        if self.skipped:
            out["skipped"] = self.skipped
        return out

    def apply(self, base: xr.Dataset) -> xr.Dataset:
        """``base`` (a composite of the same baseline and grid, lazy or not) with the filled
        pixels' values set; ``base`` itself when nothing was filled (the same graph)."""
        if not self.filled:
            return base
        out = base.copy()
        for name, values in self.values.items():
            var = base[name].transpose("y", "x")
            data = var.data
            if isinstance(data, np.ndarray):
                new = data.copy()
                new.ravel()[self.flat] = values
            else:
                new = data.map_blocks(_patch, dtype=data.dtype, flat=self.flat, values=values,
                                      width=self.shape[1], name=f"bap-{name}")
            out[name] = var.copy(data=new).transpose(*base[name].dims)
        return out


def _patch(block: np.ndarray, *, flat: np.ndarray, values: np.ndarray, width: int,
           block_info=None) -> np.ndarray:
    """One block of a composite variable with the fill's values at its filled pixels."""
    (r0, r1), (c0, c1) = block_info[0]["array-location"]
    lo, hi = np.searchsorted(flat, [r0 * width, r1 * width])  # the rows' pixels, then cols
    rows, cols = np.divmod(flat[lo:hi], width)
    inside = (cols >= c0) & (cols < c1)
    if not inside.any():
        return block
    out = block.copy()
    out[rows[inside] - r0, cols[inside] - c0] = values[lo:hi][inside]
    return out


def baseline_fill(base: xr.Dataset, cube: xr.Dataset, baseline: tuple[dt.date, dt.date],
                  months: int = FILL_MONTHS, *, inside=None, min_views: int | None = None,
                  max_pixels: int | None = None) -> BaselineFill:
    """The fill of ``base`` (``composite(cube, *baseline)``, lazy or computed) from ``cube``
    (module doc), computed: first the never-clear pixels and whether the window's own counts
    give an intertidal zone inside the site (:func:`window_has_context`; one pass over the
    baseline's scenes when ``base`` is lazy), then, only if there are any and they do, the
    months after the window nearest first, each on the blocks still holding an unfilled
    pixel. ``inside``: the site's polygon, a boolean ``(y, x)`` (None: the whole grid);
    ``min_views``: the site's rule's (None: the default rule's). ``max_pixels``: the most
    never-clear pixels the caller's memory allows to fill
    (:func:`flows.site.budget.fill_pixels`); a fill beyond it raises :class:`FillTooLarge`
    (never a fill skipped for memory: the baseline would depend on the machine)."""
    n_clear = base["n_clear"].transpose("y", "x")
    shape = (n_clear.sizes["y"], n_clear.sizes["x"])
    names = list(base.data_vars)
    n_wet = base["n_wet"].transpose("y", "x").data if "n_wet" in base else None
    views = gate_views(min_views)
    remaining, tide = never_clear(n_clear.data, n_wet, views, inside)
    unseen = int(remaining.size)
    skipped = ""
    if unseen and not tide:
        skipped = (f"the baseline window saw no tide inside the site (no intertidal zone: "
                   f"wet and dry over {views} clear views, opened 3 x 3): its {unseen} "
                   f"never-clear pixels are not filled")
    elif unseen and max_pixels is not None and unseen > max_pixels:
        raise FillTooLarge(unseen, max_pixels)
    flat, offset = [], []
    values = {v: [] for v in names}
    times = cube["time"].values
    pos, off = fill_months(times, baseline, months) if unseen and not skipped else ((), ())
    for month_off, scenes in _nearest_first(times, pos, off):
        if not remaining.size:
            break
        month = monthly_composite(cube.isel(time=scenes), BANDS).isel(period=0, drop=True)
        got = _values_at(month, names, remaining, shape)
        clear = got["n_clear"] > 0
        flat.append(remaining[clear])
        offset.append(np.full(int(clear.sum()), month_off, np.int8))
        for v in names:
            values[v].append(got[v][clear].astype(base[v].dtype))
        remaining = remaining[~clear]
        del got
    if not flat:
        return BaselineFill(shape, unseen, np.zeros(0, np.int64), np.zeros(0, np.int8),
                            {v: np.zeros(0, base[v].dtype) for v in names}, skipped)
    flat_all = np.concatenate(flat)
    order = np.argsort(flat_all, kind="stable")
    return BaselineFill(shape, unseen, flat_all[order], np.concatenate(offset)[order],
                        {v: np.concatenate(values[v])[order] for v in names})


def filled(base: xr.Dataset, cube: xr.Dataset, baseline: tuple[dt.date, dt.date],
           fill: BaselineFill | None = None) -> xr.Dataset:
    """A mangrove baseline composite ``base`` filled: with the site's computed ``fill`` (its
    evidence's, :meth:`BaselineFill.apply`), else lazily (:func:`fill_lazily`, the lazy
    API's). The one place the months' and the alerts' composites take it."""
    return fill.apply(base) if fill is not None else fill_lazily(base, cube, baseline)


def fill_lazily(base: xr.Dataset, cube: xr.Dataset, baseline: tuple[dt.date, dt.date],
                months: int = FILL_MONTHS, *, inside=None,
                min_views: int | None = None) -> xr.Dataset:
    """``base`` filled as :func:`baseline_fill` fills it, the same values, but lazily (no
    count first, nothing computed): every month within the bound is composited and laid
    nearest over farthest, where a block has a never-clear pixel or not. For the lazy API
    (:func:`indices.summary.monthly_change`, :func:`indices.alerts.alert_pixels` without the
    site's evidence; it knows no polygon: ``inside`` None takes the grid as the site); the
    flow's walks take the computed :class:`BaselineFill` of their evidence, which costs only
    where a pixel was never clear. A window whose own counts give no intertidal zone inside
    the site (:func:`window_has_context`) keeps ``base``: the test is a lazy reduction."""
    times = cube["time"].values
    pos, off = fill_months(times, baseline, months)
    steps = list(_nearest_first(times, pos, off))
    if not steps or "n_wet" not in base:
        return base
    names = list(base.data_vars)
    monthly = monthly_composite(cube.isel(time=np.sort(pos)), BANDS)
    periods = monthly["period"].values.astype("datetime64[M]")
    later = None
    for _, scenes in reversed(steps):  # farthest first, each nearer month laid over it
        at = int(np.flatnonzero(periods == times[scenes[0]].astype("datetime64[M]"))[0])
        month = monthly.isel(period=at, drop=True)[names]
        later = month if later is None else month.where(month["n_clear"] > 0, later)
    n_wet, n_clear = (base[v].transpose("y", "x") for v in ("n_wet", "n_clear"))
    zone = n_clear.copy(data=tidal_zone(n_wet.data, n_clear.data, gate_views(min_views)))
    if inside is not None:
        zone = zone & np.asarray(inside, bool)
    out = base.where((base["n_clear"] > 0) | ~zone.any(), later)
    for v in names:  # Dataset.where keeps float dtypes; the counts are cast back
        out[v] = out[v].astype(base[v].dtype)
        out[v].attrs = base[v].attrs
    return out


def _nearest_first(times: np.ndarray, pos: np.ndarray, off: np.ndarray):
    """``(offset, scenes)`` per calendar month of the fill scenes ``pos``, nearest the window
    first (a month the window shares, a window ending mid-month, before the next)."""
    if not len(pos):
        return
    month = np.asarray(times)[pos].astype("datetime64[M]").astype(np.int64)
    for m in np.unique(month):  # ascending: nearest first
        at = month == m
        yield int(off[at][0]), np.asarray(pos)[at]


def _values_at(month: xr.Dataset, names: list[str], flat: np.ndarray,
               shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Each variable ``names`` of the (y, x) ``month`` at the pixels ``flat``; when lazy,
    computed only on the blocks holding one of them, each block's task keeping only those
    values."""
    arrays = [month[v].transpose("y", "x").data for v in names]
    if all(isinstance(a, np.ndarray) for a in arrays):
        return {v: a.ravel()[flat] for v, a in zip(names, arrays, strict=True)}
    import dask.array as da

    arrays = [da.asarray(a) for a in arrays]
    ys, xs = (np.cumsum((0,) + c) for c in arrays[0].chunks)
    rows, cols = np.divmod(flat, shape[1])
    nbx = len(xs) - 1
    block = (np.searchsorted(ys, rows, side="right") - 1) * nbx \
        + (np.searchsorted(xs, cols, side="right") - 1)
    order = np.argsort(block, kind="stable")  # the pixels grouped by block, in numpy
    ids, starts = np.unique(block[order], return_index=True)
    bounds = np.append(starts, order.size)
    tasks = []
    for k, b in enumerate(ids.tolist()):  # one Python object per block, none per pixel
        i, j = divmod(b, nbx)
        at = order[bounds[k]:bounds[k + 1]]
        local = (rows[at] - ys[i], cols[at] - xs[j])
        tasks.append(dask.delayed(_take)(local, *[a.blocks[i, j] for a in arrays]))
    del rows, cols, block
    got = dask.compute(*tasks)
    out = {}
    for k, v in enumerate(names):
        col = np.empty(flat.size, arrays[k].dtype)
        for n, vals in enumerate(got):
            col[order[bounds[n]:bounds[n + 1]]] = vals[k]
        out[v] = col
    return out


def _take(local: tuple[np.ndarray, np.ndarray], *blocks: np.ndarray) -> tuple:
    return tuple(np.asarray(b)[local] for b in blocks)
