"""Carbon ledger: a site's carbon stock and its change since the baseline, month by month,
with Monte Carlo intervals and the conservative figure of Verra VM0033.

The model, per month ``t`` of the change table (areas in ha, cumulative since the baseline):

* stable habitat ``S = extent - gain`` (habitat in the baseline and now) holds the full stock
  per hectare: biomass ``AGB (1 + R) CF`` weighted by its canopy (below) plus soil ``SOC``;
* gained habitat accrues, from the month it is first mapped, above-ground biomass at ``g`` t
  d.m./ha/yr capped at the closed-stand ``AGB`` (IPCC 2013 Wetlands Supplement Table 4.4
  rates; with roots by ``R`` and carbon by ``CF``), and soil carbon at ``r`` t C/ha/yr
  (VM0033 v2.1 Eq. 33 for mangrove), capped at ``SOC``. Gained area that is lost again leaves
  the youngest cohorts first (the newest detections are the likeliest to be noise);
* lost habitat emits its biomass at once (the IPCC Tier 1 assumption that biomass lost in a
  conversion is emitted in the year of conversion) and a share ``f`` of its soil carbon to 1 m
  with a half-life ``H`` (InVEST Coastal Blue Carbon Table 1: mangrove f = 0.66, H = 7.5 yr,
  seagrass f = 1, H = 1 yr, after Donato et al. 2011 and Murray et al. 2011): the soil carbon
  not yet emitted stays in the stock, so the ledger books the emission as it happens. Lost area
  that comes back returns to the stable stock (a reverted loss is mostly a mapping error);
* the baseline stock is ``(S + loss) x`` the stable stock per hectare with the baseline's canopy.

``change = stock(t) - baseline stock``; tCO2e = t C x 44/12.

Canopy. The change table gives the area in canopy classes 20-50, 50-80 and 80-100 % (over the
mangrove and the restoration zone). Biomass is taken proportional to cover: a class holds
``mid / 0.9`` of the closed-stand default (0.35, 0.65 and 0.90 cover: 0.39, 0.72 and 1), the
Tier 1 AGB being the biomass of a hectare under closed canopy and a 35 %-cover hectare having a
third of that canopy. This is a rationale, not a published rule (the classes themselves are DEA
Mangroves' woodland / open forest / closed forest, Lymburner et al. 2020). Gained area is taken
from the sparsest classes first (new plantings are the sparse canopy); the rest weights the
stable area. Gained area's soil accrual follows VM0033 sec. 8.1.4.2.3: full rate at >= 50 %
cover, none below 15 %, linear between (class 20-50: (0.35-0.15)/0.35 = 0.571; gained area in no
class: 0). Without canopy columns (seagrass, or rows that lack them) both weights are 1.

Uncertainty (:func:`carbon_ledger`): factors drawn from their 95 % intervals (two-piece normal
around the value, one draw per iteration for the whole series: a factor error is systematic),
areas drawn from the change table's intervals of the month taken as 95 % limits (they are
conservative bounds with >= 90 % coverage, see :mod:`indices.change`). The normal scores come
from a seeded scrambled Sobol sequence (:func:`normal_scores`); 2.5-97.5 percentiles give the
95 % interval, 5-95 VM0033's 90 % interval.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from indices.carbon_factors import Factor, FactorSet, factors_id

__all__ = ["BASELINE_COLUMNS", "CANOPY_MIDS", "CO2_PER_C", "CONSERVATIVE_COLUMNS", "DEFAULT_DRAWS",
           "LEDGER_COLUMNS",
           "VM0033_ALLOWABLE_90", "carbon_ledger", "cohort_shares", "normal_scores", "site_seed",
           "vm0033_adjusted", "with_error_adjusted_areas"]

CO2_PER_C = 44.0 / 12.0
"""t CO2 per t C (molar masses)."""

CANOPY_MIDS = {"canopy_20_50_ha": 0.35, "canopy_50_80_ha": 0.65, "canopy_80_100_ha": 0.90}
"""Mid cover of each canopy class, sparsest first."""

DEFAULT_DRAWS = 2**14
"""Draws per site: at 2^14 the interval ends sit within 2 % of the interval's width of those of
ten times as many draws (tests/test_carbon.py)."""

VM0033_ALLOWABLE_90 = 0.20
"""VM0033 v2.1 sec. 8.5.2: allowable uncertainty, 20 % of the value at 90 % confidence."""

LEDGER_COLUMNS = ("site_id", "period", "habitat", "extent_ha", "stock_tco2e",
                  "stock_ci_low_tco2e", "stock_ci_high_tco2e", "change_tco2e",
                  "change_ci_low_tco2e", "change_ci_high_tco2e", "method", "factors_id")
"""The ``carbon/`` table's contract (design.md, second round)."""
CONSERVATIVE_COLUMNS = ("change_conservative_tco2e", "change_uncertainty_90_pct")
"""Added after :data:`LEDGER_COLUMNS`: the VM0033-adjusted change and its uncertainty (90 %
interval half-width as a percentage of the change)."""
BASELINE_COLUMNS = ("baseline_stock_tco2e", "baseline_stock_ci_low_tco2e",
                    "baseline_stock_ci_high_tco2e")
