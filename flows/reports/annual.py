"""The annual evidence pack, built in memory: one :class:`AnnualReport` per partner and year.

Reads the results folder's ``accounts``, ``carbon`` and ``change`` tables, the alerts, the
change maps and the run records (the factors each ledger used), and the sites file (partner,
name, habitat, baseline, ``protected_area``). Per site: the extent account (SEEA EA) and its
fragmentation, the GBF A.2 figure and trend (:mod:`indices.accounts`), the carbon ledger with its
intervals and conservative figure, and one sentence per criterion or indicator of each
standard the site reports to (:mod:`indices.standards`). Words: :mod:`flows.reports.evidence`;
the year's steps and folder: :mod:`flows.reports.year`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from aoi import Site, load_sites
from flows.config import SEEN_MIN, ConfigError, check_sites_path
from flows.reports.build import csv_rows, partner_groups, site_alerts
from flows.reports.evidence import (
    EvidenceItem,
    account_table,
    carbon_table,
    evidence_items,
    factor_rows,
    fragmentation_table,
    method_sentence,
    tonnes,
)
from flows.reports.figures import Chart, MapImage, carbon_chart, change_map, extent_chart
from flows.reports.ledger import carbon_rows_of, tco2e
from flows.reports.model import ReportError
from flows.reports.pdf import pdf_renderer
from flows.reports.places import AlertPlace, alert_places, site_place
from flows.reports.text import HABITAT_LABEL
from flows.results.runs import read_records
from flows.results.store import read_table
from indices.accounts import extent_trend, gbf_a2
from indices.standards import evidence_for

__all__ = ["AnnualReport", "AnnualSite", "annual_site", "build_annual", "habitat_label",
           "parse_year", "run_factors"]

_YEAR_RE = re.compile(r"(19|20)[0-9]{2}")


def parse_year(text: object) -> int:
    """``YYYY`` -> the year; :class:`ReportError` otherwise."""
    if not isinstance(text, str) or _YEAR_RE.fullmatch(text) is None:
        raise ReportError(f"--year must be YYYY (e.g. 2025), got {str(text)[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class AnnualSite:
    """One site's part of a partner's annual pack."""

    site: Site
    place: str
    year_label: str
    """``2025``, or ``2025 (to June)`` for a year still under way."""
    closing: dt.date
    """The year's last stored month."""
    account: list[tuple[str, ...]]
    fragmentation: list[tuple[str, ...]]
    flows_from: str
    gbf: dict[str, str]
    """``extent``, ``change``, ``change_pct``, ``trend``: the GBF A.2 figure and trend."""
    carbon: list[tuple[str, str, str]]
    evidence: list[EvidenceItem]
    extent_chart: Chart
    carbon_chart: Chart | None
    map: MapImage
    alerts: tuple[AlertPlace, ...] = ()
    factors_id: str | None = None
    method: str = ""
    """How the ledger was made (:func:`flows.reports.evidence.method_sentence`)."""
    carbon_change: str = ""
    """The change since the baseline at the year's end, ``−2,730 t CO₂e``."""
    csv: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnnualReport:
    """One partner's evidence pack for one year, fully rendered."""

    partner: str
    slug: str
    year: int
    sites: tuple[AnnualSite, ...]
    factors: dict[str, list[tuple[str, ...]]]
    """Factor rows by ``factors_id`` (from the run records)."""
    simulated: bool
    versions: str
    html: str = ""
    pdf: bytes = b""

    def filename(self, ext: str) -> str:
        return f"{self.slug}-{self.year}.{ext}"

    @property
    def images(self) -> dict[str, bytes]:
        out = {}
        for s in self.sites:
            out[f"{s.site.id}-map.png"] = s.map.png
            out[f"{s.site.id}-extent.png"] = s.extent_chart.png
            if s.carbon_chart is not None:
                out[f"{s.site.id}-carbon.png"] = s.carbon_chart.png
        return out

    @property
    def csv(self) -> bytes:
        frame = csv_rows(pd.DataFrame([s.csv for s in self.sites]),
                         {s.site.id: s.site.name for s in self.sites})
        return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


# --------------------------------------------------------------------------- inputs


def _table(out: Path, name: str, unreadable: dict[str, str]) -> pd.DataFrame:
    rows = read_table(out, name, unreadable=unreadable)
    if rows.empty:
        raise ReportError(f"{out}: no {name} table; run `bluecarbon run --out {out}` with this "
                          "version first (every run computes the carbon ledger and the extent "
                          "accounts)")
    return rows


