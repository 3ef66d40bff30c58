"""Carbon factors: the Tier 1 defaults per habitat and climate zone, and site overrides.

Every value carries its unit, its interval, where it comes from and how it was checked
(:class:`Factor`). ``verified`` says what the number was checked against in the stored copies
searched while writing this module; an empty ``verified`` means the value is the one recalled
from the cited table and could NOT be checked against a copy of it: check it before relying on it
(the IPCC 2013 Wetlands Supplement chapter 4 itself was not among the stored copies).

Intervals. Where a published interval could not be verified, the Monte Carlo uses an *assumed*
95 % interval of +-50 % of the value (:data:`ASSUMED_HALF_WIDTH`). Rationale: a Tier 1 default
applied to one site carries the site-to-site spread of the plots behind it, and that spread is
large: Kauffman & Bhomia 2017 (PLoS ONE 12:e0187749, abstract) measured 33 West-Central African
stands at 154-1,484 Mg C/ha around a mean of 799 (-81 %/+86 %). A +-50 % 95 % interval is a
moderate reading of that spread, not a published number; field plots replace it
(:func:`parse_factors`).

Site overrides come as a plain mapping (site property ``carbon_factors`` or a ``factors.toml``
read by the flow): ``{"source": "...", "agb_t_dm_ha": {"mean": 210, "se": 15}, ...}``; see
:func:`parse_factors`. :func:`factors_id` is a short stable hash of everything a ledger used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ASSUMED_HALF_WIDTH", "CLIMATE_ZONES", "FACTOR_NAMES", "Factor", "FactorSet", "FactorsError",
    "apply_overrides", "climate_zone", "default_factors", "factors_id", "parse_factors",
    "site_factors",
]

ASSUMED_HALF_WIDTH = 0.5
"""Half-width, as a fraction of the value, of the assumed 95 % interval (see module doc)."""

TROPIC_LAT = 23.44
"""Latitude of the tropics of Cancer and Capricorn (degrees)."""

CLIMATE_ZONES = ("tropical_wet", "tropical_dry", "subtropical")
"""The mangrove climate zones of IPCC 2013 Wetlands Supplement ch. 4 Tables 4.3-4.5."""

DRY_PRECIPITATION_MM = 1000.0
"""Mean annual precipitation below which a tropical site is *dry*: the tropical dry / moist
boundary of the IPCC 2006 climate zone scheme (Vol. 4 ch. 3 Annex 3A.5; recalled, not verified
here). Only used when the site gives ``annual_precipitation_mm``."""

_INTERVALS = ("ci95", "assumed", "fixed")
_FRACTIONS = ("carbon_fraction", "soil_loss_fraction")


class FactorsError(ValueError):
    """Factors were refused; the message is one line naming the factor and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


@dataclass(frozen=True)
class Factor:
    """One factor: a central value and its interval, with its source."""

    value: float
    """Central value, in :attr:`unit`."""
    low: float
    """Lower end of the 95 % interval (equal to ``value`` when :attr:`interval` is ``fixed``)."""
    high: float
    """Upper end of the 95 % interval."""
    interval: str
    """``ci95`` (published or measured 95 % interval), ``assumed`` (see the module doc) or
    ``fixed`` (not drawn in the Monte Carlo)."""
    unit: str
    source: str
    """Citation: author, year, journal or report, table or equation."""
    verified: str = ""
    """What the value was checked against; empty when it could not be checked."""

    def __post_init__(self) -> None:
        if self.interval not in _INTERVALS:
            raise FactorsError(f"interval must be one of {_INTERVALS}, got {self.interval!r}")
        if not (self.low <= self.value <= self.high):
            raise FactorsError(f"interval [{self.low}, {self.high}] must contain {self.value}")


def _assumed(value: float, unit: str, source: str, verified: str = "") -> Factor:
    h = ASSUMED_HALF_WIDTH * value
    return Factor(value, value - h, value + h, "assumed", unit, source, verified)


def _fixed(value: float, unit: str, source: str, verified: str = "") -> Factor:
    return Factor(value, value, value, "fixed", unit, source, verified)


