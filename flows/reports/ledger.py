"""The carbon ledger in words: the monthly summary's carbon line and the annual pack's carbon
figures. Numbers are rounded to three significant figures in the text (the factors are known
to tens of per cent: more digits would be false precision); the CSV keeps them whole.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["METHOD_WORDS", "carbon_line", "carbon_rows_of", "change_words", "round3",
           "tco2e", "tco2e_range"]

METHOD_WORDS = {"ipcc2013-tier1": "IPCC 2013 Tier 1 default factors",
                "site-plots": "the site's own plot data where given, IPCC defaults elsewhere"}
CO2E = "t CO\u2082e"


def round3(value: float) -> float:
    """``value`` to three significant figures, whole tonnes at least (``263,159 -> 263,000``,
    ``-651.8 -> -652``)."""
    if not math.isfinite(value) or abs(value) < 1000:
        return round(value)
    exp = int(math.floor(math.log10(abs(value)))) - 2
    return round(value / 10**exp) * 10**exp


def tco2e(value: float, signed: bool = False) -> str:
    """``263,000 t CO₂e`` (``+1,230`` / ``−2,730`` when ``signed``)."""
    v = round3(float(value))
    text = f"{v:+,.0f}" if signed else f"{v:,.0f}"
    return text.replace("-", "\u2212") + f" {CO2E}"


def tco2e_range(low: float, high: float, signed: bool = False) -> str:
    """``158,000 – 369,000`` (``−4,600 to −1,410`` when ``signed``: a dash would read as a
    minus)."""
    fmt = "{:+,.0f}" if signed else "{:,.0f}"
    a, b = (fmt.format(round3(float(v))).replace("-", "\u2212") for v in (low, high))
    return f"{a} to {b}" if signed else f"{a} – {b}"


def change_words(change: float, low: float, high: float) -> str:
    """``a net removal of 1,230 t CO₂e`` / ``a net emission of ...`` / ``no net change``, with
    ``(likely ... to ...)``."""
    if abs(change) < 0.5:
        core = "no net change"
    else:
        core = (f"a net {'removal' if change > 0 else 'emission'} of "
                f"{tco2e(abs(change))}")
    return f"{core} (likely {tco2e_range(low, high, signed=True)})"


def carbon_rows_of(carbon: pd.DataFrame | None, site_id: str) -> pd.DataFrame:
    """A site's ledger rows with ``period`` as dates (empty when there are none)."""
    if carbon is None or carbon.empty:
        return pd.DataFrame(columns=["period"])
    rows = carbon[carbon["site_id"] == site_id].copy()
    rows["period"] = pd.to_datetime(rows["period"]).dt.date
    return rows.sort_values("period").reset_index(drop=True)


def carbon_line(row: pd.Series) -> tuple[str, list[tuple[str, str, str]]]:
    """The monthly summary's carbon sentence and metric rows from the month's ledger row."""
    method = METHOD_WORDS.get(str(row["method"]), str(row["method"]))
    sentence = (f"Carbon: the habitat holds about {tco2e(row['stock_tco2e'])} "
                f"(likely {tco2e_range(row['stock_ci_low_tco2e'], row['stock_ci_high_tco2e'])}); "
                f"since the baseline, "
                + change_words(row["change_tco2e"], row["change_ci_low_tco2e"],
                               row["change_ci_high_tco2e"])
                + f". Estimated from the mapped areas with {method}: an estimate, not certified "
                "carbon credits.")
    metrics = [("Carbon stock", tco2e(row["stock_tco2e"]),
                tco2e_range(row["stock_ci_low_tco2e"], row["stock_ci_high_tco2e"])),
               ("Carbon change since baseline", tco2e(row["change_tco2e"], signed=True),
                tco2e_range(row["change_ci_low_tco2e"], row["change_ci_high_tco2e"],
                            signed=True))]
    return sentence, metrics
