"""A year's evidence packs, step by step (``bluecarbon report --year YYYY``)::

    <out>/reports/<YYYY>/<partner-slug>/<partner-slug>-<YYYY>.html   the pack, images inline
    <out>/reports/<YYYY>/<partner-slug>/<partner-slug>-<YYYY>.pdf    the same, printable
    <out>/reports/<YYYY>/<partner-slug>/<partner-slug>-<YYYY>.csv    one row per site

1. every partner's pack rendered in memory (:func:`flows.reports.annual.build_annual`), after
   the year, the results folder, the sites and the PDF renderer are checked;
2. the year's folder written in one swap (:func:`flows.reports.render.write_folder`).

Bad input raises one of :data:`flows.reports.month.REPORT_ERRORS` (one line) before anything
is written, as for a month's summaries.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flows.reports.annual import AnnualReport, build_annual, habitat_label, parse_year
from flows.reports.evidence import CAVEATS
from flows.reports.render import TEMPLATES, map_caption, write_folder
from indices.standards import STANDARD_EVIDENCE

__all__ = ["YearResult", "render_annual", "report_year", "write_annual"]


def render_annual(report: AnnualReport) -> str:
    """The pack's page, images as data URIs."""
    src = {key: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
           for key, png in report.images.items()}
    sites = [{
        "id": s.site.id, "name": s.site.name, "country": s.site.country or "",
        "habitat_label": habitat_label(s.site), "place": s.place,
        "protected_area": s.site.properties.get("protected_area") or "",
        "baseline": f"{s.site.baseline_start:%b %Y} – {s.site.baseline_end:%b %Y}",
        "year_label": s.year_label, "closing": f"{s.closing:%B %Y}",
        "account": s.account, "fragmentation": s.fragmentation, "flows_from": s.flows_from,
        "gbf": s.gbf, "carbon": s.carbon, "carbon_change": s.carbon_change,
        "method": s.method, "evidence": s.evidence, "alerts": s.alerts,
        "map_key": f"{s.site.id}-map.png", "map_legend": s.map.legend,
        "map_caption": map_caption(s.map.note),
        "extent_key": f"{s.site.id}-extent.png", "extent_legend": s.extent_chart.legend,
        "carbon_key": f"{s.site.id}-carbon.png" if s.carbon_chart else None,
        "carbon_legend": s.carbon_chart.legend if s.carbon_chart else (),
        "factors_id": s.factors_id,
    } for s in report.sites]
    citations = sorted({c.strip() for e in STANDARD_EVIDENCE for c in e.citation.split(";")})
    return TEMPLATES.get_template("annual.html.j2").render(
        partner=report.partner, year=report.year, sites=sites, src=src,
        generated=f"{dt.datetime.now(dt.UTC):%d %B %Y}", simulated=report.simulated,
        caveats=CAVEATS, factors=report.factors, citations=citations,
        versions=report.versions, footer_label=f"bluecarbon · evidence pack {report.year}")


def write_annual(out: str | Path, year: int, reports: list[AnnualReport]) -> Path:
    """Write ``<out>/reports/<YYYY>/`` whole (built beside it, swapped in by rename)."""
    return write_folder(out, f"{year:04d}", {
        f"{r.slug}/{r.filename(ext)}": data for r in reports
        for ext, data in (("html", r.html.encode("utf-8")), ("pdf", r.pdf), ("csv", r.csv))})


@dataclass(frozen=True)
class YearResult:
    year: int
    folder: Path
    reports: list[AnnualReport]


def report_year(out: str | Path, year: str, sites: str | Path | None = None, *,
                on_written: Callable[[Path, list[AnnualReport]], None] | None = None
                ) -> YearResult:
    """The evidence packs of ``year`` (``YYYY``) from the results in ``out``, written to
    ``<out>/reports/<YYYY>/``; ``on_written`` is called once the folder is written."""
    number = parse_year(year)
    reports = build_annual(out, number, sites, render=render_annual)
    folder = write_annual(out, number, reports)
    if on_written is not None:
        on_written(folder, reports)
    return YearResult(number, folder, reports)