"""After :data:`CONSERVATIVE_COLUMNS`: the stock the change is counted from, with its 95 %
interval (the baseline area of that month's row, at the baseline canopy)."""

_REQUIRED = ("site_id", "habitat", "period", "extent_ha", "baseline_extent_ha", "gain_ha",
             "loss_ha")
_SOIL_COVER = (0.15, 0.50)
"""VM0033 sec. 8.1.4.2.3: soil accrual is zero below 15 % cover and full from 50 %."""
_Z95 = 1.959963984540054


def site_seed(seed: int, site_id: str) -> int:
    """A per-site seed from the run's seed (CRC-32 of the id: stable across processes)."""
    return (int(seed) * 1_000_003 + zlib.crc32(site_id.encode("utf-8"))) % 2**63


def vm0033_adjusted(change: float, ci90_low: float, ci90_high: float,
                    allowable: float = VM0033_ALLOWABLE_90) -> tuple[float, float]:
    """``(adjusted, uncertainty)``: VM0033 v2.1 sec. 8.5.2 Eq. 92.

    ``uncertainty`` = half-width of the 90 % interval / |change|. When it exceeds the allowable
    20 %, the deduction is the excess: ``adjusted = change x (1 - uncertainty + allowable)``
    (never below zero); at or under 20 % nothing is deducted. Only a net removal (change > 0) is
    adjusted: the rule deducts from credits, and shrinking an emission would not be conservative,
    so a net emission is returned as it is. A zero change with a non-zero interval has no
    relative uncertainty (NaN).
    """
    half = (ci90_high - ci90_low) / 2.0
    if change == 0:
        return 0.0, (0.0 if half == 0 else float("nan"))
    u = half / abs(change)
    if change < 0 or u <= allowable:
        return float(change), float(u)
    return float(change * max(0.0, 1.0 - u + allowable)), float(u)


def cohort_shares(cumulative: np.ndarray) -> np.ndarray:
    """``P[t, d]``: share of the area ``cumulative[t]`` (ha, month by month) first counted
    ``d`` months before ``t``. Increases start a cohort; decreases remove the youngest first.
    Where the area is zero, ``P[t, 0] = 1`` (an area drawn there would be brand new)."""
    n = len(cumulative)
    shares = np.zeros((n, n))
    cohorts: list[list[float]] = []   # [start month, area]
    previous = 0.0
    for t, x in enumerate(np.asarray(cumulative, dtype=float)):
        delta = x - previous
        previous = x
        if delta > 0:
            cohorts.append([t, delta])
        while delta < 0 and cohorts:
            take = min(-delta, cohorts[-1][1])
            cohorts[-1][1] -= take
            delta += take
            if cohorts[-1][1] <= 0:
                cohorts.pop()
        total = sum(a for _, a in cohorts)
        if total <= 0:
            shares[t, 0] = 1.0
            continue
        for start, area in cohorts:
            shares[t, t - int(start)] += area / total
    return shares


