"""A site's table rows: observations (one per scene) and change (one per month), and the
restoration trajectory against a reference site."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from aoi import Site
from flows import PROCESSING_VERSION
from flows.config import CLOSURE_RATIO
from flows.sources import SceneRef
from indices.summary import OBSERVATION_INDICES

__all__ = ["change_rows", "empty_change", "observation_rows", "recovery_trajectory"]


def observation_rows(site: Site, scenes: list[SceneRef], stats: xr.Dataset | None,
                     run_id: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "site_id": site.id,
        "scene_id": [s.scene_id for s in scenes],
        "datetime": pd.to_datetime([s.datetime for s in scenes], utc=True).as_unit("us"),
        "source": [s.source for s in scenes],
    })
    columns = ["valid_fraction", "cloud_fraction", *(f"{n}_mean" for n in OBSERVATION_INDICES),
               "habitat_area_ha"]
    for col in columns:
        frame[col] = np.asarray(stats[col].values, np.float64) if stats is not None else np.nan
    frame["processing_version"] = PROCESSING_VERSION
    frame["run_id"] = run_id
    return frame


def empty_change() -> pd.DataFrame:
    return pd.DataFrame(columns=["site_id", "habitat", "period"])


def change_rows(site: Site, monthly: xr.Dataset, *, obs_all: pd.DataFrame,
                run_id: str, rule_id: str | None = None,
                filled_fraction: float | None = None) -> pd.DataFrame:
    """One row a month; ``rule_id``: the site's rule (:func:`indices.habitat.rule_id`);
    ``filled_fraction`` (mangrove): the share of the site whose baseline the fill gave a view
    (:meth:`indices.bap.BaselineFill.site_fraction`, 0 without one), which ``monthly``'s
    ``baseline_observed_fraction`` counts as seen: the rows keep the two apart
    (``baseline_observed_fraction`` seen in the window, ``baseline_filled_fraction`` filled).
    None (seagrass): no fill, the column null."""
    periods = pd.to_datetime(monthly["period"].values)
    months = obs_all["datetime"].dt.tz_convert(None).dt.to_period("M")
    usable = obs_all[obs_all["valid_fraction"] > 0]
    n_obs = usable.groupby(months[usable.index]).size()
    frame = pd.DataFrame({
        "site_id": site.id,
        "habitat": site.habitat,
        "period": [p.date() for p in periods],
        "n_observations": [int(n_obs.get(p.to_period("M"), 0)) for p in periods],
    })
    for col in ("valid_fraction", "extent_ha", "baseline_extent_ha", "gain_ha", "loss_ha",
                "net_change_ha", "extent_ci_low_ha", "extent_ci_high_ha", "gain_ci_low_ha",
                "gain_ci_high_ha", "loss_ci_low_ha", "loss_ci_high_ha",
                "baseline_observed_fraction", "canopy_20_50_ha", "canopy_50_80_ha",
                "canopy_80_100_ha", "habitat_ndvi_mean", "restored_ndvi_mean"):
        frame[col] = np.round(np.asarray(monthly[col].values, np.float64), 6)
    if site.habitat != "mangrove":
        frame[["canopy_20_50_ha", "canopy_50_80_ha", "canopy_80_100_ha"]] = np.nan
    if filled_fraction is not None:
        observed = np.asarray(monthly["baseline_observed_fraction"].values, np.float64)
        frame["baseline_observed_fraction"] = np.round(observed - filled_fraction, 6)
    frame["baseline_filled_fraction"] = (np.nan if filled_fraction is None
                                         else round(filled_fraction, 6))
    frame["turbid"] = np.asarray(monthly["turbid"].values) > 0.5
    frame["recovery_ratio"] = np.nan  # filled by the flow for sites with a reference_site
    frame["canopy_closure_period"] = None
    frame["processing_version"] = PROCESSING_VERSION
    frame["run_id"] = run_id
    frame["assessable_fraction"] = np.round(
        np.asarray(monthly["assessable_fraction"].values, np.float64), 6)
    frame["rule_id"] = rule_id
    return frame


def recovery_trajectory(site_rows: pd.DataFrame, reference_rows: pd.DataFrame) -> pd.DataFrame:
    """The site's change rows with ``recovery_ratio`` and ``canopy_closure_period`` filled in.

    ``recovery_ratio`` = mean NDVI of the restoration zone / mean NDVI of the reference site's
    intact habitat, month by month; ``canopy_closure_period`` = the first month the ratio
    reaches ``CLOSURE_RATIO`` (set on that month and every later one, empty before).
    """
    reference = reference_rows.set_index("period")["habitat_ndvi_mean"]
    out = site_rows.sort_values("period").copy()
    out["recovery_ratio"] = (out["restored_ndvi_mean"] / out["period"].map(reference)).round(6)
    closed = out.loc[out["recovery_ratio"] >= CLOSURE_RATIO, "period"]
    first = closed.min() if len(closed) else None
    out["canopy_closure_period"] = [first if first is not None and p >= first else None
                                    for p in out["period"]]
    return out.reset_index(drop=True)
