"""Monthly partner summaries: ``bluecarbon report --month YYYY-MM [--out DIR] [--sites F] [--deliver]``.

Reads only the Parquet contract (``change`` and ``observations`` via :func:`flows.store.read_table`),
the sites file (partner, name, habitat, baseline) and, where present, the maps COGs; writes, for
each partner (sites grouped by their ``partner`` property, :data:`UNASSIGNED` without one)::

    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.html   summary, images inline
    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.pdf    the same, printable
    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.csv    the month's change rows

Everything is rendered in memory first and the month's folder replaced in one rename: a failure
leaves the previous reports as they were. Sites seen over less than :data:`VALID_FRACTION_MIN`
of their area that month, or with no usable scene, get no figure. HTML is rendered by Jinja2 with
autoescape on; figures: :mod:`flows.report_figures`; PDF: :mod:`flows.report_pdf` (WeasyPrint,
else headless Chromium). ``--deliver``: see :mod:`flows.deliver`.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import sys
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2
import pandas as pd

from aoi import Site, SitesError, load_sites
from flows import store
from flows.alerts_io import TABLE as ALERTS_TABLE
from flows.alerts_io import read_alerts
from flows.pipeline import CLOSURE_RATIO
from flows.report_figures import MapImage, change_map, extent_chart
from flows.report_pdf import PDF_RENDERERS, PdfError, pdf_renderer

__all__ = ["PDF_RENDERERS", "UNASSIGNED", "VALID_FRACTION_MIN", "PartnerReport", "ReportError",
           "SiteReport", "build_reports", "cli_report", "content_id", "parse_month",
           "partner_slug", "render_html", "write_reports"]

VALID_FRACTION_MIN = 0.3
"""Below this fraction of the site seen clear in a month, the month gets no figure: gap-filled
extent from older views would be presented as if it were this month's."""
UNASSIGNED = "unassigned"
"""Partner slug of sites without a ``partner`` property."""
_HABITAT_LABEL = {"mangrove": "Mangrove", "seagrass": "Seagrass"}
_MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("flows", "templates"),
    autoescape=jinja2.select_autoescape(disabled_extensions=("txt.j2",), default=True),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class ReportError(Exception):
    """Bad input for a report (month, results folder, renderer); the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class SiteReport:
    """One site's part of a partner summary; ``status`` is ``ok``, ``too_few`` or ``no_data``."""

    site: Site
    status: str
    headline: str
    details: tuple[str, ...]
    metrics: tuple[tuple[str, str, str], ...]
    """(label, value, likely range) rows of the site's table."""
    overview: dict[str, str]
    """Cells of the 'at a glance' table: extent, net, seen, short_status."""
    chart: bytes | None
    map: MapImage


@dataclass(frozen=True)
class PartnerReport:
    """One partner's summary for one month, fully rendered."""

    partner: str
    slug: str
    month: dt.date
    sites: tuple[SiteReport, ...]
    rows: pd.DataFrame
    simulated: bool
    versions: str
    html: str = ""
    pdf: bytes = b""

    def filename(self, ext: str) -> str:
        return f"{self.slug}-{self.month:%Y-%m}.{ext}"

    @property
    def images(self) -> dict[str, bytes]:
        """PNGs by key (``<site_id>-chart.png``, ``<site_id>-map.png``)."""
        out = {f"{s.site.id}-map.png": s.map.png for s in self.sites}
        out.update({f"{s.site.id}-chart.png": s.chart for s in self.sites if s.chart})
        return out

    @property
    def csv(self) -> bytes:
        return self.rows.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


# --------------------------------------------------------------------------- inputs


def parse_month(text: object) -> dt.date:
    """``YYYY-MM`` -> the first day of that month; :class:`ReportError` otherwise."""
    match = _MONTH_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ReportError(f"--month must be YYYY-MM (e.g. 2024-06), got {str(text)[:40]!r}")
    return dt.date(int(match[1]), int(match[2]), 1)


def partner_slug(partner: str | None) -> str:
    """Folder-safe slug of a partner name (``[a-z0-9-]``, at most 64 characters)."""
    if not partner or not partner.strip():
        return UNASSIGNED
    text = unicodedata.normalize("NFKD", partner).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:64].strip("-")
    return slug or "partner-" + hashlib.blake2b(partner.encode(), digest_size=4).hexdigest()