def run_factors(out: Path) -> dict[str, dict[str, Any]]:
    """Each ``factors_id``'s factors as the latest run record that used it lists them."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for _, record in read_records(out):  # an unreadable one costs a factors table, no more
        when = str(record.get("started_at") or "")
        for entry in (record.get("sites") or {}).values():
            carbon = entry.get("carbon") if isinstance(entry, dict) else None
            if isinstance(carbon, dict) and carbon.get("factors_id") and carbon.get("factors"):
                fid = str(carbon["factors_id"])
                if fid not in found or found[fid][0] <= when:
                    found[fid] = (when, carbon)
    return {fid: carbon for fid, (_, carbon) in found.items()}


def _values(site: Site, habitat: str, year_label: str, account: pd.DataFrame,
            ledger_end: pd.Series | None) -> dict[str, Any]:
    """The fields of the standards' sentences for one site and year."""
    row = account.iloc[-1]
    a2 = gbf_a2(account).iloc[-1]
    trend = extent_trend(account)
    values: dict[str, Any] = {
        "site": site.name, "habitat": habitat, "year": year_label,
        "baseline_ha": float(account["opening_ha"].iloc[0]),
        "baseline_start": f"{site.baseline_start:%B %Y}",
        "baseline_end": f"{site.baseline_end:%B %Y}",
        "protected_area": site.properties.get("protected_area"),
        "extent_ha": float(a2["extent_ha"]), "change_pct": float(a2["change_since_baseline_pct"]),
        "first_year": trend.first_year, "slope_ha_per_yr": trend.slope_ha_per_yr,
        **{k: row[k] for k in ("opening_ha", "additions_ha", "reductions_ha", "net_change_ha",
                               "closing_ha", "mean_patch_ha", "edge_density_m_per_ha")},
        "n_patches": (None if pd.isna(row["n_patches"]) else
                      f"{int(row['n_patches'])} patch{'es' * (int(row['n_patches']) != 1)}"),
    }
    if ledger_end is not None:
        for key, col in (("baseline_stock_t", "baseline_stock_tco2e"),
                         ("baseline_stock_low_t", "baseline_stock_ci_low_tco2e"),
                         ("baseline_stock_high_t", "baseline_stock_ci_high_tco2e"),
                         ("change_t", "change_tco2e"), ("change_low_t", "change_ci_low_tco2e"),
                         ("change_high_t", "change_ci_high_tco2e"),
                         ("conservative_t", "change_conservative_tco2e")):
            value = ledger_end.get(col)
            values[key] = None if value is None or pd.isna(value) else tonnes(value)
    return values


def annual_site(site: Site, year: int, account: pd.DataFrame, ledger: pd.DataFrame,
                history: pd.DataFrame, out: Path, alerts: pd.DataFrame | None = None
                ) -> AnnualSite:
    """One site's part of the pack from its ``accounts`` rows, its ``carbon`` rows and its
    ``change`` rows (all years; those after ``year`` are left out)."""
    account = account[account["year"] <= year].sort_values("year").reset_index(drop=True)
    row = account.iloc[-1]
    closing = pd.Timestamp(row["closing_period"]).date() if pd.notna(row.get("closing_period")) \
        else max(p for p in history["period"] if p.year == year)
    year_label = str(year) if closing.month == 12 else f"{year} (to {closing:%B})"
    habitat = site.habitat
    first = dt.date(year, 1, 1)
    past = history[history["period"] <= closing]
    chart = extent_chart(past, first, min_valid=SEEN_MIN, until=closing,
                         baseline=(site.baseline_start, site.baseline_end),
                         highlight_label="this year")
    ledger = ledger[ledger["period"] <= closing]
    end = ledger[ledger["period"] == closing]
    ledger_end = end.iloc[0] if len(end) else None
    before = ledger[ledger["period"] < first]
    c_chart = (carbon_chart(ledger, year=(first, closing),
                            baseline=(site.baseline_start, site.baseline_end))
               if len(ledger) else None)
    places = alert_places(alerts, first, until=closing)
    a2 = gbf_a2(account).iloc[-1]
    trend = extent_trend(account)
    gbf = {"extent": f"{a2['extent_ha']:,.1f} ha",
           "change": f"{a2['change_since_baseline_ha']:+,.1f} ha".replace("-", "\u2212"),
           "change_pct": f"{a2['change_since_baseline_pct']:+.1f} %".replace("-", "\u2212"),
           "trend": ("—" if pd.isna(trend.slope_ha_per_yr) else
                     f"{trend.slope_ha_per_yr:+,.2f} ha a year since {trend.first_year}"
                     .replace("-", "\u2212", 1))}
    values = _values(site, habitat, year_label, account, ledger_end)
    entries = evidence_for(habitat, protected_area=bool(site.properties.get("protected_area")))
    csv = {"site_id": site.id, "year": year, "closing_period": closing, "habitat": habitat,
           **{k: row[k] for k in ("opening_ha", "additions_ha", "reductions_ha",
                                  "net_change_ha", "closing_ha", "n_patches", "mean_patch_ha",
                                  "edge_density_m_per_ha", "flows_from")},
           "gbf_a2_change_since_baseline_pct": a2["change_since_baseline_pct"],
           "extent_trend_ha_per_yr": trend.slope_ha_per_yr}
    if ledger_end is not None:
        csv.update({k: ledger_end.get(k) for k in (
            "stock_tco2e", "stock_ci_low_tco2e", "stock_ci_high_tco2e", "change_tco2e",
            "change_ci_low_tco2e", "change_ci_high_tco2e", "change_conservative_tco2e",
            "change_uncertainty_90_pct", "baseline_stock_tco2e", "method", "factors_id",
            "area_source")})
    return AnnualSite(
        site=site, place=site_place(site), year_label=year_label, closing=closing,
        account=account_table(account), fragmentation=fragmentation_table(account),
        flows_from=str(row.get("flows_from") or "change table"), gbf=gbf,
        carbon=(carbon_table(ledger_end, before.iloc[-1] if len(before) else None)
                if ledger_end is not None else []),
        evidence=evidence_items(entries, values), extent_chart=chart, carbon_chart=c_chart,
        map=change_map(site, closing, out, tuple(p.point for p in places)), alerts=places,
        factors_id=None if ledger_end is None else str(ledger_end["factors_id"]),
        method="" if ledger_end is None else method_sentence(ledger_end),
        carbon_change="" if ledger_end is None else tco2e(ledger_end["change_tco2e"], signed=True),
        csv=csv)


