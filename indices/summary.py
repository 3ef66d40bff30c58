"""Per-site aggregates of a scene cube: the numbers the Parquet tables hold, still lazy.

``scene_statistics`` gives one value per scene (the ``observations`` table), ``monthly_change``
one row per month (the ``change`` table). Both reduce inside the site polygon only, and both
return lazy datasets: the flow computes them together, once. ``walk_months`` is the month walk
of ``monthly_change`` over computed maps, one month at a time, for sites too large to hold
every month at once (:func:`flows.site.site_tables`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

from indices.bap import filled
from indices.canopy import CANOPY_METRICS, CanopyWalk, canopy_metrics
from indices.change import (
    CHANGE_METRICS,
    ENDS_FILLED,
    GREEN_NDVI,
    change_metrics,
    change_row,
    monthly_states,
    strong_look,
    wet_views_observe,
)
from indices.composite import composite, monthly_composite
from indices.context import CONNECTED, INTERTIDAL, SHORE_WATER, TIDAL
from indices.evidence import SiteEvidence, baseline_composite, site_evidence
from indices.habitat import (
    RULES,
    habitat_score,
    mangrove_values,
    mask_turbid_water,
    seagrass_constants,
    turbid_scenes,
)
from indices.habitat_kernel import MANGROVE_CONSTANTS, axis_constants, statistics_counts
from indices.mangrove_axis import AXIS_PARAMETERS
from indices.maps import MapsWalk
from indices.masks import BANDS
from indices.patches import MMU_HA, mmu_pixels
from indices.seagrass_rule import GLINT_COMPOSITE
from indices.spectral import SYMBOLS, compute_indices
from indices.sums import reduce_dn, table_columns
from indices.water import water_parameters

__all__ = ["MONTHLY_COLUMNS", "MONTH_BANDS", "MonthlyInputs", "OBSERVATION_INDICES",
           "monthly_change", "monthly_inputs", "monthly_table", "scene_statistics", "walk_months"]

OBSERVATION_INDICES = ("ndvi", "ndwi", "mndwi", "mvi")

MONTH_BANDS = {"mangrove": ("B03", "B04", "B08", "B11"), "seagrass": ("B02", "B03", "B04", "B08")}
"""The bands a month's composite is made of in :func:`monthly_inputs`: what its readers use
(the habitat's score: mangrove NDVI, MVI, NDWI and MNDWI, seagrass the water mask and the
deglinted blue and green; the walk's NDVI and NDWI). Every band of the cube still decides
which views are clear (``monthly_composite(..., clear_bands=BANDS)``), so the months' values
and counts are those of the composite of all six, bit for bit; a reader of another band
fails loudly (the composite has no such variable), it does not change silently."""


def scene_statistics(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str,
                     *, pixel_area_ha: float, evidence: SiteEvidence | None = None
                     ) -> xr.Dataset:
    """Per scene: valid and cloud fractions of the site, index means, habitat area (ha).

    Everything is reduced inside one fused kernel per chunk (:func:`indices.sums.reduce_dn`)
    that reads each DN once and returns per-scene sums and counts: no full-resolution layer
    (mask, index, score) is materialised, so memory stays at the chunks being read whatever
    the number of scenes, and a chunk costs about what reading it costs.

    The numbers are those of the array expressions they replace, with the site mask:
    ``clear_mask(cube).sum() / n_site``, ``cloud_mask(cube).sum() / n_site``, the means of
    :func:`compute_indices` (sums of the same float32 values, to ~1e-7; see
    :func:`indices.sums.index_sums`) and
    ``(habitat_score(scene_reflectance(cube), habitat, rule, **evidence.scene_scorer) > 0).sum()
    * pixel_area_ha``, the score's sign evaluated per pixel with the same float32 arithmetic
    (see :func:`_habitat_test`).

    ``evidence``: the site's (:mod:`indices.evidence`), lazy or computed. Without it, the
    habitat's default rule, and for mangrove no context (a scene's spectral candidates: a
    single scene shows no tide), for seagrass the water of the whole cube's composite.
    """
    if habitat not in RULES:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULES)}")
    if "SCL" not in cube.data_vars:
        raise ValueError("cube has no SCL variable")
    present = [b for b in BANDS if b in cube.data_vars]
    symbols = [s for s, b in SYMBOLS.items() if b in present]
    if evidence is None:
        evidence = SiteEvidence(habitat, RULES[habitat])
    rule = evidence.rule
    gated = habitat == "mangrove" and evidence.context is not None
    prelude, counts, names = statistics_counts(symbols, habitat, rule=rule, gated=gated)
    constants = None
    if habitat == "mangrove":  # the site's threshold and canopy NDVI (or the published ones)
        values = mangrove_values(rule, evidence.params)
        constants = dict(zip(MANGROVE_CONSTANTS, values, strict=True))
        if names != MANGROVE_CONSTANTS:  # and its discriminant axis (rule v8), float64
            constants |= axis_constants(evidence.params)
    if habitat == "seagrass":
        water = evidence.water
        if water is None:
            water = water_parameters(composite(cube, "1900-01-01", "2200-01-01",
                                               deglint=GLINT_COMPOSITE), rule)
        terms = seagrass_constants(water, rule)
        constants = {name: terms[name] for name in names}
    where = site_mask
    if gated:  # the kernel's `site`: bit 1 inside, bit 2 connected canopy, bit 4 intertidal,
        # bit 8 tidal ground
        level = evidence.context.astype(np.uint8)
        where = (site_mask.astype(np.uint8)
                 * (np.uint8(1) + np.uint8(2) * (level == CONNECTED).astype(np.uint8)
                    + np.uint8(4) * (level == INTERTIDAL).astype(np.uint8)
                    + np.uint8(8) * ((level == TIDAL) | (level == SHORE_WATER))
                    .astype(np.uint8))).astype(np.uint8)
    table, ordered = reduce_dn(cube, OBSERVATION_INDICES, where=where,
                               extra_symbols=symbols, prelude=prelude, counts=counts,
                               constants=constants, wide=AXIS_PARAMETERS,
                               switch=("axis_used",))
    n_site = site_mask.sum()
    k = 2 * len(ordered)
    coords = {c: v for c, v in cube.coords.items() if v.dims == ("time",)}
    columns = [xr.DataArray(values, dims="time", coords=coords)
               for values in table_columns(table, [(j, np.float64) for j in range(k + 3)])]
    stats = {"valid_fraction": columns[k] / n_site, "cloud_fraction": columns[k + 1] / n_site}
    for name in OBSERVATION_INDICES:
        i = ordered.index(name)
        total, count = columns[2 * i], columns[2 * i + 1]
        # NaN where no pixel was clear: dividing by NaN, not by 0 (no 0/0 RuntimeWarning)
        stats[f"{name}_mean"] = total / count.where(count > 0)
    area = columns[k + 2]
    if (habitat == "seagrass" and evidence.place is not None and rule.place_test
            and rule.place_months):
        area = area + place_counts(cube, site_mask, rule, water, evidence.place)
    stats["habitat_area_ha"] = area * pixel_area_ha
    return xr.Dataset(stats)


def place_counts(cube: xr.Dataset, site_mask: xr.DataArray, rule, water: xr.DataArray,
                 place: xr.DataArray) -> xr.DataArray:
    """Per scene, the site's pixels seagrass by the place term of rule v6
    (:func:`indices.seagrass_rule.place_score` ``> 0``: where the gate, which the fused
    kernel counts, leaves the pixel), by the score's own array code (not fused: read again,
    on the bounding box of the map's supported pixels only when the map is computed; none
    when it supports none)."""
    from indices.masks import scene_reflectance
    from indices.seagrass_rule import place_score, seagrass_offset

    level = place.sel(layer="sand_blue")
    if not isinstance(level.data, np.ndarray) or level.size == 0:
        box = {}
    else:
        finite = np.isfinite(level.values)
        if not finite.any():
            return xr.zeros_like(cube["time"], dtype=np.float64).drop_vars(
                [c for c in cube["time"].coords if c != "time"])
        rows, cols = np.flatnonzero(finite.any(1)), np.flatnonzero(finite.any(0))
        box = {"y": slice(rows[0], rows[-1] + 1), "x": slice(cols[0], cols[-1] + 1)}
    part = cube.isel(box)
    refl = scene_reflectance(part)
    c, offset = seagrass_offset(refl, rule, water)
    term = place_score(refl, rule, water, place.isel(box), c, offset, month=True)
    inside = site_mask.isel(box).astype(bool)
    count = ((term > 0) & inside).sum(("y", "x")).astype(np.float64)
    return count.drop_vars([c for c in count.coords if c != "time"])


@dataclass(frozen=True)
class MonthlyInputs:
    """What the month walk of a site reads, lazy (see :func:`monthly_inputs`)."""

    scores: xr.DataArray
    """Habitat score per month ``(period, y, x)``; NaN not observed, and all NaN in a month
    mostly under a sediment plume (seagrass: its classes are carried forward)."""
    map_scores: xr.DataArray
    """The same before the plume months are dropped: what :func:`flows.site.site_maps` maps."""
    ndvi: xr.DataArray
    """NDVI of each month's composite ``(period, y, x)``."""
    n_clear: xr.DataArray
    """Clear views in each month's composite ``(period, y, x)``."""
    base_score: xr.DataArray
    base_red: xr.DataArray
    base_nir: xr.DataArray
    base_ndvi: xr.DataArray
    base_ndwi: xr.DataArray
    base_ends: xr.DataArray
    """uint8 ``(y, x)`` bits (:func:`indices.change.monthly_states`' ``ends``):
    :data:`indices.change.ENDS_SHORE` on the coast's water inside the shore's ground
    (:data:`indices.context.SHORE_WATER`, rule v12), where a clear view under the tide ends a
    bare pixel's close call unless it has shown canopy; :data:`indices.change.ENDS_FILLED`
    where :mod:`indices.bap` filled the baseline from a month after the window (rule v17: the
    interval counts that baseline as unseen); 0 elsewhere and for seagrass."""
    turbid: xr.DataArray
    """1.0 for a month mostly under a plume, else 0.0 ``(period,)``."""
    baseline_observed_fraction: xr.DataArray
    """Share of the site seen clear in the baseline composite: for mangrove (rule v17)
    with the pixels the window never saw clear filled from the first clear month after it within a
    year (:mod:`indices.bap`), so a pixel counts as seen when the window or that fill saw
    it."""
    assessable_fraction: xr.DataArray
    """Share of the site the baseline composite could judge: seen clear, and for seagrass
    land or water whose bottom it saw (:func:`indices.habitat.seagrass_score`)."""
    evidence: SiteEvidence
    """The site's rule and evidence the scores read (:mod:`indices.evidence`)."""
    scene_turbid: xr.DataArray | None = None
    """Seagrass: the per-scene plume flag ``(time,)`` (:func:`indices.habitat.turbid_scenes`);
    it compares each scene with the median of all, so every month depends on every scene
    until it is computed and given back (``monthly_inputs(..., scene_turbid=...)``)."""

    @property
    def base(self) -> tuple[xr.DataArray, ...]:
        """The baseline maps :class:`indices.canopy.CanopyWalk` starts from, in its order, then
        :attr:`base_ends` (the month walk's, :func:`walk_months`)."""
        return (self.base_score, self.base_red, self.base_nir, self.base_ndvi, self.base_ndwi,
                self.base_ends)

    @property
    def green(self) -> float:
        """The month walk's green floor (:func:`indices.change.monthly_states`' ``green``):
        the site's rule's ``ndvi_min`` (a calibrated mangrove rule may refit it,
        :mod:`indices.calibration`), else :data:`indices.change.GREEN_NDVI`."""
        return float(getattr(self.evidence.rule, "ndvi_min", GREEN_NDVI))

    @property
    def rule_id(self) -> str:
        """:func:`indices.habitat.rule_id` of the site's rule: the change rows' ``rule_id``."""
        return self.evidence.rule_id