def _read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not out.is_dir():
        raise ReportError(f"results folder {out} not found (set --out)")
    change = store.read_table(out, "change")
    if change.empty:
        raise ReportError(f"{out}: no change rows; run `bluecarbon run --out {out}` first")
    change["period"] = pd.to_datetime(change["period"]).dt.date
    obs = store.read_table(out, "observations")
    obs["period"] = obs["datetime"].dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.date
    return change, obs


# --------------------------------------------------------------------------- plain language


def _ha(value: float) -> str:
    return f"{value:,.1f} ha"


def _range(low: float, high: float) -> str:
    return f"{low:,.1f} – {high:,.1f} ha"


def _change_words(value: float) -> str:
    if abs(value) < 0.05:
        return "no change"
    return f"a {'gain' if value > 0 else 'loss'} of {_ha(abs(value))}"


def _interval(row: pd.Series, name: str) -> tuple[float, float] | None:
    low, high = row.get(f"{name}_ci_low_ha"), row.get(f"{name}_ci_high_ha")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    return float(low), float(high)


def _baseline_label(site: Site) -> str:
    a, b = site.baseline_start.year, site.baseline_end.year
    return f"{a}" if a == b else f"{a}–{b}"


def _status(row: pd.Series | None) -> str:
    if row is None:
        return "no_data"
    valid, n_obs, extent = row["valid_fraction"], row["n_observations"], row["extent_ha"]
    if pd.isna(n_obs) or n_obs == 0 or pd.isna(valid) or valid < VALID_FRACTION_MIN:
        return "too_few"
    return "ok" if not pd.isna(extent) else "too_few"


def _seen(row: pd.Series | None, scenes: int) -> tuple[str, str]:
    if row is None or pd.isna(row["valid_fraction"]):
        return "—", f"{scenes} scene{'s' * (scenes != 1)} acquired"
    n = 0 if pd.isna(row["n_observations"]) else int(row["n_observations"])
    return f"{row['valid_fraction']:.0%}", f"{n} usable of {scenes} scene{'s' * (scenes != 1)}"


def _signed(value: float) -> str:
    return f"{value:+,.1f} ha".replace("-", "\u2212")


def _ok_text(site: Site, row: pd.Series, seen: tuple[str, str]) -> tuple[str, list, list]:
    """Headline, detail sentences and metric rows of a month with a reliable figure."""
    habitat = _HABITAT_LABEL.get(site.habitat, site.habitat.capitalize())
    base = _baseline_label(site)
    extent, baseline, net = row["extent_ha"], row["baseline_extent_ha"], row["net_change_ha"]
    low, high = row["extent_ci_low_ha"], row["extent_ci_high_ha"]
    has_ci = not (pd.isna(low) or pd.isna(high))
    if abs(net) < 0.05:
        headline = f"{habitat} cover at {site.name} is about the same as at its {base} baseline."
    else:
        verb = "grew" if net > 0 else "shrank"
        headline = f"{habitat} cover at {site.name} {verb} by {_ha(abs(net))} since the {base} baseline."
    if has_ci:
        headline += (f" The true change is likely between {_change_words(low - baseline)} "
                     f"and {_change_words(high - baseline)}.")
    details = [
        f"It now covers {_ha(extent)}" + (f" (likely {_range(low, high)})" if has_ci else "")
        + f": {_ha(row['gain_ha'])} of new {site.habitat} and {_ha(row['loss_ha'])} lost "
        f"since the baseline, when it covered {_ha(baseline)}.",
        f"Satellites saw {seen[0]} of the site clear of cloud this month ({seen[1]}).",
    ]
    turbid = row.get("turbid")  # column added in issue 6; null where not assessed
    if turbid is not None and not pd.isna(turbid) and bool(turbid):
        details.append("The water was turbid this month, so part of the seagrass may have been "
                       "hidden from view; treat this month's figure with care.")
    canopy = _canopy_text(row)
    if canopy:
        details.append(canopy[0])
    recovery = _recovery_text(row)
    if recovery:
        details.append(recovery[0])
    metrics = [("Habitat extent", _ha(extent), _range(low, high) if has_ci else ""),
               (f"Baseline extent ({base})", _ha(baseline), "")]
    for name, label in (("gain", "Gain since baseline"), ("loss", "Loss since baseline")):
        ci = _interval(row, name)
        metrics.append((label, _ha(row[f"{name}_ha"]),
                        _range(*ci) if ci else "no interval available"))
    net_range = f"{_signed(low - baseline)[:-3]} to {_signed(high - baseline)}" if has_ci else ""
    metrics.append(("Net change since baseline", _signed(net), net_range))
    for extra in (canopy, recovery):
        if extra:
            metrics.extend(extra[1])
    return headline, details, metrics