@dataclass(frozen=True)
class _Series:
    """One site's change rows on a complete monthly grid."""

    periods: pd.DatetimeIndex
    keep: np.ndarray           # grid months that are rows of the input
    extent: np.ndarray
    gain: np.ndarray
    loss: np.ndarray
    bounds: dict[str, tuple[np.ndarray, np.ndarray]]   # extent/gain/loss -> (low, high)
    w_stable: np.ndarray       # biomass weight of the stable area, per month
    v_gain: np.ndarray         # soil-accrual weight of the gained area, per month
    w_base: float


def _canopy_weights(frame: pd.DataFrame, gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(w_stable, v_gain)`` per month from the canopy classes (module doc); 1 without them."""
    n = len(frame)
    cols = list(CANOPY_MIDS)
    if not set(cols) <= set(frame.columns):
        return np.ones(n), np.ones(n)
    classes = frame[cols].to_numpy(dtype=float)
    mids = np.array(list(CANOPY_MIDS.values()))
    bio = mids / mids[-1]
    soil = np.clip((mids - _SOIL_COVER[0]) / (_SOIL_COVER[1] - _SOIL_COVER[0]), 0.0, 1.0)
    w, v = np.ones(n), np.ones(n)
    for t in range(n):
        c = classes[t]
        if not np.all(np.isfinite(c)) or c.sum() <= 0:
            continue
        to_gain = np.diff(np.minimum(np.concatenate([[0.0], np.cumsum(c)]), gain[t]))
        rest = c - to_gain
        w[t] = float((rest * bio).sum() / rest.sum()) if rest.sum() > 0 else 1.0
        v[t] = float((to_gain * soil).sum() / gain[t]) if gain[t] > 0 else 1.0
    return w, v


def _series(rows: pd.DataFrame, baseline_end: object) -> _Series:
    missing = [c for c in _REQUIRED if c not in rows.columns]
    if missing:
        raise ValueError(f"change rows lack column(s) {missing}")
    if rows.empty:
        raise ValueError("no change rows")
    for col in ("site_id", "habitat"):
        if rows[col].nunique() != 1:
            raise ValueError(f"change rows of one site and habitat expected, got {col} "
                             f"{sorted(map(str, rows[col].unique()))}")
    frame = rows.copy()
    frame["_month"] = pd.to_datetime(frame["period"]).dt.to_period("M")
    if frame["_month"].duplicated().any():
        raise ValueError("change rows repeat a month")
    frame = frame.sort_values("_month").set_index("_month")
    grid = pd.period_range(frame.index[0], frame.index[-1], freq="M")
    keep = grid.isin(frame.index)
    frame = frame.reindex(grid, method="ffill")     # fills inserted months only, not NaNs
    extent, gain, loss = (frame[c].to_numpy(dtype=float) for c in ("extent_ha", "gain_ha",
                                                                    "loss_ha"))
    if not (np.all(np.isfinite(extent)) and np.all(gain >= 0) and np.all(loss >= 0)):
        raise ValueError("extent, gain and loss must be finite and gain, loss >= 0")
    bounds = {}
    for name, central in (("extent", extent), ("gain", gain), ("loss", loss)):
        lo_col, hi_col = f"{name}_ci_low_ha", f"{name}_ci_high_ha"
        lo = frame[lo_col].to_numpy(dtype=float) if lo_col in frame else central.copy()
        hi = frame[hi_col].to_numpy(dtype=float) if hi_col in frame else central.copy()
        lo = np.where(np.isfinite(lo), np.minimum(lo, central), central)
        hi = np.where(np.isfinite(hi), np.maximum(hi, central), central)
        bounds[name] = (lo, hi)
    w, v = _canopy_weights(frame, gain)
    months = grid.to_timestamp()
    if baseline_end is not None:
        in_base = months <= pd.Timestamp(baseline_end)
        w_base = float(np.mean(w[in_base])) if in_base.any() else float(w[0])
    else:
        w_base = float(w[0])
    return _Series(months, np.asarray(keep), extent, gain, loss, bounds, w, v, w_base)


def _two_piece(z: np.ndarray, value, low, high) -> np.ndarray:
    """Two-piece normal with ``low``/``high`` as its 2.5/97.5 % points, from normal scores."""
    return value + np.where(z < 0, z * (value - low), z * (high - value)) / _Z95


def normal_scores(n: int, dims: int, seed: int) -> np.ndarray:
    """``(n, dims)`` standard normal scores from a scrambled Sobol sequence
    (:func:`indices.sobol.sobol_points`: Joe & Kuo 2008 direction numbers, Matousek 1998's
    random linear scramble and digital shift, seeded), by the normal quantile
    (``scipy.special.ndtri``): a randomised quasi-Monte Carlo design whose percentiles settle
    faster than plain random draws' (an 11-dimensional ledger, a busy site's change at 2^14
    draws, 20 seeds: the 2.5/97.5 % points vary between seeds with a standard deviation of
    0.19 % of the interval's width (median over months; at most 0.38 %), 0.57 % (0.85 %) with
    plain random draws, 0.23 % (0.38 %) with scipy's scrambled Sobol, used before;
    ``benchmarks/measured/perf38``). Reproducible for a given seed; powers of two balance
    best. At most :data:`indices.sobol.MAX_DIMS` dimensions."""
    from scipy.special import ndtri  # scipy.special, not scipy.stats (issue 22)

    from indices.sobol import sobol_points

    return ndtri(sobol_points(n, dims, seed))


_DRAWN = ("agb_t_dm_ha", "agb_growth_t_dm_ha_yr", "root_shoot", "carbon_fraction",
          "soil_c_t_ha", "soil_accrual_t_c_ha_yr", "soil_loss_fraction", "soil_half_life_yr")


def _factor_draws(factors: FactorSet, z: np.ndarray) -> dict[str, np.ndarray]:
    """Each factor from its column of normal scores ``z`` (``(n, len(_DRAWN))``; zeros give the
    values). Pools the habitat lacks are zero."""
    out = {}
    for i, name in enumerate(_DRAWN):
        f: Factor | None = getattr(factors, name)
        if f is None:
            out[name] = np.zeros(len(z))
            continue
        x = np.maximum(_two_piece(z[:, i], f.value, f.low, f.high), 0.0)
        if name in ("carbon_fraction", "soil_loss_fraction"):
            x = np.minimum(x, 1.0)
        if name == "soil_half_life_yr":
            x = np.maximum(x, 1e-6)
        out[name] = x
    return out


def _areas(s: _Series, months: slice, z_areas: np.ndarray | None) -> list[np.ndarray]:
    """Extent, gain and loss of ``months``: drawn from the scores, or the mapped (1, months)."""
    out = []
    for i, name in enumerate(("extent", "gain", "loss")):
        central = getattr(s, name)[months]
        if z_areas is None:
            out.append(central[None])
            continue
        low, high = (b[months] for b in s.bounds[name])
        out.append(np.maximum(_two_piece(z_areas[:, i, None], central, low, high), 0.0))
    return out


def _stocks(th: dict[str, np.ndarray], s: _Series, months: slice, z_areas: np.ndarray | None,
            p_gain: np.ndarray, p_loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(stock, baseline stock)``, tCO2e, shape (draws, months in ``months``). ``z_areas``:
    the (draws, 3) normal scores of extent, gain and loss (None: the mapped areas)."""
    ages = np.arange(len(s.periods)) / 12.0                     # years, by age in months
    k_bio = (1.0 + th["root_shoot"]) * th["carbon_fraction"] * CO2_PER_C          # (N,)
    agb = th["agb_t_dm_ha"]
    soc = th["soil_c_t_ha"]
    bio_ha = (agb * k_bio)[:, None]                                                # (N, 1)
    soil_ha = (soc * CO2_PER_C)[:, None]
    grown = np.minimum(th["agb_growth_t_dm_ha_yr"][:, None] * ages, agb[:, None]) \
        * k_bio[:, None]                                                           # (N, D)
    accrued = np.minimum(th["soil_accrual_t_c_ha_yr"][:, None] * ages, soc[:, None]) * CO2_PER_C
    emitted = th["soil_loss_fraction"][:, None] \
        * (1.0 - 0.5 ** (ages / th["soil_half_life_yr"][:, None]))
    residual = soil_ha * (1.0 - emitted)
    extent, gain, loss = _areas(s, months, z_areas)
    stable = np.maximum(extent - gain, 0.0)
    pg, pl = p_gain[months].T, p_loss[months].T
    stock = (stable * (bio_ha * s.w_stable[months] + soil_ha)
             + gain * (grown @ pg + (accrued @ pg) * s.v_gain[months])
             + loss * (residual @ pl))
    base = (stable + loss) * (bio_ha * s.w_base + soil_ha)
    return stock, base


