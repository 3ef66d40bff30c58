"""Monthly partner summaries, built in memory: one :class:`PartnerReport` per partner.

Reads only the Parquet contract (``change`` and ``observations`` via
:func:`flows.results.read_table`), the alerts, the sites file (partner, name, habitat,
baseline) and, where present, the maps COGs. Sites are grouped by their ``partner`` property
(:data:`UNASSIGNED` without one). Sites seen over less than :data:`flows.config.SEEN_MIN` of
their area that month, or with no usable scene, get no figure. The words:
:mod:`flows.reports.text`; figures: :mod:`flows.reports.figures`; HTML and the month's folder:
:mod:`flows.reports.render`; PDF: :mod:`flows.reports.pdf`; the month's steps (with
delivery): :mod:`flows.reports.month`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import pandas as pd

from aoi import Site, load_sites
from flows.config import SEEN_MIN, ConfigError, check_sites_path
from flows.reports.figures import change_map, extent_chart
from flows.reports.ledger import carbon_line, carbon_rows_of
from flows.reports.model import PartnerReport, ReportError, SiteReport
from flows.reports.pdf import pdf_renderer
from flows.reports.places import alert_places, site_place
from flows.reports.render import render_html
from flows.reports.text import (
    accuracy_section,
    alerts_text,
    ha,
    missing_text,
    month_status,
    ok_text,
    seen_clear,
    signed,
)
from flows.results.alerts import TABLE as ALERTS_TABLE
from flows.results.alerts import read_alerts
from flows.results.files import StoreError
from flows.results.store import read_table

__all__ = ["UNASSIGNED", "build_reports", "csv_rows", "parse_month", "partner_groups",
           "partner_slug", "site_alerts", "site_report"]

UNASSIGNED = "unassigned"
"""Partner slug of sites without a ``partner`` property."""
_MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


# --------------------------------------------------------------------------- inputs


def parse_month(text: object) -> dt.date:
    """``YYYY-MM`` -> the first day of that month; :class:`ReportError` otherwise."""
    match = _MONTH_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match[1]) < 1:
        raise ReportError(f"--month must be YYYY-MM (e.g. 2024-06), got {str(text)[:40]!r}")
    return dt.date(int(match[1]), int(match[2]), 1)


def partner_slug(partner: str | None) -> str:
    """Folder-safe slug of a partner name (``[a-z0-9-]``, at most 64 characters)."""
    if not partner or not partner.strip():
        return UNASSIGNED
    text = unicodedata.normalize("NFKD", partner).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:64].strip("-")
    return slug or "partner-" + hashlib.blake2b(partner.encode(), digest_size=4).hexdigest()


def _read(out: Path, unreadable: dict[str, str] | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The change and observation rows; a site whose files cannot be read is left out of
    both and named in ``unreadable`` (one broken partition must not refuse every report)."""
    if not out.is_dir():
        raise ReportError(f"results folder {out} not found (set --out)")
    broken: dict[str, str] = {} if unreadable is None else unreadable
    change = read_table(out, "change", unreadable=broken)
    obs = read_table(out, "observations", unreadable=broken)
    change = change[~change["site_id"].isin(list(broken))].reset_index(drop=True)
    obs = obs[~obs["site_id"].isin(list(broken))].reset_index(drop=True)
    if change.empty:
        raise ReportError(f"{out}: no change rows; run `bluecarbon run --out {out}` first")
    change["period"] = pd.to_datetime(change["period"]).dt.date
    obs["period"] = obs["datetime"].dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.date
    return change, obs


def site_report(site: Site, month: dt.date, history: pd.DataFrame, scenes: int,
                out: Path, alerts: pd.DataFrame | None = None,
                seen_min: float = SEEN_MIN, accuracy: pd.DataFrame | None = None,
                carbon: pd.DataFrame | None = None) -> SiteReport:
    """One site's part of the month's summary, from its change rows up to the month
    (``history``), the number of scenes acquired in the month, its alerts (listed with their
    locations and numbered on the map), its accuracy assessments (rows of the ``accuracy``
    table; the month's, if any, is shown) and its carbon ledger rows (the month's carbon
    line)."""
    current = history[history["period"] == month]
    row = current.iloc[0] if len(current) else None
    status = month_status(row, seen_min)
    seen = seen_clear(row, scenes)
    overview = {"seen": seen[0], "extent": "", "net": "", "short_status": ""}
    if status == "ok":
        assert row is not None
        headline, details, metrics = ok_text(site, row, seen)
        overview.update(extent=ha(row["extent_ha"]), net=signed(row["net_change_ha"]))
    else:
        headline, details = missing_text(site, status, row, history, month, seen, seen_min)
        metrics = []
        overview["short_status"] = "no results yet" if row is None else "too few clear views"
    ledger = carbon_rows_of(carbon, site.id)
    ledger = ledger[ledger["period"] == month]
    if status == "ok" and len(ledger):
        sentence, rows = carbon_line(ledger.iloc[0])
        details = (*details, sentence)
        metrics = [*metrics, *rows]
    alert = alerts_text(alerts, month)
    if alert:
        details = (*details, alert[0])
        metrics = [*metrics, *alert[1]]
    metrics.append(("Seen clear of cloud", *seen))
    past = history[history["period"] <= month]
    chart = (extent_chart(past, month, min_valid=seen_min,
                          baseline=(site.baseline_start, site.baseline_end)) if len(past) else None)
    assessed = None
    if accuracy is not None and len(accuracy):
        assessed = accuracy_section(
            accuracy[pd.to_datetime(accuracy["period"]).dt.date == month], site)
    places = alert_places(alerts, month)
    return SiteReport(site, status, headline, tuple(details), tuple(metrics), overview, chart,
                      change_map(site, month, out, tuple(p.point for p in places)),
                      site_place(site), places, assessed)