@dataclass(frozen=True)
class FactorSet:
    """The factors of one habitat in one climate zone. Pools a habitat lacks are ``None``."""

    habitat: str
    climate_zone: str | None
    """One of :data:`CLIMATE_ZONES` for mangrove; ``None`` for seagrass."""
    agb_t_dm_ha: Factor | None
    """Above-ground biomass of a closed mangrove stand, t dry matter / ha."""
    agb_growth_t_dm_ha_yr: Factor | None
    """Above-ground biomass growth of a young stand, t d.m. / ha / yr."""
    root_shoot: Factor | None
    """Below-ground : above-ground biomass ratio."""
    carbon_fraction: Factor | None
    """t C / t dry matter of biomass."""
    soil_c_t_ha: Factor
    """Soil organic carbon to 1 m, t C / ha."""
    soil_accrual_t_c_ha_yr: Factor
    """Soil organic carbon accumulation of newly established habitat, t C / ha / yr."""
    soil_loss_fraction: Factor
    """Share of the soil carbon to 1 m of lost habitat that is emitted in the end."""
    soil_half_life_yr: Factor
    """Half-life of that emission (exponential decay), years."""
    method: str = "ipcc2013-tier1"
    """``ipcc2013-tier1`` for the defaults, ``site-plots`` once a site override is applied."""
    note: str = ""
    """Where overrides came from (their ``source``)."""

    def factors(self) -> dict[str, Factor]:
        """The factors by name (pools the habitat lacks left out)."""
        return {n: f for n in FACTOR_NAMES if (f := getattr(self, n)) is not None}


FACTOR_NAMES = ("agb_t_dm_ha", "agb_growth_t_dm_ha_yr", "root_shoot", "carbon_fraction",
                "soil_c_t_ha", "soil_accrual_t_c_ha_yr", "soil_loss_fraction",
                "soil_half_life_yr")
"""Names a site override may set (see :func:`parse_factors`)."""

_UNITS = {"agb_t_dm_ha": "t d.m./ha", "agb_growth_t_dm_ha_yr": "t d.m./ha/yr",
          "root_shoot": "ratio", "carbon_fraction": "t C/t d.m.", "soil_c_t_ha": "t C/ha",
          "soil_accrual_t_c_ha_yr": "t C/ha/yr", "soil_loss_fraction": "fraction",
          "soil_half_life_yr": "yr"}

# --- the default tables --------------------------------------------------------------------

_WS = "IPCC 2013 Wetlands Supplement ch. 4"
_WRI = ("wri/carbon-budget constants_and_names.py (Harris et al. 2021 flux model), which cites "
        "the same table")
_AGB_CHECK = ("consistent with wri/carbon-budget's mangrove deadwood and litter ratios, computed "
              "there from WS Tables 4.2, 4.3 and 4.7: 10.7/(192*0.451)=0.124 (0.123 there), "
              "10.7/(92*0.451)=0.258, 0.7/(192*0.451)=0.008, 0.7/(92*0.451)=0.0169")

_MANGROVE_AGB = {
    "tropical_wet": _assumed(192.0, _UNITS["agb_t_dm_ha"], f"{_WS} Table 4.3", _AGB_CHECK),
    "tropical_dry": _assumed(92.0, _UNITS["agb_t_dm_ha"], f"{_WS} Table 4.3", _AGB_CHECK),
    # UNVERIFIED: recalled from Table 4.3; not found in the stored copies searched
    "subtropical": _assumed(75.0, _UNITS["agb_t_dm_ha"], f"{_WS} Table 4.3"),
}
"""Above-ground biomass (t d.m./ha). The published 95 % intervals could not be checked: the
interval is the assumed one."""

_MANGROVE_GROWTH = {
    # UNVERIFIED (all three): recalled from Table 4.4 (whose existence, with 95 % CIs, for
    # mangrove AGB growth is confirmed by wri/carbon-budget mp_annual_gain_rate_mangrove.py)
    "tropical_wet": _assumed(9.9, _UNITS["agb_growth_t_dm_ha_yr"], f"{_WS} Table 4.4"),
    "tropical_dry": _assumed(3.3, _UNITS["agb_growth_t_dm_ha_yr"], f"{_WS} Table 4.4"),
    "subtropical": _assumed(18.1, _UNITS["agb_growth_t_dm_ha_yr"], f"{_WS} Table 4.4"),
}
"""Above-ground biomass growth of young mangrove (t d.m./ha/yr)."""

