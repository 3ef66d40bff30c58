"""A site's evidence: what every scene and month of it is judged with, from its baseline.

The habitat rules need more than one month's pixels: mangrove the intertidal context (where
the baseline's time series saw the tide, :func:`indices.habitat.mangrove_context`), seagrass
the site's water (deep water, attenuation ratio, glint, noise:
:func:`indices.water.water_parameters`). Both come from the baseline composite, once per site:
the month walks (all at once, month by month, in strips), the per-scene statistics and the
loss alerts all take the same :class:`SiteEvidence`, so they judge alike and give the same
rows whichever way the months are walked.

The baseline composite of a seagrass site is made without the water of its plume scenes
(:func:`indices.habitat.turbid_scenes` among the baseline's own scenes: the evidence depends
on the baseline only, not on scenes added later).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr

from indices.bap import BaselineFill, fill_lazily
from indices.coast_maps import coast_codes, context_of_coast, evidence_maps, unpack_evidence
from indices.composite import composite
from indices.habitat import (
    RULES,
    MangroveRule,
    mask_turbid_water,
    seagrass_offset,
    turbid_scenes,
)
from indices.mangrove import (
    MANGROVE_PARAMETERS,
    METHODS,
    axis_report,
    floor_rule,
    mangrove_parameters,
)
from indices.mangrove_rule import baseline_bare, mangrove_candidates
from indices.seagrass_place import PLACE_LAYERS, place_inputs, place_map
from indices.seagrass_rule import GLINT_COMPOSITE
from indices.spectral import compute_indices
from indices.water import PARAMETERS, water_parameters

__all__ = ["SiteEvidence", "baseline_composite", "calibration_features", "mangrove_axis_report",
           "mangrove_final_context", "mangrove_first_pass", "site_evidence", "site_place",
           "with_site_values"]


@dataclass(frozen=True)
class SiteEvidence:
    """A site's rule and the evidence its scores read (lazy or computed)."""

    habitat: str
    rule: object
    """The site's rule (:mod:`indices.habitat`; a calibrated one, :mod:`indices.calibration`)."""
    context: xr.DataArray | None = None
    """Mangrove: intertidal context levels ``(y, x)`` uint8."""
    water: xr.DataArray | None = None
    """Seagrass: the water parameters ``(parameter,)`` (:data:`indices.water.PARAMETERS`)."""
    params: xr.DataArray | None = None
    """Mangrove: the site's threshold and canopy NDVI ``(parameter,)``
    (:data:`indices.mangrove.MANGROVE_PARAMETERS`)."""
    place: xr.DataArray | None = None
    """Seagrass (rule v6): the place map ``(layer, y, x)`` float32 of the baseline
    (:func:`indices.seagrass_place.place_map`): every walk and month reads the baseline's."""
    fill: BaselineFill | None = dataclasses.field(default=None, compare=False, repr=False)
    """Mangrove: the baseline's never-clear pixels filled (:mod:`indices.bap`), computed once,
    applied to every composite of the baseline the walks and alerts make; None: not known
    (computed where needed)."""

    @property
    def rule_id(self) -> str:
        """:func:`indices.habitat.rule_id` of the rule: the change rows' ``rule_id``."""
        return self.rule.rule_id

    @property
    def scorer(self) -> dict:
        """The keyword :func:`indices.habitat.habitat_score` takes the evidence as."""
        if self.habitat == "mangrove":
            return {"context": self.context, "params": self.params}
        return {"water": self.water, "place": self.place}

    @property
    def month_scorer(self) -> dict:
        """:attr:`scorer` for a month's composite or a single scene (seagrass: judged with the
        baseline's place map as :func:`indices.seagrass_rule.seagrass_score` ``month``)."""
        return self.scorer if self.habitat == "mangrove" else {**self.scorer, "month": True}

    @property
    def scene_scorer(self) -> dict:
        """:attr:`scorer` for a single scene (the per-scene statistics): seagrass, by the
        gate alone (what the fused kernel counts) unless the rule's ``place_months``."""
        if self.habitat == "mangrove" or getattr(self.rule, "place_months", False):
            return self.month_scorer
        return {"water": self.water}

    @property
    def arrays(self) -> tuple:
        """The lazy parts, to be computed (``dask.compute(*ev.arrays)``) and given back
        through :meth:`with_arrays`."""
        if self.habitat == "mangrove":
            return (self.context, self.params)
        return (self.water,) if self.place is None else (self.water, self.place)

    def with_arrays(self, arrays) -> SiteEvidence:
        """The evidence with its parts replaced by ``arrays`` (computed ones)."""
        if self.habitat == "mangrove":
            context, params = arrays
            return SiteEvidence(self.habitat, self.rule, context=context, params=params,
                                fill=self.fill)
        water, *place = arrays
        return SiteEvidence(self.habitat, self.rule, water=water,
                            place=place[0] if place else None)

    def summary(self) -> dict:
        """JSON-able description for the run record: the rule's id and thresholds, and the
        fitted water (seagrass) or the share of the grid in each context level (mangrove);
        call on computed evidence."""
        out: dict = {"rule_id": self.rule_id, "source": getattr(self.rule, "source", "")}
        if isinstance(self.rule, MangroveRule):
            out["thresholds"] = _parameters(self.rule)
            if self.fill is not None:  # the baseline's never-clear pixels (indices.bap)
                out["fill"] = self.fill.summary()
            if self.context is not None:
                levels = np.asarray(self.context)
                out["context_shares"] = {name: round(float((levels == v).mean()), 6)
                                         for name, v in (("connected", 1), ("intertidal", 2),
                                                           ("tidal", 3),
                                                           ("shore_water", 4))}
            if self.params is not None:
                values = np.asarray(self.params, np.float64)
                out["site"] = {k: (round(float(v), 6) if np.isfinite(v) else None)
                               for k, v in zip(MANGROVE_PARAMETERS, values, strict=True)}
                # which boundary the site's threshold came from, by name: bayes, otsu, none
                out["site"]["mvi_method"] = METHODS.get(int(out["site"]["mvi_method"] or 0))
        else:
            out["thresholds"] = _parameters(self.rule)
            if self.water is not None:
                values = np.asarray(self.water, np.float64)
                out["water"] = {k: (round(float(v), 6) if np.isfinite(v) else None)
                                for k, v in zip(PARAMETERS, values, strict=True)}
            if self.place is not None:  # rule v6: the pixels the place map supports
                level = np.asarray(self.place.sel(layer="sand_blue"))
                out["place_pixels"] = int(np.isfinite(level).sum())
        return out


