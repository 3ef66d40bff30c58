"""PDF of a summary page: WeasyPrint, else headless Chromium.

* ``weasyprint`` (PyPI) needs Pango from the system: Debian ``libpango-1.0-0 libpangoft2-1.0-0``
  (plus a font, e.g. ``fonts-dejavu-core``). Pure layout engine, no browser process.
* ``chromium`` (Debian ``chromium``): ``--headless --print-to-pdf``.

The first available one is used, or the one named by ``BLUECARBON_PDF_RENDERER``. Neither may
load anything but the page's own ``data:`` images: WeasyPrint through a data-only URL fetcher,
Chromium through the page's Content-Security-Policy (``default-src 'none'``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["PDF_RENDERERS", "PdfError", "pdf_renderer", "render_pdf"]

PDF_RENDERERS = ("weasyprint", "chromium")
"""PDF renderers in order of preference."""
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class PdfError(Exception):
    """No renderer, or the renderer failed; the message is one line."""


def _weasyprint(html: str) -> bytes:
    import weasyprint  # OSError where pango is missing
    from weasyprint.urls import URLFetcher

    # data: URIs only (no files, no network); a missing image fails the PDF, never blanks it
    fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


def chromium_binary() -> str | None:
    """Path of a Chromium (or Chrome) executable on PATH, or None."""
    return next(filter(None, map(shutil.which, _CHROMIUM_NAMES)), None)


def _chromium(html: str) -> bytes:
    binary = chromium_binary()
    if binary is None:
        raise PdfError("chromium not found")
    with tempfile.TemporaryDirectory(prefix="bluecarbon-pdf-") as tmp:
        page, pdf = Path(tmp) / "summary.html", Path(tmp) / "summary.pdf"
        page.write_text(html, encoding="utf-8")
        # --no-sandbox: the page is our own, escaped, and loads nothing (CSP default-src 'none')
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf}", page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=180, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError("chromium did not print the PDF within 180 s") from None
        if not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
            raise PdfError(f"chromium could not print the PDF (exit {proc.returncode})")
        return pdf.read_bytes()


def _available(name: str) -> bool:
    if name == "chromium":
        return chromium_binary() is not None
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # not installed, or its system libraries (pango) missing
        return False
    return True


def pdf_renderer(name: str | None = None) -> Callable[[str], bytes]:
    """The renderer ``name``, else ``BLUECARBON_PDF_RENDERER``, else the first available one
    of :data:`PDF_RENDERERS`; :class:`PdfError` when it is unknown or not installed."""
    name = name or os.environ.get("BLUECARBON_PDF_RENDERER") or None
    if name is not None and name not in PDF_RENDERERS:
        raise PdfError(f"unknown PDF renderer {name[:40]!r} (one of {', '.join(PDF_RENDERERS)})")
    for candidate in (name,) if name else PDF_RENDERERS:
        if _available(candidate):
            return _weasyprint if candidate == "weasyprint" else _chromium
    raise PdfError(
        f"no PDF renderer: {name or 'weasyprint or chromium'} is not available; install "
        "weasyprint (pip) with Debian's libpango-1.0-0 libpangoft2-1.0-0, or chromium")


def render_pdf(html: str, renderer: str | None = None) -> bytes:
    """PDF bytes of an HTML page (see :func:`pdf_renderer` for the choice of renderer)."""
    return pdf_renderer(renderer)(html)
