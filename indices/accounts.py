"""Ecosystem extent accounts (SEEA Ecosystem Accounting layout), fragmentation, extent trend.

One row per site and calendar year: opening extent, additions, reductions, net change, closing
extent (United Nations et al. 2021, *System of Environmental-Economic Accounting - Ecosystem
Accounting*, the ecosystem extent account), with ``closing = opening + additions - reductions``
exactly and each year's closing carried as the next year's opening (both by construction).

Two ways to the additions and reductions:

* :func:`extent_account_from_maps` (preferred): pixel transitions between the year-end class
  maps (``<out>/maps/<id>/<YYYY-12>_class.tif``, after the minimum mapping unit, as the maps
  are): additions are pixels not habitat at the end of the year before (or in the baseline) and
  habitat at the end of this one, reductions the reverse. These are gross flows.
* :func:`extent_account` from the change table alone. Gain and loss there are cumulative since
  the baseline, and either can fall: a pixel gained and lost again leaves ``gain_ha``; a lost
  pixel that comes back leaves ``loss_ha``. So a year's additions are the rise of ``gain_ha`` plus
  the fall of ``loss_ha``, and its reductions the fall of ``gain_ha`` plus the rise of
  ``loss_ha``, between the year-end months. These flows are netted within each of gain and loss
  (a gain here and a re-loss there in the same year cancel): a lower bound of the gross flows.
  The net change is the same either way.

Fragmentation (:func:`fragmentation`) of a class map: patches of 8-connected habitat pixels
(scipy.ndimage), their mean area, and edge density, the length of habitat / non-habitat pixel
sides inside the site in metres per hectare of site (McGarigal's FRAGSTATS ED; edges on the
site's own boundary are not counted, as the boundary is the polygon's, not the habitat's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from indices.patches import EIGHT_CONNECTED

__all__ = ["ACCOUNT_COLUMNS", "ExtentTrend", "Fragmentation", "baseline_class_map",
           "extent_account", "extent_account_from_maps", "extent_trend", "fragmentation",
           "gbf_a2"]

ACCOUNT_COLUMNS = ("site_id", "year", "habitat", "opening_ha", "additions_ha", "reductions_ha",
                   "net_change_ha", "closing_ha", "n_patches", "mean_patch_ha",
                   "edge_density_m_per_ha")
"""The ``accounts/`` table's contract (design.md, second round)."""

HABITAT, NODATA = 1, 255
"""Class map codes (:mod:`indices.maps`): 0 not habitat, 1 habitat, 255 no data."""


@dataclass(frozen=True)
class Fragmentation:
    """Fragmentation of one class map."""

    n_patches: int
    """Patches of 8-connected habitat pixels."""
    mean_patch_ha: float
    """Habitat area / number of patches (NaN without habitat)."""
    edge_density_m_per_ha: float
    """Habitat edge inside the site (m) per hectare of site."""