def monthly_inputs(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str, *,
                   baseline: tuple[dt.date, dt.date],
                   scene_turbid: xr.DataArray | None = None,
                   evidence: SiteEvidence | None = None,
                   judged: xr.DataArray | None = None,
                   base: xr.Dataset | None = None) -> MonthlyInputs:
    """The composites and scores the change walk of a site reads (lazy when the cube is).
    ``scene_turbid``: the computed :attr:`MonthlyInputs.scene_turbid` of the same cube,
    ``evidence``: the site's computed :class:`indices.evidence.SiteEvidence` and, for a
    seagrass site, ``judged``: the computed ``(y, x)`` water its baseline assessed
    (``base_score.notnull()``), so that a month's composites and scores read only that month's
    scenes; without them, lazily from the cube (the default rule's evidence, the baseline's
    assessed water: each month's scores would read the baseline's scenes again). ``base``:
    the baseline composite ``composite(cube, *baseline)`` built here (for seagrass, of the
    cube with its plume scenes' water masked, with ``deglint=GLINT_COMPOSITE`` as its months;
    for mangrove it is
    :func:`indices.evidence.baseline_composite`'s, filled: :mod:`indices.bap`; built here it
    takes ``evidence.fill``, else :func:`indices.bap.fill_lazily`), e.g. already computed for
    the evidence, so that it is not composited again; without it, lazily from the cube."""
    if habitat not in RULES:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULES)}")
    if evidence is None:
        evidence = site_evidence(baseline_composite(cube, habitat, baseline), habitat)
    rule = evidence.rule
    if habitat == "seagrass":
        # the bottom is not seen through a sediment plume: drop turbid scenes' water from the
        # composites as if it were defective (SCL 1), and flag months that were mostly turbid
        turbid, water = turbid_scenes(cube, rule)
        if scene_turbid is not None:
            turbid = turbid.copy(data=np.asarray(scene_turbid))
        cube = mask_turbid_water(cube, (turbid, water))
    # seagrass: blue and green as glint-consistent medians, the months as the baseline
    deglint = GLINT_COMPOSITE if habitat == "seagrass" else None
    months = monthly_composite(cube, MONTH_BANDS[habitat], clear_bands=BANDS, deglint=deglint)
    raw = None
    if base is None:
        base = raw = composite(cube, *baseline, deglint=deglint)
        if habitat == "mangrove":  # the evidence's fill (indices.bap), else made lazily
            base = filled(raw, cube, baseline, evidence.fill)
    map_scores = scores = habitat_score(months, habitat, rule, **evidence.month_scorer)
    base_score = habitat_score(base, habitat, rule, **evidence.scorer)
    if habitat == "seagrass":
        # the months judge only the water the baseline assessed: the extent and its change
        # are then over the same water all along (the rest stays in the interval), and a
        # month's noise (a single scene's atmosphere over deep water) is not taken for a
        # meadow the baseline could not see
        map_scores = scores = scores.where(base_score.notnull() if judged is None else judged)
        month_of = xr.DataArray(turbid["time"].values.astype("datetime64[M]")
                                .astype("datetime64[ns]"), dims="time", name="period")
        share = turbid.groupby(month_of).mean(skipna=True)
        turbid_month = (share >= 0.5).reindex(period=months["period"].values, fill_value=False)
        # a month mostly under a plume says nothing reliable about the bottom, even in the
        # scenes too cloudy to be judged turbid themselves: carry the last classes forward
        scores = scores.where(~turbid_month)
    else:
        turbid_month = xr.zeros_like(months["period"], dtype=bool)
    # the months' NDVI alone (their NDWI is not read): the kernel computes each index from
    # its own bands, so it is the same float32 either way, without a second layer a month
    month_ix, base_ix = compute_indices(months, "ndvi"), compute_indices(base, ["ndvi", "ndwi"])
    n_site = site_mask.sum()
    context = evidence.context if habitat == "mangrove" else None
    ends = (xr.zeros_like(site_mask, dtype=np.uint8) if context is None
            else (context == SHORE_WATER).astype(np.uint8))
    if habitat == "mangrove":  # the fill's pixels: unseen in the interval (ENDS_FILLED)
        ends = (ends | _filled_pixels(evidence.fill, raw, base, site_mask)
                .astype(np.uint8) * np.uint8(ENDS_FILLED)).astype(np.uint8)
    return MonthlyInputs(
        scores=scores, map_scores=map_scores, ndvi=month_ix["ndvi"], n_clear=months["n_clear"],
        base_score=base_score, base_red=base["B04"], base_nir=base["B08"],
        base_ndvi=base_ix["ndvi"], base_ndwi=base_ix["ndwi"], base_ends=ends,
        turbid=turbid_month.astype(np.float64).drop_vars(
            [c for c in turbid_month.coords if c != "period"]),
        baseline_observed_fraction=((base["n_clear"] > 0) & site_mask).sum() / n_site,
        assessable_fraction=(base_score.notnull() & site_mask).sum() / n_site,
        evidence=evidence,
        scene_turbid=turbid if habitat == "seagrass" else None,
    )