_CANOPY_CLASSES = (("canopy_80_100_ha", "dense", "80–100 %"),
                   ("canopy_50_80_ha", "medium", "50–80 %"),
                   ("canopy_20_50_ha", "open", "20–50 %"))


def _value(row: pd.Series, name: str) -> float | None:
    value = row.get(name)  # columns added in issue 6: absent in older stores, null where n/a
    return None if value is None or pd.isna(value) else float(value)


def _canopy_text(row: pd.Series) -> tuple[str, list] | None:
    """Canopy density classes (mangrove sites) as a sentence and metric rows; None if the
    store has none for this month."""
    values = [(_value(row, col), word, span) for col, word, span in _CANOPY_CLASSES]
    if any(v is None for v, _, _ in values):
        return None
    parts = [f"{_ha(v)} {word} ({span})" for v, word, span in values]
    sentence = ("Canopy cover over the mangrove and the restoration zone: "
                f"{', '.join(parts[:-1])} and {parts[-1]}.")
    return sentence, [(f"Canopy {word} ({span} cover)", _ha(v), "") for v, word, span in values]


def _recovery_text(row: pd.Series) -> tuple[str, list] | None:
    """The restoration's greenness against its intact reference site (sites with a
    ``reference_site``), and whether canopy closure was reached."""
    ratio = _value(row, "recovery_ratio")
    if ratio is None:
        return None
    closure = row.get("canopy_closure_period")
    closed = closure is not None and not pd.isna(closure) and str(closure) != ""
    when = pd.Timestamp(str(closure)).strftime("%B %Y") if closed else ""
    sentence = (f"The restoration zone is {ratio:.0%} as green as the intact reference site "
                f"(canopy greenness, NDVI); " + (
                    f"canopy closure ({CLOSURE_RATIO:.0%} of the reference) was reached in {when}."
                    if closed else
                    f"canopy closure ({CLOSURE_RATIO:.0%} of the reference) is not reached yet."))
    rows = [("Recovery against the reference site", f"{ratio:.0%}",
             f"canopy closure at {CLOSURE_RATIO:.0%}"),
            ("Canopy closure reached", when or "not yet", "")]
    return sentence, rows


def _missing_text(site: Site, status: str, row: pd.Series | None, history: pd.DataFrame,
                  month: dt.date, seen: tuple[str, str]) -> tuple[str, list]:
    """Headline and details of a month without a reliable figure, and the last reliable one."""
    if status == "no_data":
        headline, details = f"No results for {site.name} this month yet.", []
    else:
        headline = f"Too few clear satellite views of {site.name} this month to give a figure."
        details = [f"Satellites saw {seen[0]} of the site clear of cloud ({seen[1]}); at least "
                   f"{VALID_FRACTION_MIN:.0%} is needed for a monthly figure."]
    earlier = [r for _, r in history.iterrows() if r["period"] < month and _status(r) == "ok"]
    if earlier:
        last = earlier[-1]
        details.append(f"The last reliable figure, for {last['period']:%B %Y}, was "
                       f"{_ha(last['extent_ha'])} ({_change_words(last['net_change_ha'])} since "
                       f"the {_baseline_label(site)} baseline).")
    return headline, details