def _parameters(rule) -> dict:
    """Every parameter of ``rule`` but its ``source`` (said apart), JSON-able: the record
    holds all that decides a pixel, tolerances and view counts included."""
    return {f.name: (list(v) if isinstance(v := getattr(rule, f.name), tuple) else v)
            for f in dataclasses.fields(rule) if f.name != "source"}


def baseline_composite(cube: xr.Dataset, habitat: str, baseline: tuple[dt.date, dt.date],
                       rule=None) -> xr.Dataset:
    """The site's baseline composite the evidence is read from (seagrass: without the water
    of the baseline's plume scenes, blue and green as :data:`indices.seagrass_rule.
    GLINT_COMPOSITE` says), lazy when the cube is. A mangrove site's pixels that no baseline
    scene saw clear take the first clear month within a year after the window
    (:func:`indices.bap.fill_lazily`: every month of the bound composited, lazily; the flow
    computes the fill by need instead, :func:`flows.site.evidence.site_evidence_of` with
    :func:`indices.bap.baseline_fill`); seagrass is not filled."""
    if habitat == "seagrass":
        times = cube["time"].values
        inside = ((times >= np.datetime64(baseline[0]))
                  & (times < np.datetime64(baseline[1]) + np.timedelta64(1, "D")))
        base_cube = cube.isel(time=np.flatnonzero(inside))
        flags = turbid_scenes(base_cube, rule or RULES[habitat])
        return composite(mask_turbid_water(base_cube, flags), *baseline, deglint=GLINT_COMPOSITE)
    return fill_lazily(composite(cube, *baseline), cube, baseline)


def site_evidence(base: xr.Dataset, habitat: str, rule=None,
                  replaces: Mapping[str, float] | None = None,
                  fill: BaselineFill | None = None) -> SiteEvidence:
    """The evidence of a site (module doc) from its baseline composite ``base``
    (:func:`baseline_composite`), lazy when ``base`` is; ``replaces``: a mangrove
    calibration's fitted values (:func:`mangrove_first_pass`); ``fill``: the fill ``base``
    has (:func:`indices.bap.baseline_fill`), kept with the evidence."""
    if habitat not in RULES:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULES)}")
    rule = rule or RULES[habitat]
    if habitat == "mangrove":
        # the published rule's context, the site's own threshold and canopy NDVI from it and
        # from the canopy along the coast's water, then the context of the site's rule
        params, codes = mangrove_first_pass(base, rule, replaces)
        return SiteEvidence(habitat, rule, context=mangrove_final_context(base, rule, params,
                                                                          codes),
                            params=params, fill=fill)
    water = water_parameters(base, rule)
    place = site_place(base, rule, water) if getattr(rule, "place_test", False) else None
    return SiteEvidence(habitat, rule, water=water, place=place)


def site_place(base: xr.Dataset, rule, water: xr.DataArray) -> xr.DataArray:
    """The place map of a seagrass site (:func:`indices.seagrass_place.place_map`), lazy when
    ``base`` or ``water`` is: then one whole-site task that reads the computed composite
    and water (the map is whole-site by construction), one block, NaN-filled float32."""
    needed = place_inputs(base)
    if not any(isinstance(a.data, da.Array) for a in (*needed.data_vars.values(), water)):
        return place_map(needed, rule, water)

    def values(b, w):
        return place_map(b, rule, w).values

    shape = (len(PLACE_LAYERS), base.sizes["y"], base.sizes["x"])
    data = da.from_delayed(dask.delayed(values)(needed, water), shape, np.float32)
    return xr.DataArray(data, dims=("layer", "y", "x"), name="seagrass_place",
                        coords={"layer": list(PLACE_LAYERS), "y": base["y"], "x": base["x"]})