def _filled_pixels(fill, raw: xr.Dataset | None, base: xr.Dataset,
                   site_mask: xr.DataArray) -> xr.DataArray:
    """Boolean ``(y, x)``: the baseline pixels :mod:`indices.bap` filled from a month after
    the window: the site's computed ``fill``'s; else, with the window's own composite
    ``raw``, where it saw nothing and the (lazily) filled ``base`` did; else none (a ``base``
    given without its fill)."""
    if fill is not None and fill.filled:
        yx = site_mask.transpose("y", "x")
        data = fill.mask()
        if isinstance(yx.data, da.Array):  # the strips walk's: block by block
            data = da.from_array(data, chunks=yx.data.chunks)
        return yx.copy(data=data)
    if raw is not None and fill is None:
        return ((raw["n_clear"] == 0) & (base["n_clear"] > 0)).transpose("y", "x")
    return xr.zeros_like(site_mask, dtype=bool)


def monthly_table(table: xr.Dataset, baseline_observed_fraction, turbid,
                  assessable_fraction) -> xr.Dataset:
    """The change table of :func:`monthly_change` from its per-month metrics (lazy or
    computed, with the baseline's observed and assessable fractions and the plume flag per
    month alike): those added, all float64."""
    table = table.assign(baseline_observed_fraction=baseline_observed_fraction, turbid=turbid,
                         assessable_fraction=assessable_fraction)
    return table.astype({k: np.float64 for k in table.data_vars})