def _alerts_text(alerts: pd.DataFrame | None, month: dt.date) -> tuple[str, list] | None:
    """Loss alerts of the month: confirmed in it, and candidates still under watch at its end
    (seen in it, not confirmed); None when there are none."""
    if alerts is None or alerts.empty:
        return None
    start = pd.Timestamp(month, tz="UTC")
    end = start + pd.offsets.MonthBegin(1)
    confirmed = alerts[(alerts["confirmed_at"] >= start) & (alerts["confirmed_at"] < end)]
    watched = alerts[(alerts["status"] == "candidate") & (alerts["last_seen"] >= start)
                     & (alerts["first_seen"] < end)]
    if confirmed.empty and watched.empty:
        return None
    parts = []
    if len(confirmed):
        parts.append(f"{len(confirmed)} loss alert{'s' * (len(confirmed) != 1)} confirmed this "
                     f"month, covering {_ha(confirmed['confirmed_ha'].sum())}")
    if len(watched):
        parts.append(f"{len(watched)} possible loss{'es' * (len(watched) != 1)} under watch "
                     f"({_ha(watched['area_ha'].sum())}), not yet confirmed by enough clear views")
    rows = [("Loss alerts confirmed this month", str(len(confirmed)),
             _ha(confirmed["confirmed_ha"].sum()) if len(confirmed) else ""),
            ("Possible losses under watch", str(len(watched)),
             _ha(watched["area_ha"].sum()) if len(watched) else "")]
    return "; ".join(parts) + ".", rows


def _site_report(site: Site, month: dt.date, history: pd.DataFrame, scenes: int,
                 out: Path, alerts: pd.DataFrame | None = None) -> SiteReport:
    current = history[history["period"] == month]
    row = current.iloc[0] if len(current) else None
    status = _status(row)
    seen = _seen(row, scenes)
    overview = {"seen": seen[0], "extent": "", "net": "", "short_status": ""}
    if status == "ok":
        assert row is not None
        headline, details, metrics = _ok_text(site, row, seen)
        overview.update(extent=_ha(row["extent_ha"]), net=_signed(row["net_change_ha"]))
    else:
        headline, details = _missing_text(site, status, row, history, month, seen)
        metrics = []
        overview["short_status"] = "no results yet" if row is None else "too few clear views"
    alert = _alerts_text(alerts, month)
    if alert:
        details = (*details, alert[0])
        metrics = [*metrics, *alert[1]]
    metrics.append(("Seen clear of cloud", *seen))
    past = history[history["period"] <= month]
    chart = (extent_chart(past, month, min_valid=VALID_FRACTION_MIN,
                          baseline=(site.baseline_start, site.baseline_end)) if len(past) else None)
    return SiteReport(site, status, headline, tuple(details), tuple(metrics), overview, chart,
                      change_map(site, month, out))


# --------------------------------------------------------------------------- assembly