_MANGROVE_ROOT_SHOOT = {
    zone: _assumed(v, _UNITS["root_shoot"], f"{_WS} Table 4.5", _WRI)
    for zone, v in (("tropical_wet", 0.49), ("tropical_dry", 0.29), ("subtropical", 0.96))
}
"""Root-to-shoot ratios; also the GMW carbon layer's 0.49 (Vizzuality/mangrove-atlas-data
analysis/calculate_mangrove_carbon_stats.js, citing Simard et al. 2019)."""

_MANGROVE_CF = _fixed(
    0.451, _UNITS["carbon_fraction"], f"{_WS} Table 4.2; Simard et al. 2019 (Nat. Geosci. 12:40)",
    "Vizzuality/mangrove-atlas-data calculate_mangrove_carbon_stats.js (agb_to_OC = 0.451) and "
    "globalmangrovewatch/gmw_v3_soil_and_total_carbon (soc+agb*0.451); wri/carbon-budget rounds "
    "Table 4.2 to 0.45")
"""Carbon fraction of mangrove biomass. Fixed: its spread across tissues is a few per cent,
small next to the biomass's."""

_MANGROVE_SOIL = _assumed(
    386.0, _UNITS["soil_c_t_ha"], f"{_WS} Table 4.11 (mangrove, soil to 1 m)",
    "consistent with Kauffman & Bhomia 2017 (PLoS ONE 12:e0187749, abstract): 'default IPCC "
    "values for mangroves (511 Mg C/ha)'; 386 + 192*1.49*0.451 (tropical-wet biomass) = 515")
# The value itself is recalled from Table 4.11 (with a 95 % CI of the global mean, 382-389,
# also recalled): UNVERIFIED. That CI is of the global mean, not of one site: the assumed
# interval is used instead (module doc).

_MANGROVE_SOIL_ACCRUAL = _assumed(
    1.46, _UNITS["soil_accrual_t_c_ha_yr"],
    "Verra VM0033 v2.1 (2023) sec. 8.1.4.2.3 Eq. 33 (tidal marsh and mangrove default, median "
    "of Chmura et al. 2003); cover >= 50 %: full rate, < 15 %: zero, linear between",
    "hashgraph/guardian docs/VM0033-methodology-pdf-parsed/VM0033-Methodology.md")
"""VM0033's default rather than the Supplement's Table 4.12 (recalled 1.62, unverified): it is
the crediting methodology's own, and the lower. VM0033 asks for an allochthonous-carbon
deduction (sec. 8.1.4.2.7) when it is used; imagery cannot give it (see the report)."""

_INVEST = ("InVEST Coastal Blue Carbon user guide, Table 1 (natcap/invest.users-guide "
           "source/coastal_blue_carbon.rst)")
_MANGROVE_SOIL_LOSS = _fixed(
    0.66, "fraction", f"{_INVEST}: mangrove high-impact disturbance, 66 % soil loss (Donato et "
    "al. 2011, Nat. Geosci. 4:293)", _INVEST)
_MANGROVE_SOIL_HALF_LIFE = _fixed(
    7.5, "yr", f"{_INVEST}: mangrove soil half-life 7.5 yr (Murray et al. 2011, Nicholas "
    "Institute NI R 11-04)", _INVEST)

_SEAGRASS_SOIL = _assumed(108.0, _UNITS["soil_c_t_ha"], f"{_WS} Table 4.11 (seagrass meadow)")
# UNVERIFIED: recalled from Table 4.11 (95 % CI of the mean 84-139, recalled too).
_SEAGRASS_SOIL_ACCRUAL = _assumed(0.43, _UNITS["soil_accrual_t_c_ha_yr"],
                                  f"{_WS} Table 4.12 (seagrass, revegetation)")