def mangrove_first_pass(base: xr.Dataset, rule: MangroveRule,
                        replaces: Mapping[str, float] | None = None
                        ) -> tuple[xr.DataArray, xr.DataArray]:
    """A mangrove site's parameters (:func:`indices.mangrove.mangrove_parameters`) from its
    baseline composite ``base`` and the published ``rule``'s context, its floor rule's
    context and its shore band, and the coast's water and tidal flat those maps came from
    (:func:`indices.coast_maps.coast_codes`), which the site's final context reads
    (:func:`mangrove_final_context`): lazy when ``base`` is. The three maps are computed
    in one pass over the composite's blocks (:func:`indices.coast_maps.evidence_maps`: the
    coast's water once a block, not once a map; the same maps as
    :func:`indices.habitat.mangrove_context` and :func:`indices.context.shore_band` apart,
    ``tests/test_evidence_maps.py``). ``replaces``: a calibration's fitted values in place of
    the site's own (:func:`with_site_values`), which the final context and every walk then
    read."""
    packed = _evidence_maps(base, rule)
    maps = unpack_evidence(packed)
    reach = maps["floor"] if rule.scene_threshold else None
    params = mangrove_parameters(base, rule, maps["context"], maps["shore"], reach)
    if replaces:
        params = with_site_values(params, replaces)
    return params, coast_codes(packed)


def with_site_values(params: xr.DataArray, replaces: Mapping[str, float]) -> xr.DataArray:
    """A mangrove site's parameters with the values ``replaces`` (by name: a calibration's,
    :attr:`indices.calibration.Calibration.replaces`) in place of its own, lazy when
    ``params`` is."""
    names = list(params["parameter"].values)
    values = xr.DataArray(np.array([replaces.get(n, np.nan) for n in names], np.float64),
                          dims="parameter", coords={"parameter": names})
    keep = values["parameter"].isin(list(replaces))
    return xr.where(keep, values, params).rename(params.name)


def mangrove_axis_report(base: xr.Dataset, rule: MangroveRule) -> dict[str, float]:
    """numpy, for the record: how a site's discriminant axis was split
    (:func:`indices.mangrove.axis_report`), from the maps :func:`mangrove_first_pass`
    reads."""
    maps = unpack_evidence(_evidence_maps(base, rule))
    reach = maps["floor"] if rule.scene_threshold else None
    return axis_report(base, rule, maps["context"], maps["shore"], reach)


def mangrove_final_context(base: xr.Dataset, rule: MangroveRule, params: xr.DataArray,
                           codes: xr.DataArray) -> xr.DataArray:
    """The site's context: :func:`indices.habitat.mangrove_context` of ``base`` with its
    parameters ``params``, from the coast ``codes`` of :func:`mangrove_first_pass` (the
    coast's water not computed again; the same levels)."""
    return context_of_coast(codes, mangrove_candidates(base, rule, params),
                            baseline_bare(base, rule), shore_gap_m=rule.shore_gap_m,
                            reach_m=rule.reach_m, shore_ground_m=rule.shore_ground_m)


def _evidence_maps(base: xr.Dataset, rule: MangroveRule) -> xr.DataArray:
    """:func:`indices.coast_maps.evidence_maps` of a mangrove baseline: the published rule's
    context (:func:`indices.habitat.mangrove_context`), that of the rule at its floor
    (:func:`indices.mangrove.floor_rule`, when the rule estimates a site threshold) and the
    shore band (:func:`indices.context.shore_band`, ``band_m`` the rule's shore gap)."""
    candidates = mangrove_candidates(base, rule)
    floor = mangrove_candidates(base, floor_rule(rule)) if rule.scene_threshold else None
    return evidence_maps(base["n_wet"], base["n_clear"], candidates, floor,
                         min_views=rule.min_views, shore_gap_m=rule.shore_gap_m,
                         reach_m=rule.reach_m, band_m=rule.shore_gap_m)


def calibration_features(base: xr.Dataset, habitat: str, rule=None,
                         water: xr.DataArray | None = None) -> dict[str, xr.DataArray]:
    """The ``(y, x)`` feature maps :func:`indices.calibration.calibrate` fits thresholds on:
    mangrove NDVI and MVI of the baseline composite; seagrass the bottom's depth-invariant
    index against the site's sand, ``dii_offset`` (NaN where not assessable,
    :func:`indices.habitat.seagrass_offset`)."""
    rule = rule or RULES[habitat]
    if habitat == "mangrove":
        ix = compute_indices(base, ["ndvi", "mvi"])
        return {"ndvi": ix["ndvi"], "mvi": ix["mvi"]}
    _, offset = seagrass_offset(base, rule, water)
    return {"dii_offset": offset}
