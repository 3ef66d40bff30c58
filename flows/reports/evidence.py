"""The annual evidence pack's words: each standard's sentence filled from a site's year
(:mod:`indices.standards`), the extent account and carbon rows as the pack shows them, the
factors a ledger used, and the caveats.

Numbers in sentences: hectares to 0.1 ha, tonnes to three significant figures
(:func:`flows.reports.ledger.round3`); the CSV keeps them whole.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flows.reports.ledger import METHOD_WORDS, round3, tco2e, tco2e_range
from indices.carbon import VM0033_ALLOWABLE_90
from indices.standards import Evidence

__all__ = ["CAVEATS", "FACTOR_LABELS", "EvidenceItem", "account_table", "carbon_table",
           "evidence_items", "factor_rows", "fragmentation_table", "method_sentence",
           "tonnes"]

FACTOR_LABELS = {
    "agb_t_dm_ha": "Above-ground biomass of a closed stand",
    "agb_growth_t_dm_ha_yr": "Above-ground biomass growth of a young stand",
    "root_shoot": "Root-to-shoot ratio",
    "carbon_fraction": "Carbon fraction of biomass",
    "soil_c_t_ha": "Soil organic carbon to 1 m",
    "soil_accrual_t_c_ha_yr": "Soil carbon accrual of new habitat",
    "soil_loss_fraction": "Share of soil carbon emitted after a loss",
    "soil_half_life_yr": "Half-life of that emission",
}
"""Plain names of :data:`indices.carbon_factors.FACTOR_NAMES`."""

CAVEATS = (
    "Extents are mapped from Sentinel-2 images at 10 m, inside the site boundary; the likely "
    "ranges cover pixels whose class is uncertain. Where an accuracy assessment with "
    "reference points exists, the carbon figures use its error-adjusted areas instead.",
    "Carbon is estimated from the mapped areas with published default factors (IPCC 2013 "
    "Wetlands Supplement, Tier 1) unless the site gave its own plot data. Defaults describe an "
    "average site, not this one: measured stocks differ from them by tens of per cent. The "
    "95 % intervals combine the factors' ranges and the areas' (Monte Carlo).",
    "New habitat is credited as it grows, not when it is first mapped; lost habitat emits its "
    "biomass at once and part of its soil carbon over the following years. A clearing followed "
    "by a young planting can therefore show a net emission while the area has grown.",
    "The conservative figure applies Verra VM0033 (v2.1, section 8.5.2): when the 90 % "
    f"interval's half-width exceeds {VM0033_ALLOWABLE_90:.0%} of a net removal, the excess is "
    "deducted. These figures are evidence for monitoring and reporting; they are not verified "
    "or certified carbon credits.",
)
"""What the pack's numbers are and are not, in plain language."""


def _ha(value: float) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.1f}"


def account_table(account: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows ``(year, opening, additions, reductions, net change, closing)``, hectares."""
    return [(str(int(r["year"])), _ha(r["opening_ha"]), _ha(r["additions_ha"]),
             _ha(r["reductions_ha"]), f"{r['net_change_ha']:+,.1f}".replace("-", "\u2212"),
             _ha(r["closing_ha"])) for _, r in account.iterrows()]


def fragmentation_table(account: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows ``(year, patches, mean patch ha, edge m/ha)`` of the years with fragmentation."""
    rows = account[account["n_patches"].notna()]
    return [(str(int(r["year"])), f"{int(r['n_patches'])}", _ha(r["mean_patch_ha"]),
             f"{r['edge_density_m_per_ha']:,.0f}") for _, r in rows.iterrows()]


def carbon_table(end: pd.Series, before: pd.Series | None) -> list[tuple[str, str, str]]:
    """``(label, value, 95 % interval)`` rows of a site's ledger at the year's last month
    (``end``), with the change within the year against ``before`` (the last month of the year
    before) where there is one."""
    rows = [("Carbon stock", tco2e(end["stock_tco2e"]),
             tco2e_range(end["stock_ci_low_tco2e"], end["stock_ci_high_tco2e"]))]
    base = end.get("baseline_stock_tco2e")
    if base is not None and not pd.isna(base):
        rows.append(("Stock at the baseline", tco2e(base),
                     tco2e_range(end["baseline_stock_ci_low_tco2e"],
                                 end["baseline_stock_ci_high_tco2e"])))
    rows.append(("Change since the baseline (central)", tco2e(end["change_tco2e"], signed=True),
                 tco2e_range(end["change_ci_low_tco2e"], end["change_ci_high_tco2e"],
                             signed=True)))
    conservative = end.get("change_conservative_tco2e")
    if conservative is not None and not pd.isna(conservative):
        u = end.get("change_uncertainty_90_pct")
        note = ("" if u is None or pd.isna(u) else
                f"uncertainty {u:,.0f} % (90 %); deducted above {VM0033_ALLOWABLE_90:.0%}")
        rows.append(("Change a carbon standard would count (conservative, VM0033 8.5.2)",
                     tco2e(conservative, signed=True), note))
    if before is not None:
        rows.append(("Change within the year (central)",
                     tco2e(end["change_tco2e"] - before["change_tco2e"], signed=True),
                     "interval not computed for a difference of months"))
    return rows


def method_sentence(end: pd.Series) -> str:
    """How a ledger row was made: factors, their id, where the areas came from."""
    areas = ("error-adjusted areas from an accuracy assessment"
             if end.get("area_source") == "accuracy assessment" else "the mapped areas")
    return (f"Method: {METHOD_WORDS.get(str(end['method']), str(end['method']))} (factors "
            f"{end['factors_id']}, listed at the end), applied to {areas}; intervals from a "
            "seeded Monte Carlo.")


def factor_rows(factors: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """``(factor, value and unit, interval, source, checked)`` from a run record's factors."""
    out = []
    for name, f in factors.items():
        value = f"{f['value']:g} {f['unit']}"
        if f["interval"] == "fixed":
            interval = "fixed (not varied)"
        else:
            interval = f"{f['low']:.3g} – {f['high']:.3g}"
            if f["interval"] == "assumed":
                interval += " (assumed ±50 %)"
        checked = f.get("verified") or "not verified against a copy of the source"
        out.append((FACTOR_LABELS.get(name, name), value, interval, str(f["source"]), checked))
    return out


@dataclass(frozen=True)
class EvidenceItem:
    """One criterion or indicator and this site's sentence for it."""

    standard: str
    item: str
    title: str
    sentence: str
    serves: str
    """The results' ``table.column`` it comes from, comma separated."""


def _fields(sentence: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(sentence) if f}


def evidence_items(entries: tuple[Evidence, ...], values: Mapping[str, Any]
                   ) -> list[EvidenceItem]:
    """Each entry's sentence filled from ``values``; entries whose numbers are missing (no
    carbon ledger, no fragmentation from a change-table account) are left out."""
    out = []
    for e in entries:
        need = _fields(e.sentence)
        have = {k: values.get(k) for k in need}
        if any(v is None or (isinstance(v, float) and not math.isfinite(v))
               or (not isinstance(v, str) and pd.isna(v)) for v in have.values()):
            continue
        out.append(EvidenceItem(e.standard, e.item, e.title, e.sentence.format(**have),
                                ", ".join(e.serves)))
    return out


def tonnes(value: float) -> float:
    """A tonnage as the sentences show it (three significant figures)."""
    return round3(float(value))