# --------------------------------------------------------------------------- assembly


def build_annual(out: str | Path, year: int, sites_path: str | Path | None,
                 render: Callable[[AnnualReport], str]) -> list[AnnualReport]:
    """Every partner's evidence pack for ``year`` in memory (HTML, PDF, CSV); ``render`` is
    :func:`flows.reports.year.render_annual`."""
    out = Path(out)
    if not out.is_dir():
        raise ReportError(f"results folder {out} not found (set --out)")
    if sites_path is not None:
        try:  # a FIFO or /dev/zero as the sites file would never finish reading
            check_sites_path(Path(sites_path))
        except ConfigError as exc:
            raise ReportError(str(exc)) from None
    sites = load_sites(sites_path)
    broken: dict[str, str] = {}  # a site whose rows cannot be read is left out, not all sites
    accounts = _table(out, "accounts", broken)
    carbon = _table(out, "carbon", broken)
    change = read_table(out, "change", unreadable=broken)
    change["period"] = pd.to_datetime(change["period"]).dt.date
    obs = read_table(out, "observations", unreadable=broken)
    known = [s for s in sites if s.id in set(accounts["site_id"]) and s.id not in broken]
    if not known:
        raise ReportError(f"{out}: none of the {len(sites)} sites in the sites file has "
                          "extent accounts")
    years = sorted(set(accounts.loc[accounts["site_id"].isin([s.id for s in known]), "year"]))
    if year not in years:
        raise ReportError(f"no results for {year} in {out} (stored years: {years[0]} to "
                          f"{years[-1]})")
    alerts = site_alerts(out, [s.id for s in known])
    factors = run_factors(out)
    renderer = pdf_renderer()  # fails before any work where no PDF renderer is installed
    reports = []
    for partner, slug, members in partner_groups(known):
        parts = []
        for s in members:
            account = accounts[accounts["site_id"] == s.id]
            if not (account["year"] == year).any():
                continue  # the site has no results in that year (baseline later, say)
            parts.append(annual_site(
                s, year, account, carbon_rows_of(carbon, s.id),
                change[change["site_id"] == s.id].reset_index(drop=True), out,
                alerts[alerts["site_id"] == s.id] if alerts is not None else None))
        if not parts:
            continue
        ids = [p.site.id for p in parts]
        used = {p.factors_id for p in parts if p.factors_id}
        rows = change[change["site_id"].isin(ids)]
        report = AnnualReport(
            partner=partner, slug=slug, year=year, sites=tuple(parts),
            factors={fid: factor_rows(factors[fid]["factors"]) for fid in sorted(used)
                     if fid in factors},
            simulated="demo" in set(obs.loc[obs["site_id"].isin(ids), "source"].dropna()),
            versions=", ".join(sorted(set(rows["processing_version"].dropna()))) or "unknown")
        html = render(report)
        reports.append(replace(report, html=html, pdf=renderer(html)))
    return reports


def habitat_label(site: Site) -> str:
    return HABITAT_LABEL.get(site.habitat, site.habitat.capitalize())

