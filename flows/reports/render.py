"""The partner summary as a page (HTML with its images inline, or as ``cid:`` references for the
email body; plain text), and the month's folder written whole::

    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.html   summary, images inline
    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.pdf    the same, printable
    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.csv    the month's change rows

The folder is built beside the old one and swapped in by rename: a failure leaves the previous
reports as they were. HTML is rendered by Jinja2 with autoescape on.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import shutil
from pathlib import Path

import jinja2

from flows.config import SEEN_MIN
from flows.reports.model import PartnerReport, ReportError
from flows.reports.text import HABITAT_LABEL, MAP_BASED_NOTE

__all__ = ["content_id", "render_html", "write_reports"]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("flows.reports", "templates"),
    autoescape=jinja2.select_autoescape(disabled_extensions=("txt.j2",), default=True),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


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
        "habitat_label": HABITAT_LABEL.get(s.site.habitat, s.site.habitat),
        "baseline": f"{s.site.baseline_start:%b %Y} – {s.site.baseline_end:%b %Y}",
        "status": s.status, "headline": s.headline, "details": s.details, "metrics": s.metrics,
        **s.overview, "map_key": f"{s.site.id}-map.png",
        "map_caption": s.map.note.capitalize() + "; the site boundary is shown." if s.map.note
        else "Change since the baseline; the site boundary in red.",
        "chart_key": f"{s.site.id}-chart.png" if s.chart else None,
        "accuracy": s.accuracy,
    } for s in report.sites]
    habitats = sorted({s.site.habitat for s in report.sites})
    template = _TEMPLATES.get_template("summary.txt.j2" if text else "summary.html.j2")
    return template.render(
        partner=report.partner, month_label=f"{report.month:%B %Y}", sites=sites, src=src,
        generated=f"{dt.datetime.now(dt.UTC):%d %B %Y}", simulated=report.simulated,
        threshold=f"{SEEN_MIN:.0%}", habitats=" or ".join(habitats),
        versions=report.versions, map_based_note=MAP_BASED_NOTE)


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
