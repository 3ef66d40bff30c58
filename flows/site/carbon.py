"""One site's carbon ledger and extent account, as the run's carbon step computes them.

    site_factor_sets(sites, factors_file) -> {site_id: FactorSet}     before any work
    carbon_rows(site, change, factors, accuracy=...) -> carbon/ rows  (indices.carbon)
    account_rows(site, change, maps=...) -> accounts/ rows            (indices.accounts)

Both are recomputed over the site's whole stored series every run (a month's carbon depends on
the months before it: cohorts of gained area age, lost soil keeps emitting). The factors are
the IPCC Tier 1 defaults of the site's habitat and climate zone, overridden by the site's
``carbon_factors`` property and then by its table in a ``factors.toml``
(:func:`load_factors_file`; format in docs/design.md). Reading and writing are the flow's
(:mod:`flows.monitor`, :mod:`flows.results.carbon`); nothing here touches the results folder.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aoi import Site
from flows import PROCESSING_VERSION
from flows.config import read_toml
from flows.results.carbon import YearMaps
from indices.accounts import extent_account, extent_account_from_maps
from indices.carbon import DEFAULT_DRAWS, carbon_ledger, site_seed, with_error_adjusted_areas
from indices.carbon_factors import (
    FactorsError,
    FactorSet,
    factors_id,
    site_factors,
)

__all__ = ["FACTORS_FILE_KEYS", "FactorsError", "YearMaps", "account_rows", "carbon_rows",
           "closing_periods", "factors_record", "load_factors_file", "site_factor_sets"]

FACTORS_FILE_KEYS = ("climate_zone", "annual_precipitation_mm")
"""Keys of a site's ``factors.toml`` table that are not factors but choose the defaults (read
as the site properties of the same names, which they override)."""
_MAX_FACTORS_BYTES = 1 << 20


def load_factors_file(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """The tables of a ``factors.toml``, by site id (``{}`` for None). One table per site::

        [selangor-kuala-selangor]
        source = "14 plots, 2024 field campaign"       # required: where the numbers come from
        agb_t_dm_ha = { mean = 212.0, se = 18.5 }      # or { value, low, high }, or a number
        climate_zone = "tropical_wet"                  # optional, see FACTORS_FILE_KEYS

    Raises :class:`FactorsError` (one line) when the file cannot be read or is not TOML."""
    if path is None:
        return {}
    path = Path(path)
    data = read_toml(path, "factors file", _MAX_FACTORS_BYTES, FactorsError)
    bad = [k for k, v in data.items() if not isinstance(v, dict)]
    if bad:
        raise FactorsError(f"factors file {path}: {bad[0]!r} is not a table; give one "
                           "[site-id] table per site")
    return data


def _property_factors(site: Site) -> Any:
    spec = site.properties.get("carbon_factors")
    if isinstance(spec, str):  # a GeoPackage or shapefile field holds the mapping as JSON text
        try:
            return json.loads(spec)
        except json.JSONDecodeError:
            raise FactorsError("carbon_factors must be a mapping (JSON text in a GeoPackage "
                               "or shapefile field)") from None
    return spec


def _site_factor_set(site: Site, table: Mapping[str, Any] | None) -> FactorSet:
    props = dict(site.properties)
    props["carbon_factors"] = _property_factors(site)
    spec = None
    if table is not None:
        spec = {k: v for k, v in table.items() if k not in FACTORS_FILE_KEYS}
        props.update({k: table[k] for k in FACTORS_FILE_KEYS if k in table})
    return site_factors(site.habitat, site.geometry.centroid.y, props, spec)


def site_factor_sets(sites: list[Site], factors_file: str | Path | None = None
                     ) -> dict[str, FactorSet]:
    """The factors each site's ledger uses (:func:`indices.carbon_factors.site_factors`).
    Refused in one line (:class:`FactorsError`, naming the site) before any work: a bad
    override, an unknown climate zone, or a ``factors.toml`` table for a site that is not in
    ``sites`` (a mistyped id would silently leave the defaults in place)."""
    tables = load_factors_file(factors_file)
    unknown = sorted(set(tables) - {s.id for s in sites})
    if unknown:
        raise FactorsError(f"factors file {factors_file}: no site {unknown[0]!r} in the sites "
                           f"file (sites: {', '.join(s.id for s in sites)})")
    out = {}
    for site in sites:
        try:
            out[site.id] = _site_factor_set(site, tables.get(site.id))
        except FactorsError as exc:
            where = "factors file" if site.id in tables else "carbon_factors"
            raise FactorsError(f"site {site.id} ({where}): {exc}") from None
    return out


def factors_record(factors: FactorSet) -> dict[str, Any]:
    """What the run record keeps of a site's factors: id, method, climate zone, where the
    overrides came from, and every factor with its interval, unit, source and check."""
    return {
        "factors_id": factors_id(factors), "method": factors.method,
        "habitat": factors.habitat, "climate_zone": factors.climate_zone,
        "overrides_from": factors.note or None,
        "factors": {name: dataclasses.asdict(f) for name, f in factors.factors().items()},
    }


def _assessed_months(accuracy: pd.DataFrame, site_id: str) -> set[pd.Period]:
    """Months whose assessment gives the three classes the ledger uses."""
    need = {"stable_habitat", "gain", "loss"}
    rows = accuracy[accuracy["site_id"] == site_id]
    months = pd.to_datetime(rows["period"]).dt.to_period("M")
    return {m for m, g in rows.groupby(months) if need <= set(g["class"])}


def carbon_rows(site: Site, change: pd.DataFrame, factors: FactorSet, *,
                accuracy: pd.DataFrame | None = None, seed: int = 0,
                n_draws: int = DEFAULT_DRAWS, run_id: str = "") -> pd.DataFrame:
    """The ``carbon/`` rows of ``site`` (one per change row) from its stored ``change`` rows.

    Where ``accuracy`` (rows of the ``accuracy`` table) assesses a month, that month's areas
    and intervals are the error-adjusted ones (:func:`indices.carbon.with_error_adjusted_areas`;
    ``area_source`` says ``accuracy assessment``), else the map's (``map``). The Monte Carlo is
    seeded from ``seed`` and the site id (:func:`indices.carbon.site_seed`): the same inputs give
    the same rows."""
    rows = change[change["site_id"] == site.id].copy()
    rows["period"] = pd.to_datetime(rows["period"])
    assessed: set[pd.Period] = set()
    if accuracy is not None and len(accuracy):
        assessed = _assessed_months(accuracy, site.id)
        if assessed:
            rows = with_error_adjusted_areas(rows, accuracy)
    ledger = carbon_ledger(rows, factors, baseline_end=site.baseline_end, n_draws=n_draws,
                           seed=site_seed(seed, site.id))
    months = pd.to_datetime(ledger["period"]).dt.to_period("M")
    ledger["area_source"] = np.where(months.isin(list(assessed)), "accuracy assessment", "map")
    ledger["processing_version"] = PROCESSING_VERSION
    ledger["run_id"] = run_id
    return ledger


def account_rows(site: Site, change: pd.DataFrame, maps: YearMaps | None = None,
                 run_id: str = "") -> pd.DataFrame:
    """The ``accounts/`` rows of ``site``, one per calendar year of its change rows: from the
    year-end class maps when ``maps`` has one for every year (gross pixel transitions, and
    fragmentation), else from the change table (net of re-gains within the year, no
    fragmentation); ``flows_from`` says which. Each year closes at its last stored month
    (``closing_period``: a year still under way closes at its latest month)."""
    rows = change[change["site_id"] == site.id]
    closing = closing_periods(change, site.id)
    if maps is not None and set(maps.year_end) == set(closing):
        account = extent_account_from_maps(site.id, site.habitat, maps.opening, maps.year_end,
                                           pixel_size_m=maps.pixel_size_m)
        account["flows_from"] = "class maps"
    else:
        account = extent_account(rows)
        account["flows_from"] = "change table"
    account["closing_period"] = [closing[int(y)].date() for y in account["year"]]
    account["processing_version"] = PROCESSING_VERSION
    account["run_id"] = run_id
    return account


def closing_periods(change: pd.DataFrame, site_id: str) -> dict[int, pd.Timestamp]:
    """The last stored month of each calendar year of a site's change rows."""
    when = pd.to_datetime(change.loc[change["site_id"] == site_id, "period"])
    return {int(y): ts for y, ts in when.groupby(when.dt.year).max().items()}