def monthly_change(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str, *,
                   baseline: tuple[dt.date, dt.date], pixel_area_ha: float,
                   mmu_ha: float = MMU_HA, evidence: SiteEvidence | None = None
                   ) -> xr.Dataset:
    """Per calendar month: extent, gain, loss, net change and interval against the baseline.

    The walk over the months takes whole maps (patches and the minimum mapping unit are not
    local): lazily, it holds every month of the site at once. :func:`walk_months` takes the
    same inputs one month at a time. ``evidence``: as for :func:`monthly_inputs`."""
    inputs = monthly_inputs(cube, site_mask, habitat, baseline=baseline, evidence=evidence)
    observe = wet_views_observe(habitat)  # the close-call ending needs the views (v12)
    table = change_metrics(inputs.scores, inputs.base_score, site_mask,
                           pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha,
                           strong=strong_look(habitat),
                           views=inputs.n_clear if observe else None,
                           ends=inputs.base_ends if observe else None,
                           ndvi=inputs.ndvi if observe else None, green=inputs.green)
    canopy = canopy_metrics(inputs.scores, inputs.ndvi, inputs.n_clear, *inputs.base[:5],
                            site_mask, habitat=habitat, pixel_area_ha=pixel_area_ha,
                            mmu_ha=mmu_ha)
    return monthly_table(table.merge(canopy), inputs.baseline_observed_fraction,
                         inputs.turbid, inputs.assessable_fraction)