def site_alerts(out: Path, site_ids: list[str]) -> pd.DataFrame | None:
    """The sites' alerts, site by site: an unreadable alerts file leaves that site without
    alerts in the report, not every site without a report."""
    if not (out / ALERTS_TABLE).is_dir():
        return None
    frames = []
    for site_id in site_ids:
        try:
            frames.append(read_alerts(out, site_id))
        except StoreError:
            continue
    if not frames:
        return None
    filled = [f for f in frames if len(f)]
    return pd.concat(filled, ignore_index=True) if filled else frames[0]


# --------------------------------------------------------------------------- assembly


def partner_groups(sites: list[Site]) -> list[tuple[str, str, list[Site]]]:
    """``(partner as shown, folder slug, sites)`` per ``partner`` property, in file order within
    each: sites without a partner first, so that they always get the slug :data:`UNASSIGNED`;
    two partner names with one slug get a stable suffix from the name."""
    groups: dict[str, list[Site]] = {}
    for site in sites:
        groups.setdefault((site.partner or "").strip(), []).append(site)
    out, slugs = [], set()
    for partner, members in sorted(groups.items(), key=lambda kv: (bool(kv[0]), kv[0].lower())):
        slug = partner_slug(partner)
        if slug in slugs:
            slug = f"{slug[:55]}-{hashlib.blake2b(partner.encode(), digest_size=4).hexdigest()}"
        slugs.add(slug)
        out.append((" ".join(partner.split()) or "Sites without a partner", slug, members))
    return out


def csv_rows(rows: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The month's change rows with the site name; text cells that a spreadsheet would run as a
    formula (``= + - @``, tab, CR) get a leading apostrophe (OWASP CSV injection)."""
    frame = rows.copy()
    frame.insert(1, "site_name", frame["site_id"].map(names))
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(
                lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r")
                else v)
    return frame


def build_reports(out: str | Path, month: dt.date,
                  sites_path: str | Path | list[str | Path | None] | None = None,
                  unreadable: dict[str, str] | None = None) -> list[PartnerReport]:
    """Render every partner's summary for ``month`` in memory (HTML, PDF, CSV rows).
    ``sites_path``: a sites file or folder (None: the bundled sites), or a list of them (a site
    in several: the first one's). Sites whose stored rows cannot be read are left out and
    named in ``unreadable``."""
    out = Path(out)
    paths = sites_path if isinstance(sites_path, list) else [sites_path]
    by_id: dict[str, Site] = {}
    for path in paths:
        if path is not None:
            try:  # a FIFO or /dev/zero as the sites file would never finish reading
                check_sites_path(Path(path))
            except ConfigError as exc:
                raise ReportError(str(exc)) from None
        for site in load_sites(path):
            by_id.setdefault(site.id, site)
    sites = list(by_id.values())
    change, obs = _read(out, unreadable)
    stored = set(change["site_id"])
    known = [s for s in sites if s.id in stored]
    if not known:
        raise ReportError(f"{out}: none of the {len(sites)} sites in the sites file has results")
    month_rows = change[(change["period"] == month) & change["site_id"].isin([s.id for s in known])]
    if month_rows.empty:
        first, last = min(change["period"]), max(change["period"])
        raise ReportError(f"no results for {month:%Y-%m} in {out} (stored months: "
                          f"{first:%Y-%m} to {last:%Y-%m})")
    month_obs = obs[obs["period"] == month]
    alerts = site_alerts(out, [s.id for s in known])
    # a site whose assessment or ledger cannot be read is reported without it, not refused
    accuracy = read_table(out, "accuracy", unreadable={})  # empty where none was made
    carbon = read_table(out, "carbon", unreadable={})  # empty where no run computed it yet
    renderer = pdf_renderer()  # fails before any work where no PDF renderer is installed
    reports = []
    for partner, slug, members in partner_groups(known):
        ids = [s.id for s in members]
        site_reports = tuple(
            site_report(s, month, change[change["site_id"] == s.id].reset_index(drop=True),
                         int((month_obs["site_id"] == s.id).sum()), out,
                         alerts=alerts[alerts["site_id"] == s.id] if alerts is not None else None,
                         accuracy=accuracy[accuracy["site_id"] == s.id],
                         carbon=carbon)
            for s in members)
        rows = month_rows[month_rows["site_id"].isin(ids)]
        sources = set(obs.loc[obs["site_id"].isin(ids), "source"].dropna())
        report = PartnerReport(
            partner=partner, slug=slug,
            month=month, sites=site_reports, rows=csv_rows(rows, {s.id: s.name for s in members}),
            simulated="demo" in sources,
            versions=", ".join(sorted(set(rows["processing_version"].dropna()))) or "unknown")
        html = render_html(report)
        reports.append(replace(report, html=html, pdf=renderer(html)))
    return reports