# UNVERIFIED: recalled from Table 4.12. VM0033 gives no seagrass default (its Eq. 33 default is
# for tidal marsh and mangrove only).
_SEAGRASS_SOIL_LOSS = _fixed(
    1.0, "fraction", f"{_INVEST}: seagrass high-impact disturbance, top 50 % washes away and the "
    "bottom 50 % decomposes in place (Murray et al. 2011)", _INVEST)
_SEAGRASS_SOIL_HALF_LIFE = _fixed(1.0, "yr", f"{_INVEST}: seagrass soil half-life 1 yr "
                                  "(Murray et al. 2011)", _INVEST)


def default_factors(habitat: str, zone: str | None = None) -> FactorSet:
    """The Tier 1 defaults of ``habitat`` (``mangrove`` needs a ``zone`` of
    :data:`CLIMATE_ZONES`). Seagrass has no living-biomass pool: no Tier 1 default for it could
    be verified, so only its soil is counted."""
    if habitat == "mangrove":
        if zone not in CLIMATE_ZONES:
            raise FactorsError(f"mangrove climate zone must be one of {CLIMATE_ZONES}, "
                               f"got {zone!r}")
        return FactorSet("mangrove", zone, _MANGROVE_AGB[zone], _MANGROVE_GROWTH[zone],
                         _MANGROVE_ROOT_SHOOT[zone], _MANGROVE_CF, _MANGROVE_SOIL,
                         _MANGROVE_SOIL_ACCRUAL, _MANGROVE_SOIL_LOSS, _MANGROVE_SOIL_HALF_LIFE)
    if habitat == "seagrass":
        return FactorSet("seagrass", None, None, None, None, None, _SEAGRASS_SOIL,
                         _SEAGRASS_SOIL_ACCRUAL, _SEAGRASS_SOIL_LOSS, _SEAGRASS_SOIL_HALF_LIFE)
    raise FactorsError(f"no carbon factors for habitat {habitat!r}")


def climate_zone(lat: float, properties: Mapping[str, Any] | None = None) -> str:
    """The site's mangrove climate zone (:data:`CLIMATE_ZONES`).

    An explicit ``climate_zone`` property wins. Otherwise, by latitude: beyond the tropics
    (|lat| > 23.44) ``subtropical``; inside them ``tropical_dry`` when the site gives an
    ``annual_precipitation_mm`` below 1000 mm (:data:`DRY_PRECIPITATION_MM`), else
    ``tropical_wet``. Latitude alone cannot tell wet from dry, so the default is wet, as GMW's
    carbon layer does (it applies the tropical-wet root-to-shoot ratio 0.49 everywhere). The
    approximation ignores that the Supplement's zones follow temperature and rain, not the
    tropics' lines: a mangrove at 22.5 N in a monsoon climate (Shenzhen) comes out tropical.
    """
    props = properties or {}
    zone = props.get("climate_zone")
    if zone is not None:
        if zone not in CLIMATE_ZONES:
            raise FactorsError(f"climate_zone must be one of {CLIMATE_ZONES}, got {zone!r}")
        return str(zone)
    if not math.isfinite(lat) or abs(lat) > 90:
        raise FactorsError(f"latitude must be in [-90, 90], got {lat!r}")
    if abs(lat) > TROPIC_LAT:
        return "subtropical"
    rain = props.get("annual_precipitation_mm")
    if rain is not None and _number(rain, "annual_precipitation_mm") < DRY_PRECIPITATION_MM:
        return "tropical_dry"
    return "tropical_wet"


# --- site overrides ------------------------------------------------------------------------


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FactorsError(f"{what}: expected a finite number, got {value!r}")
    return float(value)


