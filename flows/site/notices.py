"""What makes a site's rows less than a measurement, said in one line each.

:func:`site_warnings` gathers them for :func:`flows.site.tables.site_tables`: a calibration's
(:attr:`indices.calibration.Calibration.warnings`: labels that could not teach a threshold)
and :func:`context_warning`'s (a mangrove baseline that built no intertidal context), then
:func:`fill_warning`'s (a baseline mostly of the months after its window). The run
logs each line and keeps it in its record (``sites[id]["warnings"]``).
"""

from __future__ import annotations

import dask
import numpy as np
import xarray as xr

from aoi import Site
from flows.sources import SceneRef
from indices.composite import composite
from indices.context import intertidal_zone

__all__ = ["context_warning", "fill_warning", "site_warnings"]


def site_warnings(record: dict, context_line: str | None) -> tuple[str, ...]:
    """The site's lines: its calibration's (from its run-record entry ``record``), then the
    context's."""
    calibration = tuple(record.get("calibration", {}).get("warnings", ()))
    return calibration + ((context_line,) if context_line is not None else ())


def fill_warning(site: Site, change) -> str | None:
    """One line when the fill (:mod:`indices.bap`, mangrove rule v17) gave more of the site
    a baseline than the window itself saw (``change``'s ``baseline_filled_fraction`` above
    its ``baseline_observed_fraction``): the baseline is then mostly of later months, and
    its intertidal context of their views (a window that saw a few tidal pixels and little
    else: ``benchmarks/measured/mang40``); None otherwise (seagrass, no fill, no rows)."""
    if site.habitat != "mangrove" or not len(change):
        return None
    filled = float(change["baseline_filled_fraction"].iloc[0])
    seen = float(change["baseline_observed_fraction"].iloc[0])
    if not filled > seen:
        return None
    return (f"{site.id}: its baseline window saw {seen:.1%} of the site clear and "
            f"{filled:.1%} was filled from the 12 months after it: the baseline is mostly "
            f"of later months; lengthen the baseline window")


def context_warning(site: Site, evidence, mask: xr.DataArray, scenes: list[SceneRef],
                    cube: xr.Dataset | None = None) -> str | None:
    """One line when a mangrove site's baseline could not build the intertidal context
    (:mod:`indices.context`): no pixel of the site is tidal flat or canopy connected to the
    coast's water the baseline saw. Without it every pixel is "not mangrove" by construction
    and the site's 0 ha are not a measurement; the rows then say that nothing was assessable
    (``assessable_fraction`` 0). None otherwise (a seagrass site, a calibrated or computed
    context that reaches the site).

    The line names the cause, from the context itself and the baseline's clear and wet
    views on the site's grid (``cube``, the site's scenes; without it the last three causes
    are not told apart):

    * *out of reach*: the context reaches the grid but not the polygon: the coast is there,
      the polygon lies further than ``reach_m`` from its water (or holds no canopy joined to
      it);
    * *no tide seen*: fewer than ``min_views`` clear views a pixel on part of the grid, or
      water seen but never coming and going (one scene shows one water line, not a tide; a
      month or two of a 10-day revisit under clouds often not even that): lengthen the
      baseline;
    * *no coast*: 95 % of the grid at least seen clear ``min_views`` times, and no water
      seen anywhere on it: mangrove grows between mean sea level and the highest tides, so the
      polygon is likely not on a coast (its place or CRS);
    * *no sea*: water came and went, but joins no sea or wide channel on the grid (paddies,
      ponds, seasonal floods inland): the grid must reach the coast's open water; unless the
      window saw less than 95 % of the grid over ``min_views`` clear views (a clouded
      window: its sea may lie under the clouds): lengthen the baseline.
    """
    context = getattr(evidence, "context", None)
    if site.habitat != "mangrove" or context is None:
        return None
    inside = np.asarray(mask.transpose("y", "x").values, bool)
    context = np.asarray(context)
    if (context[inside] != 0).any():
        return None
    n_base = sum(site.baseline_start <= s.datetime.date() <= site.baseline_end for s in scenes)
    head = (f"site {site.id!r}: no intertidal context, so no mangrove could be judged: its "
            f"baseline ({site.baseline_start}..{site.baseline_end}, {n_base} scene(s))")
    tail = "its extents are 0 ha by construction, not measured (assessable_fraction 0)"
    views = evidence.rule.min_views
    if (context != 0).any():
        return (f"{head} built the coast's context on the site's grid, but none of it inside "
                f"the site's polygon: it lies further than {evidence.rule.reach_m:g} m from "
                f"the coast's water, or holds no canopy joined to it; {tail}: check the "
                f"polygon against the coast")
    cause = None if cube is None else _cause(cube, site, views)
    if cause == "no coast":
        return (f"{head} saw no water anywhere on the site's grid, so no coast (mangrove grows "
                f"between mean sea level and the highest tides); {tail}: check that the "
                f"site's polygon lies on the coast (its coordinates and CRS)")
    if cause == "no sea, clouded":
        return (f"{head} saw water come and go on the part of the site's grid it saw, but "
                f"none of it joins a sea or a wide channel, and less than 95 % of the grid "
                f"had {views} clear views (the sea may lie under its clouds); {tail}: "
                f"lengthen the baseline to several months of clear views")
    if cause == "no sea":
        return (f"{head} saw water come and go, but none of it joins a sea or a wide channel "
                f"on the site's grid (inland floods, paddies, ponds); {tail}: if the site is "
                f"on a coast, let its polygon reach the open water")
    return (f"{head} did not see the coast's water come and go (at least {views} clear "
            f"views a pixel, wet and dry); {tail}: lengthen the baseline to several months "
            f"of clear views")


def _cause(cube: xr.Dataset, site: Site, min_views: int) -> str:
    """``"no tide"``, ``"no coast"``, ``"no sea"`` or ``"no sea, clouded"`` (the window saw
    less than 95 % of the grid over ``min_views`` clear views, as for "no coast": its sea
    may lie under the clouds) (:func:`context_warning`), from the
    baseline window's own composite counts over the site's grid (computed here: a site that
    warns), never its fill's (:mod:`indices.bap`): a month after the window that the fill
    lent a pixel is not the window's tide (review of rule v16, session 36)."""
    baseline = (site.baseline_start, site.baseline_end)
    base = composite(cube, *baseline)
    n_wet, n_clear = (np.asarray(a) for a in dask.compute(
        base["n_wet"].transpose("y", "x").data, base["n_clear"].transpose("y", "x").data))
    # "no coast" claims that no water is there: only where (nearly) all of the grid was
    # seen (dark water that Sen2Cor flags as shadow or cloud, or a tile's edge, leaves the
    # water unseen: that is too few views); 95 % is this project's choice
    seen = (n_clear >= min_views).mean() >= 0.95
    if seen and not (n_wet > 0).any():
        return "no coast"
    if intertidal_zone(n_wet, n_clear, min_views).any():
        # a window that saw the grid saw its sea; one that saw part of it may have missed it
        return "no sea" if seen else "no sea, clouded"
    return "no tide"