MONTHLY_COLUMNS = (*CHANGE_METRICS, *CANOPY_METRICS)
"""The per-month values of :func:`walk_months`, in order."""


def walk_months(months: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                base: Sequence[np.ndarray], site: np.ndarray, *, habitat: str,
                pixel_area_ha: float, mmu_ha: float = MMU_HA, maps: bool = False,
                plume_months: bool = True, green: float = GREEN_NDVI,
                ) -> Iterator[tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]]:
    """The month walk of :func:`monthly_change` (and of :func:`flows.site.site_maps` with
    ``maps``) over computed maps, one month at a time.

    ``months`` yields, in order, each month's ``(score, map_score, ndvi, n_clear)`` (y, x)
    maps (see :class:`MonthlyInputs`); a generator computing each month when asked keeps one
    month in memory whatever their number. ``base``: the computed :attr:`MonthlyInputs.base`
    (its five canopy maps, then optionally :attr:`MonthlyInputs.base_ends`) as a list, which
    is emptied once the walks are set up (only the baseline score is needed after: pass the
    only references to drop the other maps).
    ``plume_months``: False when no month was dropped as turbid (the maps then share the
    table's walk instead of walking their own scores). Yields per month the values of
    :data:`MONTHLY_COLUMNS` and, with ``maps``, the month's ``(class, change)`` maps: the
    numbers of the lazy path, bit for bit. ``green``: the site's rule's ``ndvi_min``
    (:attr:`MonthlyInputs.green`; :func:`indices.change.monthly_states`).
    """
    site = np.asarray(site, bool)
    base_score = base[0]
    ends = base[5] if len(base) > 5 else None
    mmu = mmu_pixels(mmu_ha, pixel_area_ha)
    canopy = CanopyWalk(*base[:5], site, pixel_area_ha=pixel_area_ha, habitat=habitat)
    if isinstance(base, list):
        base.clear()
    score_in, map_in, views_in, ndvi_in = _Slot(), _Slot(), _Slot(), _Slot()
    strong = strong_look(habitat)
    views = views_in if wet_views_observe(habitat) else None
    ends = None if views is None else ends  # the ending reads the views (rule v12)
    kw = {"mmu_pixels": mmu, "strong": strong, "views": views, "ends": ends,
          "ndvi": None if ends is None else ndvi_in, "green": green}
    states = monthly_states(score_in, base_score, site, **kw)
    separate = maps and plume_months
    map_states = monthly_states(map_in, base_score, site, **kw) if separate else None
    mapper = MapsWalk(base_score, site) if maps else None
    for score, map_score, ndvi, n_clear in months:
        score_in.value, map_in.value, views_in.value = score, map_score, n_clear
        ndvi_in.value = ndvi
        m = next(states)
        row = np.concatenate([change_row(m, site, pixel_area_ha=pixel_area_ha, mmu_pixels=mmu),
                              canopy.step(m, ndvi, n_clear)])
        yield row, (mapper.step(next(map_states) if separate else m) if maps else None)


class _Slot:
    """An endless iterator of whatever was put in it last: feeds a generator one value per
    step, so the walk is driven month by month from outside."""

    value: np.ndarray | None = None

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        return self.value