_BLOCK = 24
"""Months per Monte Carlo block: bounds the memory of long series (draws x block arrays)."""


def carbon_ledger(rows: pd.DataFrame, factors: FactorSet, *, baseline_end: object = None,
                  n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> pd.DataFrame:
    """The carbon ledger rows of one site (:data:`LEDGER_COLUMNS`, then
    :data:`CONSERVATIVE_COLUMNS` and :data:`BASELINE_COLUMNS`), one per change row.

    ``rows``: that site's ``change/`` rows (one habitat); needs ``site_id, habitat, period,
    extent_ha, baseline_extent_ha, gain_ha, loss_ha`` and uses, when present, the extent, gain
    and loss intervals and the canopy classes. Missing months are carried forward for the
    cohort ages and left out of the output. ``baseline_end``: the site's baseline end; the
    baseline canopy is the mean over the months up to it (the first month's without it).
    ``factors``: :func:`indices.carbon_factors.site_factors`. Central values use the factor
    values and the mapped areas; intervals come from ``n_draws`` seeded draws (use
    :func:`site_seed` to give each site its own stream).
    """
    if n_draws < 100:
        raise ValueError(f"n_draws must be >= 100 for percentiles, got {n_draws}")
    habitat = str(rows["habitat"].iloc[0]) if "habitat" in rows and len(rows) else None
    if habitat is not None and habitat != factors.habitat:
        raise ValueError(f"rows are {habitat}, factors are for {factors.habitat}")
    s = _series(rows, baseline_end)
    p_gain, p_loss = cohort_shares(s.gain), cohort_shares(s.loss)
    n_months, k = len(s.periods), len(_DRAWN)
    stock_c, base_c = _stocks(_factor_draws(factors, np.zeros((1, k))), s,
                              slice(0, n_months), None, p_gain, p_loss)
    z = normal_scores(n_draws, k + 3, seed)
    th = _factor_draws(factors, z[:, :k])
    # one score per area quantity serves every month: a month's interval depends on that
    # month's draws only, so sharing them across months changes no result (and keeps the
    # design 11-dimensional, which the Sobol sequence fills far better than 8 + 3 x months)
    q_stock, q_base = np.empty((2, n_months)), np.empty((2, n_months))
    q_change = np.empty((4, n_months))
    for first in range(0, n_months, _BLOCK):
        months = slice(first, min(first + _BLOCK, n_months))
        stock, base = _stocks(th, s, months, z[:, k:], p_gain, p_loss)
        q_stock[:, months] = np.percentile(stock, [2.5, 97.5], axis=0)
        q_base[:, months] = np.percentile(base, [2.5, 97.5], axis=0)
        q_change[:, months] = np.percentile(stock - base, [2.5, 5.0, 95.0, 97.5], axis=0)
    central_change = (stock_c - base_c)[0]
    adjusted = [vm0033_adjusted(c, lo, hi) for c, lo, hi
                in zip(central_change, q_change[1], q_change[2], strict=True)]
    out = pd.DataFrame({
        "site_id": str(rows["site_id"].iloc[0]),
        "period": s.periods.date,
        "habitat": factors.habitat,
        "extent_ha": s.extent,
        "stock_tco2e": stock_c[0],
        "stock_ci_low_tco2e": q_stock[0],
        "stock_ci_high_tco2e": q_stock[1],
        "change_tco2e": central_change,
        "change_ci_low_tco2e": q_change[0],
        "change_ci_high_tco2e": q_change[3],
        "method": factors.method,
        "factors_id": factors_id(factors),
        "change_conservative_tco2e": [a for a, _ in adjusted],
        "change_uncertainty_90_pct": [100.0 * u for _, u in adjusted],
        "baseline_stock_tco2e": base_c[0],
        "baseline_stock_ci_low_tco2e": q_base[0],
        "baseline_stock_ci_high_tco2e": q_base[1],
    })
    return out[s.keep].reset_index(drop=True)


def with_error_adjusted_areas(rows: pd.DataFrame, accuracy: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the accuracy assessment's error-adjusted areas where one exists (same
    site and month): ``gain_ha`` and ``loss_ha`` and their intervals from the ``gain`` and
    ``loss`` classes, ``extent_ha = stable_habitat + gain`` with an interval whose half-widths
    add in quadrature (the table gives no covariance; Olofsson et al. 2014's estimator has one,
    so this is an approximation). Other months keep the map's areas."""
    need = {"site_id", "period", "class", "estimated_area_ha", "ci_low_ha", "ci_high_ha"}
    if not need <= set(accuracy.columns):
        raise ValueError(f"accuracy rows lack column(s) {sorted(need - set(accuracy.columns))}")
    out = rows.copy()
    month = pd.to_datetime(out["period"]).dt.to_period("M")
    acc = accuracy.assign(_month=pd.to_datetime(accuracy["period"]).dt.to_period("M"))
    for col in ("extent_ci_low_ha", "extent_ci_high_ha", "gain_ci_low_ha", "gain_ci_high_ha",
                "loss_ci_low_ha", "loss_ci_high_ha"):
        if col not in out:
            out[col] = np.nan
    for (site, m), group in acc.groupby(["site_id", "_month"]):
        by_class = group.set_index("class")
        if not {"stable_habitat", "gain", "loss"} <= set(by_class.index):
            continue
        at = (out["site_id"] == site) & (month == m)
        if not at.any():
            continue
        est = by_class["estimated_area_ha"]
        for name in ("gain", "loss"):
            out.loc[at, f"{name}_ha"] = est[name]
            out.loc[at, f"{name}_ci_low_ha"] = by_class.loc[name, "ci_low_ha"]
            out.loc[at, f"{name}_ci_high_ha"] = by_class.loc[name, "ci_high_ha"]
        extent = est["stable_habitat"] + est["gain"]
        lo = np.hypot(*(est[c] - by_class.loc[c, "ci_low_ha"] for c in ("stable_habitat", "gain")))
        hi = np.hypot(*(by_class.loc[c, "ci_high_ha"] - est[c] for c in ("stable_habitat", "gain")))
        out.loc[at, "extent_ha"] = extent
        out.loc[at, "extent_ci_low_ha"] = max(extent - lo, 0.0)
        out.loc[at, "extent_ci_high_ha"] = extent + hi
    return out