def _csv_rows(rows: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
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


def build_reports(out: str | Path, month: dt.date, sites_path: str | Path | None = None
                  ) -> list[PartnerReport]:
    """Render every partner's summary for ``month`` in memory (HTML, PDF, CSV rows)."""
    out = Path(out)
    sites = load_sites(sites_path)
    change, obs = _read(out)
    stored = set(change["site_id"])
    known = [s for s in sites if s.id in stored]
    if not known:
        raise ReportError(f"{out}: none of the {len(sites)} sites in the sites file has results")
    month_rows = change[(change["period"] == month) & change["site_id"].isin([s.id for s in known])]
    if month_rows.empty:
        first, last = min(change["period"]), max(change["period"])
        raise ReportError(f"no results for {month:%Y-%m} in {out} (stored months: "
                          f"{first:%Y-%m} to {last:%Y-%m})")
    groups: dict[str, list[Site]] = {}
    for site in known:
        groups.setdefault((site.partner or "").strip(), []).append(site)
    month_obs = obs[obs["period"] == month]
    alerts = read_alerts(out) if (out / ALERTS_TABLE).is_dir() else None
    renderer = pdf_renderer()  # fails before any work where no PDF renderer is installed
    reports, slugs = [], set()
    # sites without a partner first, so that they always get the slug UNASSIGNED
    for partner, members in sorted(groups.items(), key=lambda kv: (bool(kv[0]), kv[0].lower())):
        slug = partner_slug(partner)
        if slug in slugs:  # two partner names with one slug: a stable suffix from the name
            slug = f"{slug[:55]}-{hashlib.blake2b(partner.encode(), digest_size=4).hexdigest()}"
        slugs.add(slug)
        ids = [s.id for s in members]
        site_reports = tuple(
            _site_report(s, month, change[change["site_id"] == s.id].reset_index(drop=True),
                         int((month_obs["site_id"] == s.id).sum()), out,
                         alerts=alerts[alerts["site_id"] == s.id] if alerts is not None else None)
            for s in members)
        rows = month_rows[month_rows["site_id"].isin(ids)]
        sources = set(obs.loc[obs["site_id"].isin(ids), "source"].dropna())
        report = PartnerReport(
            partner=" ".join(partner.split()) or "Sites without a partner", slug=slug,
            month=month, sites=site_reports, rows=_csv_rows(rows, {s.id: s.name for s in members}),
            simulated="demo" in sources,
            versions=", ".join(sorted(set(rows["processing_version"].dropna()))) or "unknown")
        html = render_html(report)
        reports.append(replace(report, html=html, pdf=renderer(html)))
    return reports


def content_id(key: str) -> str:
    """Content-ID (without angle brackets) of an inline image in the email body."""
    return f"{key}@bluecarbon"


def render_html(report: PartnerReport, *, inline_cid: bool = False, text: bool = False) -> str:
    """The summary page: images as data URIs (file, PDF) or ``cid:`` references (email body);
    ``text=True`` gives the plain-text version."""
    src = {key: (f"cid:{content_id(key)}" if inline_cid else
                 "data:image/png;base64," + base64.b64encode(png).decode("ascii"))
           for key, png in report.images.items()}
    sites = [{
        "id": s.site.id, "name": s.site.name, "country": s.site.country or "",
        "habitat_label": _HABITAT_LABEL.get(s.site.habitat, s.site.habitat),
        "baseline": f"{s.site.baseline_start:%b %Y} – {s.site.baseline_end:%b %Y}",
        "status": s.status, "headline": s.headline, "details": s.details, "metrics": s.metrics,
        **s.overview, "map_key": f"{s.site.id}-map.png",
        "map_caption": s.map.note.capitalize() + "; the site boundary is shown." if s.map.note
        else "Change since the baseline; the site boundary in red.",
        "chart_key": f"{s.site.id}-chart.png" if s.chart else None,
    } for s in report.sites]
    habitats = sorted({s.site.habitat for s in report.sites})
    template = _TEMPLATES.get_template("summary.txt.j2" if text else "summary.html.j2")
    return template.render(
        partner=report.partner, month_label=f"{report.month:%B %Y}", sites=sites, src=src,
        generated=f"{dt.datetime.now(dt.UTC):%d %B %Y}", simulated=report.simulated,
        threshold=f"{VALID_FRACTION_MIN:.0%}", habitats=" or ".join(habitats),
        versions=report.versions)


# --------------------------------------------------------------------------- output


def write_reports(out: str | Path, month: dt.date, reports: list[PartnerReport]) -> Path:
    """Write ``<out>/reports/<YYYY-MM>/`` whole: built beside it, then swapped in by rename."""
    root = Path(out) / "reports"
    final = root / f"{month:%Y-%m}"
    token = secrets.token_hex(6)
    tmp, old = root / f".{final.name}.tmp-{token}", root / f".{final.name}.old-{token}"
    try:
        for report in reports:
            folder = tmp / report.slug
            folder.mkdir(parents=True)
            (folder / report.filename("html")).write_text(report.html, encoding="utf-8")
            (folder / report.filename("pdf")).write_bytes(report.pdf)
            (folder / report.filename("csv")).write_bytes(report.csv)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():
            old.rename(final)
        raise ReportError(f"{final}: cannot write reports: {exc.strerror or exc}") from None
    shutil.rmtree(old, ignore_errors=True)
    return final


def cli_report(args: argparse.Namespace) -> int:
    """``bluecarbon report``: 0 done, 1 written but some deliveries failed, 2 bad input."""
    from flows import deliver

    out = Path(args.out)
    try:
        month = parse_month(args.month)
        settings = deliver.load_settings(os.environ) if args.deliver else None
        reports = build_reports(out, month, args.sites)
        plan = deliver.plan(reports, settings) if settings is not None else None
        folder = write_reports(out, month, reports)
    except (ReportError, PdfError, SitesError, store.StoreError, deliver.DeliveryError) as exc:
        print(f"bluecarbon: error: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        states = ", ".join(f"{sum(s.status == k for s in report.sites)} {k.replace('_', ' ')}"
                           for k in ("ok", "too_few", "no_data")
                           if any(s.status == k for s in report.sites))
        print(f"{folder / report.slug}/  {report.partner}: {len(report.sites)} site(s) ({states})")
    if plan is None:
        return 0
    failures = deliver.deliver(plan, settings, out)
    return 1 if failures else 0

