"""The partner summary as a page (HTML with its images inline, or as ``cid:`` references for the
email body; plain text), and the month's folder written whole::

    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.html   summary, images inline
    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.pdf    the same, printable
    <out>/reports/<YYYY-MM>/<partner-slug>/<partner-slug>-<YYYY-MM>.csv    the month's change rows

The folder is built beside the old one and swapped in by rename: a failure leaves the previous
reports as they were. Reports of the same results folder written at once (two ``bluecarbon
report`` of one month, or of two months) build their folders apart and swap them in one at a
time, under the lock ``<out>/.reports.lock`` (:func:`flows.results.files.file_lock`), which
also clears what killed writers left (``.<month>.old-*``, and ``.<month>.tmp-<pid>-*`` of
processes no longer alive). Nothing is written through a link. HTML is rendered by Jinja2
with autoescape on.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
from pathlib import Path

import jinja2

from flows.config import SEEN_MIN
from flows.reports.model import PartnerReport, ReportError
from flows.reports.text import HABITAT_LABEL, MAP_BASED_NOTE
from flows.results.files import NOFOLLOW, StoreError, check_inside, ensure_dir, file_lock

__all__ = ["TEMPLATES", "content_id", "map_caption", "render_html", "write_folder",
           "write_reports"]

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("flows.reports", "templates"),
    autoescape=jinja2.select_autoescape(disabled_extensions=("txt.j2",), default=True),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def content_id(key: str) -> str:
    """Content-ID (without angle brackets) of an inline image in the email body."""
    return f"{key}@bluecarbon"


def map_caption(note: str | None) -> str:
    """The change map's caption: what it shows, and what the inset and the arrow are."""
    what = (note.capitalize() + "; the site boundary is shown." if note
            else "Change since the baseline; the site boundary in red.")
    return (f"{what} Inset: the site (square) on its coast (Natural Earth 1:10m land, public "
            "domain); the arrow points to true north.")


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
        **s.overview, "map_key": f"{s.site.id}-map.png", "map_legend": s.map.legend,
        "map_caption": map_caption(s.map.note), "place": s.place, "alerts": s.alerts,
        "chart_key": f"{s.site.id}-chart.png" if s.chart else None,
        "accuracy": s.accuracy,
        "chart_legend": s.chart.legend if s.chart else (),
    } for s in report.sites]
    habitats = sorted({s.site.habitat for s in report.sites})
    template = TEMPLATES.get_template("summary.txt.j2" if text else "summary.html.j2")
    return template.render(
        partner=report.partner, month_label=f"{report.month:%B %Y}", sites=sites, src=src,
        generated=f"{dt.datetime.now(dt.UTC):%d %B %Y}", simulated=report.simulated,
        threshold=f"{SEEN_MIN:.0%}", habitats=" or ".join(habitats),
        versions=report.versions, map_based_note=MAP_BASED_NOTE,
        footer_label=f"bluecarbon · {report.month:%B %Y}")


REPORTS_LOCK = ".reports.lock"
"""The reports' lock file, in the results folder (hidden: table readers skip it)."""
_LEFT_BEHIND = re.compile(r"^\.\d{4}(?:-\d{2})?\.(?:old-[0-9a-f]+|tmp-(\d+)-[0-9a-f]+)$")
"""What killed writers leave in ``<out>/reports/``: of a month (YYYY-MM) or a year (YYYY)."""


def write_reports(out: str | Path, month: dt.date, reports: list[PartnerReport]) -> Path:
    """Write ``<out>/reports/<YYYY-MM>/`` whole: built beside it, then swapped in by rename
    under the reports' writers' lock (:func:`write_folder`)."""
    return write_folder(out, f"{month:%Y-%m}", {
        f"{r.slug}/{r.filename(ext)}": data for r in reports
        for ext, data in (("html", r.html.encode("utf-8")), ("pdf", r.pdf), ("csv", r.csv))})


def write_folder(out: str | Path, name: str, files: dict[str, bytes]) -> Path:
    """Write ``<out>/reports/<name>/`` with ``files`` (relative path -> bytes) whole: built
    beside it, then swapped in by rename under the reports' writers' lock (module doc); a
    failure leaves the previous folder as it was. Nothing is written through a link or
    outside ``<out>/reports/``."""
    out = Path(out)
    root = out / "reports"
    final = root / name
    token = f"{os.getpid()}-{secrets.token_hex(6)}"
    tmp, old = root / f".{final.name}.tmp-{token}", root / f".{final.name}.old-{token}"
    try:
        ensure_dir(root, out)
        check_inside(final, out)
        for rel, data in files.items():
            path = tmp / rel
            check_inside(path, tmp)  # a relative path, never '..' out of the folder
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        tmp.mkdir(parents=True, exist_ok=True)
        with file_lock(out / REPORTS_LOCK, out):
            _clear_left_behind(root)
            check_inside(final, out)
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
    except (OSError, StoreError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():
            old.rename(final)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ReportError(f"{final}: cannot write reports: {why}") from None
    return final


def _clear_left_behind(root: Path) -> None:
    """Under the lock: remove old folders (only ever made under it, so any seen now is a
    killed writer's) and temp folders of processes that no longer run."""
    import psutil

    for entry in os.scandir(root):
        match = _LEFT_BEHIND.match(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            continue
        if match.group(1) is not None and psutil.pid_exists(int(match.group(1))):
            continue  # being built by a live writer
        with contextlib.suppress(OSError):
            shutil.rmtree(entry.path)