def _habitat_and_site(class_map: np.ndarray, site: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(class_map)
    if m.ndim != 2:
        raise ValueError(f"class map must be 2-D, got shape {m.shape}")
    if m.dtype == bool:
        inside = np.ones(m.shape, bool) if site is None else np.asarray(site, bool)
        return m & inside, inside
    inside = (m != NODATA) if site is None else (np.asarray(site, bool) & (m != NODATA))
    return (m == HABITAT) & inside, inside


def baseline_class_map(change_map: np.ndarray) -> np.ndarray:
    """The baseline's class map (0/1/255) from any month's change map (0 stable non-habitat,
    1 stable habitat, 2 gain, 3 loss, 255 no data: :mod:`indices.maps`): habitat in the
    baseline is stable habitat or loss. The opening map of the first year."""
    m = np.asarray(change_map)
    out = np.where((m == 1) | (m == 3), HABITAT, 0).astype(np.uint8)
    out[m == NODATA] = NODATA
    return out


def fragmentation(class_map: np.ndarray, *, pixel_size_m: float = 10.0,
                  site: np.ndarray | None = None) -> Fragmentation:
    """:class:`Fragmentation` of ``class_map`` (codes 0/1/255, or a boolean habitat mask).

    ``site``: the pixels inside the site (default: not 255; all pixels for a boolean map).
    ``pixel_size_m``: side of a pixel. Edge: each side shared by a habitat pixel and a
    non-habitat pixel, both inside the site, counts ``pixel_size_m`` metres.
    """
    if pixel_size_m <= 0:
        raise ValueError(f"pixel_size_m must be > 0, got {pixel_size_m}")
    habitat, inside = _habitat_and_site(class_map, site)
    pixel_ha = pixel_size_m**2 / 10_000.0
    _, n = ndimage.label(habitat, structure=EIGHT_CONNECTED)
    other = inside & ~habitat
    sides = (np.count_nonzero(habitat[:, :-1] & other[:, 1:])
             + np.count_nonzero(other[:, :-1] & habitat[:, 1:])
             + np.count_nonzero(habitat[:-1, :] & other[1:, :])
             + np.count_nonzero(other[:-1, :] & habitat[1:, :]))
    site_ha = np.count_nonzero(inside) * pixel_ha
    area = np.count_nonzero(habitat) * pixel_ha
    return Fragmentation(int(n), area / n if n else float("nan"),
                         sides * pixel_size_m / site_ha if site_ha else float("nan"))


def _chain(site_id: str, habitat: str, years, opening0: float, adds, reds) -> pd.DataFrame:
    """Account rows with the identities exact by construction."""
    rows, opening = [], float(opening0)
    for year, a, r in zip(years, adds, reds, strict=True):
        closing = opening + float(a) - float(r)
        rows.append({"site_id": site_id, "year": int(year), "habitat": habitat,
                     "opening_ha": opening, "additions_ha": float(a), "reductions_ha": float(r),
                     "net_change_ha": float(a) - float(r), "closing_ha": closing})
        opening = closing
    return pd.DataFrame(rows)


def extent_account(rows: pd.DataFrame) -> pd.DataFrame:
    """The extent account of one site from its change rows (:data:`ACCOUNT_COLUMNS`;
    fragmentation NaN: it needs the maps). Years are the calendar years of the rows; the first
    year opens at the baseline extent (nothing gained or lost yet); each year closes at its last
    row. See the module doc for how the netting of cumulative gain and loss is handled."""
    need = ("site_id", "habitat", "period", "baseline_extent_ha", "gain_ha", "loss_ha")
    missing = [c for c in need if c not in rows.columns]
    if missing:
        raise ValueError(f"change rows lack column(s) {missing}")
    if rows.empty:
        raise ValueError("no change rows")
    if rows["site_id"].nunique() != 1:
        raise ValueError("change rows of one site expected")
    frame = rows.assign(_when=pd.to_datetime(rows["period"])).sort_values("_when")
    year_end = frame.groupby(frame["_when"].dt.year).tail(1)
    gain = np.r_[0.0, year_end["gain_ha"].to_numpy(float)]
    loss = np.r_[0.0, year_end["loss_ha"].to_numpy(float)]
    dg, dl = np.diff(gain), np.diff(loss)
    adds = np.maximum(dg, 0) + np.maximum(-dl, 0)
    reds = np.maximum(-dg, 0) + np.maximum(dl, 0)
    out = _chain(str(frame["site_id"].iloc[0]), str(frame["habitat"].iloc[0]),
                 year_end["_when"].dt.year, frame["baseline_extent_ha"].iloc[0], adds, reds)
    return out.assign(n_patches=pd.NA, mean_patch_ha=np.nan,
                      edge_density_m_per_ha=np.nan).astype({"n_patches": "Int64"})


def extent_account_from_maps(site_id: str, habitat: str, opening_map: np.ndarray,
                             year_end_maps: Mapping[int, np.ndarray], *,
                             pixel_size_m: float = 10.0) -> pd.DataFrame:
    """The extent account from class maps (:data:`ACCOUNT_COLUMNS`): ``opening_map`` is the
    class map the first year opens with (the baseline's, or the last month of the year before),
    ``year_end_maps`` the last month's map of each year. Additions and reductions count pixel
    transitions; a pixel first seen this year (255 before) that is habitat counts as an
    addition, so that the account still balances against the mapped extent. Fragmentation is
    that of each year's closing map."""
    if not year_end_maps:
        raise ValueError("no year-end maps")
    pixel_ha = pixel_size_m**2 / 10_000.0
    previous = np.asarray(opening_map) == HABITAT
    years, adds, reds, frags = [], [], [], []
    for year in sorted(year_end_maps):
        current_map = np.asarray(year_end_maps[year])
        if current_map.shape != previous.shape:
            raise ValueError(f"map of {year} is {current_map.shape}, expected {previous.shape}")
        current = current_map == HABITAT
        years.append(year)
        adds.append(np.count_nonzero(current & ~previous) * pixel_ha)
        reds.append(np.count_nonzero(previous & ~current) * pixel_ha)
        frags.append(fragmentation(current_map, pixel_size_m=pixel_size_m))
        previous = current
    out = _chain(site_id, habitat, years,
                 np.count_nonzero(np.asarray(opening_map) == HABITAT) * pixel_ha, adds, reds)
    out["n_patches"] = pd.array([f.n_patches for f in frags], dtype="Int64")
    out["mean_patch_ha"] = [f.mean_patch_ha for f in frags]
    out["edge_density_m_per_ha"] = [f.edge_density_m_per_ha for f in frags]
    return out


@dataclass(frozen=True)
class ExtentTrend:
    """Extent trend of an account (GBF headline indicator A.2 at site scale)."""

    first_year: int
    last_year: int
    baseline_ha: float
    """Opening extent of the first year."""
    change_ha: float
    """Closing extent of the last year minus :attr:`baseline_ha`."""
    change_pct: float
    """:attr:`change_ha` as a percentage of :attr:`baseline_ha` (NaN when it is 0)."""
    slope_ha_per_yr: float
    """Least-squares slope of the year-end extents (NaN with one year)."""
    slope_pct_per_yr: float
    """:attr:`slope_ha_per_yr` as a percentage of :attr:`baseline_ha`."""


def extent_trend(account: pd.DataFrame) -> ExtentTrend:
    """The extent trend of one site's account: change since the baseline and the least-squares
    slope through the opening extent and the year-end closing extents."""
    acc = account.sort_values("year")
    years = acc["year"].to_numpy(int)
    base = float(acc["opening_ha"].iloc[0])
    x = np.r_[years[0] - 1, years].astype(float)          # opening = end of the year before
    y = np.r_[base, acc["closing_ha"].to_numpy(float)]
    slope = float(np.polyfit(x - x.mean(), y, 1)[0]) if len(x) > 1 else float("nan")
    change = float(y[-1] - base)
    pct = 100.0 / base if base else float("nan")
    return ExtentTrend(int(years[0]), int(years[-1]), base, change, change * pct, slope,
                       slope * pct)


def gbf_a2(account: pd.DataFrame) -> pd.DataFrame:
    """The site's figures for GBF headline indicator A.2 (extent of natural ecosystems), one
    row per year: ``year, habitat, extent_ha`` (closing), ``change_since_baseline_ha`` and
    ``change_since_baseline_pct`` against the first year's opening extent."""
    acc = account.sort_values("year")
    base = float(acc["opening_ha"].iloc[0])
    change = acc["closing_ha"].to_numpy(float) - base
    return pd.DataFrame({"year": acc["year"].to_numpy(int), "habitat": acc["habitat"].to_numpy(),
                         "extent_ha": acc["closing_ha"].to_numpy(float),
                         "change_since_baseline_ha": change,
                         "change_since_baseline_pct": 100.0 * change / base if base else np.nan})