def _parse_one(name: str, spec: object, source: str) -> Factor:
    """One override: a number (fixed), ``{mean, se}`` (95 % CI = mean +- 1.96 se) or
    ``{value, low, high}`` (a 95 % interval)."""
    unit = _UNITS[name]
    src = f"site data: {source}"
    if isinstance(spec, Mapping):
        keys = set(spec)
        if keys == {"mean", "se"}:
            mean, se = _number(spec["mean"], f"{name}.mean"), _number(spec["se"], f"{name}.se")
            if se < 0:
                raise FactorsError(f"{name}.se must be >= 0, got {se}")
            f = Factor(mean, mean - 1.96 * se, mean + 1.96 * se, "ci95" if se else "fixed",
                       unit, src, "site data")
        elif keys == {"value", "low", "high"}:
            v, lo, hi = (_number(spec[k], f"{name}.{k}") for k in ("value", "low", "high"))
            if not lo <= v <= hi:
                raise FactorsError(f"{name}: need low <= value <= high, got {lo}, {v}, {hi}")
            f = Factor(v, lo, hi, "ci95" if hi > lo else "fixed", unit, src, "site data")
        else:
            raise FactorsError(f"{name}: give a number, {{mean, se}} or {{value, low, high}}, "
                               f"got keys {sorted(map(str, keys))}")
    else:
        v = _number(spec, name)
        f = Factor(v, v, v, "fixed", unit, src, "site data")
    if f.value < 0:
        raise FactorsError(f"{name} must be >= 0, got {f.value}")
    if name in _FRACTIONS and f.value > 1:
        raise FactorsError(f"{name} is a fraction, must be <= 1, got {f.value}")
    if name == "soil_half_life_yr" and f.value <= 0:
        raise FactorsError(f"soil_half_life_yr must be > 0, got {f.value}")
    return f


def parse_factors(spec: Mapping[str, Any]) -> tuple[str, dict[str, Factor]]:
    """``(source, overrides)`` from a site's factor mapping (site property ``carbon_factors``,
    or a parsed ``factors.toml``). ``source`` (required) says where the numbers come from (plots,
    cores, a paper); every other key is one of :data:`FACTOR_NAMES`. Raises
    :class:`FactorsError` (one line) on anything else."""
    if not isinstance(spec, Mapping):
        raise FactorsError(f"carbon factors must be a mapping, got {type(spec).__name__}")
    source = spec.get("source")
    if not isinstance(source, str) or not source.strip():
        raise FactorsError("carbon factors need a 'source' (where the plot data come from)")
    unknown = sorted(str(k) for k in spec if k != "source" and k not in FACTOR_NAMES)
    if unknown:
        raise FactorsError(f"unknown carbon factor(s) {unknown}; known: {list(FACTOR_NAMES)}")
    overrides = {name: _parse_one(name, spec[name], source.strip())
                 for name in FACTOR_NAMES if name in spec}
    if not overrides:
        raise FactorsError("carbon factors give a source but no factor")
    return source.strip(), overrides


def apply_overrides(defaults: FactorSet, source: str, overrides: Mapping[str, Factor]
                    ) -> FactorSet:
    """``defaults`` with ``overrides`` in place; the method becomes ``site-plots`` and the
    ``source`` is added to the note."""
    for name in overrides:
        if getattr(defaults, name) is None:
            raise FactorsError(f"{name} does not apply to {defaults.habitat} (no such pool)")
    note = f"{defaults.note}; {source}" if defaults.note else source
    return dataclasses.replace(defaults, **dict(overrides), method="site-plots", note=note)


def site_factors(habitat: str, lat: float, properties: Mapping[str, Any] | None = None,
                 file_spec: Mapping[str, Any] | None = None) -> FactorSet:
    """The factors a site's ledger uses: the defaults of its habitat (and climate zone, for
    mangrove), then the site's ``carbon_factors`` property, then ``file_spec`` (the site's table
    of a ``factors.toml``, as the flow parsed it), each overriding what came before."""
    props = properties or {}
    zone = climate_zone(lat, props) if habitat == "mangrove" else None
    factors = default_factors(habitat, zone)
    for spec in (props.get("carbon_factors"), file_spec):
        if spec is not None:
            factors = apply_overrides(factors, *parse_factors(spec))
    return factors


def factors_id(factors: FactorSet) -> str:
    """12 hex characters of the SHA-256 of the factors, their intervals and sources (stable
    across runs and platforms: canonical JSON, sorted keys, floats as ``repr``)."""
    doc = dataclasses.asdict(factors)
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]
