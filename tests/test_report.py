"""Monthly partner summaries, from a real results folder (pipeline + store) to HTML, PDF and CSV,
checked as a person sees them: Chromium at a phone's and a desktop's width (tests/browser.py:
screenshots and the boxes of the blocks, measured in the DOM), pdftoppm pages of the PDF."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import overflowing, overlaps, page_fill
from PIL import Image

from aoi import bundled_sites_path, load_sites, site_grid, site_mask
from flows import reports as report
from flows.cli import main
from flows.config import SEEN_MIN
from flows.reports import build
from flows.reports.figures import (
    CHANGE_MAP_CLASSES,
    COLORS,
    MAP_UNAVAILABLE,
    MapPoint,
    change_map,
    change_map_path,
    extent_chart,
)
from flows.reports.pdf import PDF_RENDERERS, render_pdf
from flows.reports.sitemap import LOCATOR_COLORS
from flows.reports.text import month_status
from flows.results import store
from flows.site import load_range, site_tables
from flows.sources.demo import DemoScenario, DemoSource

REPO = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(1)</script> Kuala Selangor"
PARTNER = "Selangor <Mangrove> Partners"
MANGROVE, SEAGRASS = "report-mangrove", "report-seagrass"
OK_MONTH = dt.date(2024, 3, 1)
needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not "
                                    "installed (apt-get install poppler-utils)")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not "
                                     "installed (apt-get install poppler-utils)")


# --------------------------------------------------------------------------- inputs

_INPUTS: dict[str, types.SimpleNamespace] = {}


def _bundled_features() -> dict[str, dict]:
    out = {}
    for path in sorted(bundled_sites_path().glob("*.geojson")):
        for feature in json.loads(path.read_text())["features"]:
            out[feature["properties"]["id"]] = feature
    return out


def report_inputs_for(tmp_path_factory) -> types.SimpleNamespace:
    """A results folder from the real pipeline (demo source, 10-day revisit, short baselines)
    for two bundled sites, and a sites file giving one a hostile name and a partner and leaving
    the other without one. Built once per session (also used by test_deliver.py)."""
    if "inputs" in _INPUTS:
        return _INPUTS["inputs"]
    root = tmp_path_factory.mktemp("report-inputs")
    features = _bundled_features()
    mangrove = json.loads(json.dumps(features["selangor-kuala-selangor"]))
    mangrove["properties"].update(id=MANGROVE, name=HOSTILE, partner=PARTNER,
                                  partner_email="selangor@example.org",
                                  baseline_start="2023-01-01", baseline_end="2023-03-31")
    seagrass = json.loads(json.dumps(features["andalusia-cabo-de-gata-genoveses"]))
    seagrass["properties"].update(id=SEAGRASS, baseline_start="2023-04-01",
                                  baseline_end="2023-06-30")
    del seagrass["properties"]["partner"]
    sites_file = root / "sites.geojson"
    sites_file.write_text(json.dumps({"type": "FeatureCollection",
                                      "features": [mangrove, seagrass]}))
    source = DemoSource(seed=0, scenario=DemoScenario(revisit_days=10))
    results = root / "results"
    end = dt.date(2024, 4, 30)
    for site in load_sites(sites_file):
        scenes = source.search(site, *load_range(site, None, end))
        tables = site_tables(site, source, scenes, start=None, end=end, run_id="report-test")
        store.write_rows(results, "observations", tables.observations)
        store.write_rows(results, "change", tables.change)
    change = store.read_table(results, "change")
    change["period"] = pd.to_datetime(change["period"]).dt.date
    _INPUTS["inputs"] = types.SimpleNamespace(sites_file=sites_file, results=results, change=change)
    return _INPUTS["inputs"]


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    return report_inputs_for(tmp_path_factory)


def fresh_results(inputs, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(inputs.results, out)
    return out


def run_report(out: Path, month: str, sites: Path, *extra: str) -> int:
    return main(["report", "--month", month, "--out", str(out), "--sites", str(sites), *extra])


def partner_files(out: Path, month: dt.date, slug: str) -> dict[str, Path]:
    folder = out / "reports" / f"{month:%Y-%m}" / slug
    return {ext: folder / f"{slug}-{month:%Y-%m}.{ext}" for ext in ("html", "pdf", "csv")}


@pytest.fixture(scope="module")
def ok_reports(inputs, tmp_path_factory):
    out = fresh_results(inputs, tmp_path_factory.mktemp("ok-month"))
    assert run_report(out, f"{OK_MONTH:%Y-%m}", inputs.sites_file) == 0
    return out


@pytest.fixture(scope="module")
def low_month(inputs) -> dt.date:
    """A month the demo saw less than the threshold of the mangrove site (cloudy tropics)."""
    rows = inputs.change[inputs.change["site_id"] == MANGROVE]
    low = rows[rows["valid_fraction"] < SEEN_MIN]
    assert len(low), "the demo no longer has a poorly observed month for the mangrove site"
    return low["period"].iloc[0]


def _row(inputs, site_id: str, month: dt.date) -> pd.Series:
    c = inputs.change
    return c[(c["site_id"] == site_id) & (c["period"] == month)].iloc[0]


# --------------------------------------------------------------------------- images


def _rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])


def color_pixels(image: Image.Image, hex_color: str, tol: int = 24) -> int:
    """Pixels within ``tol`` (per channel) of a colour."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int((np.abs(rgb - _rgb(hex_color)).max(axis=-1) <= tol).sum())


def embedded_pngs(html: str) -> list[Image.Image]:
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def pdf_pages(pdf: Path, tmp_path: Path, dpi: int = 80) -> list[Image.Image]:
    prefix = tmp_path / pdf.stem
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True,
                   capture_output=True, timeout=120)
    return [Image.open(p) for p in sorted(tmp_path.glob(f"{pdf.stem}*.png"))]


def assert_not_blank(image: Image.Image) -> None:
    gray = np.asarray(image.convert("L"), dtype=float)
    assert gray.std() > 10, f"image looks blank (std {gray.std():.1f})"


# --------------------------------------------------------------------------- outputs


def test_writes_html_pdf_csv_per_partner(inputs, ok_reports):
    folder = ok_reports / "reports" / f"{OK_MONTH:%Y-%m}"
    assert sorted(p.name for p in folder.iterdir()) == ["selangor-mangrove-partners",
                                                        report.UNASSIGNED]
    for slug, site_id in (("selangor-mangrove-partners", MANGROVE), (report.UNASSIGNED, SEAGRASS)):
        files = partner_files(ok_reports, OK_MONTH, slug)
        assert files["pdf"].read_bytes()[:5] == b"%PDF-"
        assert "<html" in files["html"].read_text()
        csv = pd.read_csv(files["csv"])
        stored = _row(inputs, site_id, OK_MONTH)
        assert list(csv["site_id"]) == [site_id]
        for col in ("extent_ha", "gain_ha", "loss_ha", "net_change_ha", "valid_fraction",
                    "extent_ci_low_ha", "extent_ci_high_ha"):
            assert csv[col].iloc[0] == pytest.approx(stored[col])
    assert not [p for p in (ok_reports / "reports").iterdir() if p.name.startswith(".")]


def test_plain_language_numbers_come_from_the_store(inputs, ok_reports):
    html = partner_files(ok_reports, OK_MONTH, report.UNASSIGNED)["html"].read_text()
    row = _row(inputs, SEAGRASS, OK_MONTH)
    verb = "grew by" if row["net_change_ha"] > 0 else "shrank by"
    assert "Seagrass cover at " in html
    assert f"{verb} {abs(row['net_change_ha']):,.1f} ha since the 2023 baseline" in html
    assert f"{row['extent_ci_low_ha']:,.1f} – {row['extent_ci_high_ha']:,.1f} ha" in html
    assert f"{row['extent_ha']:,.1f} ha" in html and f"{row['valid_fraction']:.0%}" in html
    for name in ("gain", "loss"):  # interval columns added to the contract in issue 6
        low, high = row.get(f"{name}_ci_low_ha"), row.get(f"{name}_ci_high_ha")
        if low is not None and not pd.isna(low):
            assert f"{low:,.1f} – {high:,.1f} ha" in html
    assert MAP_UNAVAILABLE in html.lower()  # no maps COG in this results folder


def test_gain_and_loss_intervals_when_the_columns_exist_or_not(inputs):
    site = next(s for s in load_sites(inputs.sites_file) if s.id == SEAGRASS)
    history = inputs.change[inputs.change["site_id"] == SEAGRASS].reset_index(drop=True).copy()
    for name in ("gain", "loss"):
        history[f"{name}_ci_low_ha"] = history[f"{name}_ha"] * 0.5
        history[f"{name}_ci_high_ha"] = history[f"{name}_ha"] * 1.5 + 0.01
    part = build.site_report(site, OK_MONTH, history, scenes=3, out=inputs.results)
    rows = {label: interval for label, _, interval in part.metrics}
    row = history[history["period"] == OK_MONTH].iloc[0]
    assert rows["Loss since baseline"] == (
        f"{row['loss_ha'] * 0.5:,.1f} – {row['loss_ha'] * 1.5 + 0.01:,.1f} ha")
    assert "no interval available" not in rows.values()
    older = history.drop(columns=[c for c in history if c.startswith(("gain_ci", "loss_ci"))])
    part = build.site_report(site, OK_MONTH, older, scenes=3, out=inputs.results)
    rows = {label: interval for label, _, interval in part.metrics}
    assert rows["Gain since baseline"] == rows["Loss since baseline"] == "no interval available"


@pytest.mark.parametrize("turbid", [True, False, None])
def test_turbid_month_gets_a_caveat(inputs, turbid):
    site = next(s for s in load_sites(inputs.sites_file) if s.id == SEAGRASS)
    history = inputs.change[inputs.change["site_id"] == SEAGRASS].reset_index(drop=True).copy()
    history["turbid"] = pd.Series([turbid] * len(history), dtype=object)
    part = build.site_report(site, OK_MONTH, history, scenes=3, out=inputs.results)
    assert any("turbid" in line for line in part.details) == bool(turbid)


def test_too_few_clear_views_give_no_number(inputs, low_month, tmp_path):
    out = fresh_results(inputs, tmp_path)
    assert run_report(out, f"{low_month:%Y-%m}", inputs.sites_file) == 0
    html = partner_files(out, low_month, "selangor-mangrove-partners")["html"].read_text()
    row = _row(inputs, MANGROVE, low_month)
    assert "Too few clear satellite views" in html and "too few clear views" in html
    assert f"{row['valid_fraction']:.0%}" in html
    assert "Habitat extent</td>" not in html and "Net change since baseline" not in html
    assert "The last reliable figure, for " in html


def test_threshold_is_the_named_constant(inputs, low_month):
    site = next(s for s in load_sites(inputs.sites_file) if s.id == MANGROVE)
    history = inputs.change[inputs.change["site_id"] == MANGROVE].reset_index(drop=True)
    row = history[history["period"] == low_month].iloc[0]
    assert row["valid_fraction"] < SEEN_MIN
    assert build.site_report(site, low_month, history, 3, inputs.results).status == "too_few"
    lower = row["valid_fraction"] / 2
    assert build.site_report(site, low_month, history, 3, inputs.results,
                             seen_min=lower).status == "ok"


def test_hostile_names_arrive_escaped(ok_reports):
    html = partner_files(ok_reports, OK_MONTH, "selangor-mangrove-partners")["html"].read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kuala Selangor" in html
    assert "Selangor &lt;Mangrove&gt; Partners" in html
    assert "Content-Security-Policy" in html


@needs_pdftotext
def test_pdf_shows_the_hostile_name_as_text(ok_reports):
    pdf = partner_files(ok_reports, OK_MONTH, "selangor-mangrove-partners")["pdf"]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "<script>alert(1)</script>" in " ".join(text.split())


def test_csv_cells_cannot_become_formulas(inputs):
    rows = inputs.change[inputs.change["period"] == OK_MONTH]
    frame = build.csv_rows(rows, {MANGROVE: "=HYPERLINK(\"x\")", SEAGRASS: "+1"})
    assert set(frame["site_name"]) == {"'=HYPERLINK(\"x\")", "'+1"}


def test_rerun_replaces_the_month(inputs, tmp_path):
    out = fresh_results(inputs, tmp_path)
    assert run_report(out, f"{OK_MONTH:%Y-%m}", inputs.sites_file) == 0
    stale = out / "reports" / f"{OK_MONTH:%Y-%m}" / "old-partner"
    stale.mkdir()
    assert run_report(out, f"{OK_MONTH:%Y-%m}", inputs.sites_file) == 0
    assert not stale.exists()
    assert sorted(p.name for p in (out / "reports").iterdir()) == [f"{OK_MONTH:%Y-%m}"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("month,message", [
    ("2024-13", "--month must be YYYY-MM"), ("June", "--month must be YYYY-MM"),
    ("2030-01", "no results for 2030-01"),
])
def test_bad_month_is_one_line_and_writes_nothing(inputs, tmp_path, capsys, month, message):
    out = fresh_results(inputs, tmp_path)
    assert run_report(out, month, inputs.sites_file) == 2
    err = capsys.readouterr().err
    assert err.startswith("bluecarbon: error: ") and message in err and err.count("\n") == 1
    assert not (out / "reports").exists()


def test_missing_results_and_bad_sites(inputs, tmp_path, capsys):
    assert run_report(tmp_path / "nowhere", "2024-03", inputs.sites_file) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    out = fresh_results(inputs, tmp_path)
    assert run_report(out, "2024-03", bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("bluecarbon: error: ") and "bad JSON" in err and err.count("\n") == 1
    assert not (out / "reports").exists()


def test_cli_subprocess_bad_month_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "report", "--month", "2024-1",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "YYYY-MM" in proc.stderr


def test_partner_slug():
    assert report.partner_slug("Selangor <Mangrove> Partners") == "selangor-mangrove-partners"
    assert report.partner_slug("Cabo de Gata-Níjar") == "cabo-de-gata-nijar"
    assert report.partner_slug(None) == report.partner_slug("  ") == report.UNASSIGNED
    odd = report.partner_slug("海草")
    assert re.fullmatch(r"partner-[0-9a-f]{8}", odd) and odd == report.partner_slug("海草")
    assert len(report.partner_slug("x" * 300)) <= 64


def test_sites_without_partner_keep_the_unassigned_slug(inputs, tmp_path):
    fc = json.loads(inputs.sites_file.read_text())
    fc["features"][0]["properties"]["partner"] = "Unassigned"  # the mangrove site
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps(fc))
    reports = report.build_reports(inputs.results, OK_MONTH, sites)
    slugs = {r.slug: [s.site.id for s in r.sites] for r in reports}
    assert slugs.pop(report.UNASSIGNED) == [SEAGRASS]
    (other, ids), = slugs.items()
    assert ids == [MANGROVE] and re.fullmatch(r"unassigned-[0-9a-f]{8}", other)


# --------------------------------------------------------------------------- figures


def test_chart_marks_poorly_seen_months(inputs, low_month):
    history = inputs.change[inputs.change["site_id"] == MANGROVE]
    site = next(s for s in load_sites(inputs.sites_file) if s.id == MANGROVE)
    base = (site.baseline_start, site.baseline_end)
    marked = extent_chart(history, OK_MONTH, min_valid=0.3, baseline=base)
    clean = extent_chart(history, OK_MONTH, min_valid=0.0, baseline=base)
    assert color_pixels(Image.open(io.BytesIO(marked.png)), COLORS["low_valid"], 12) > 50
    assert color_pixels(Image.open(io.BytesIO(clean.png)), COLORS["low_valid"], 12) == 0
    assert color_pixels(Image.open(io.BytesIO(clean.png)), COLORS["extent"], 12) > 300
    # the legend (drawn in the page's HTML) names the rings only where there are some
    assert any(kind == "ring" for _, _, kind in marked.legend)
    assert not any(kind == "ring" for _, _, kind in clean.legend)


def _write_change_cog(site, month, out: Path) -> Path:
    import rasterio
    from rasterio.transform import Affine

    grid = site_grid(site)
    inside = site_mask(site, grid)
    classes = np.where(inside, 1, 0).astype(np.uint8)
    rows, cols = np.nonzero(inside)
    r0, c0 = int(np.median(rows)), int(np.median(cols))
    classes[r0:r0 + 25, c0:c0 + 25][inside[r0:r0 + 25, c0:c0 + 25]] = 3  # loss patch
    classes[r0 - 25:r0, c0 - 25:c0][inside[r0 - 25:r0, c0 - 25:c0]] = 2  # gain patch
    path = change_map_path(out, site.id, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="COG", width=grid.width, height=grid.height, count=1,
                       dtype="uint8", crs=grid.crs, transform=Affine(*grid.transform),
                       nodata=255) as dst:
        dst.write(classes, 1)
    return path


def test_change_map_prefers_the_maps_cog(inputs, tmp_path):
    site = next(s for s in load_sites(inputs.sites_file) if s.id == SEAGRASS)
    fallback = change_map(site, OK_MONTH, tmp_path)
    assert fallback.note == MAP_UNAVAILABLE
    _write_change_cog(site, OK_MONTH, tmp_path)
    real = change_map(site, OK_MONTH, tmp_path)
    assert real.note is None
    image = Image.open(io.BytesIO(real.png))
    assert color_pixels(image, CHANGE_MAP_CLASSES[3][1], 10) > 100  # loss
    assert color_pixels(image, CHANGE_MAP_CLASSES[2][1], 10) > 100  # gain
    assert color_pixels(image, COLORS["outline"], 10) > 100
    assert color_pixels(image, LOCATOR_COLORS["land"], 6) > 200  # the locator's coastline
    labels = [label for label, _, _ in real.legend]
    assert labels[-1] == "site boundary" and "loss since baseline" in labels
    # loss alerts are numbered on the map and named in its legend
    lon, lat = site.centroid_lonlat
    marked = change_map(site, OK_MONTH, tmp_path, (MapPoint("1", lon, lat),))
    assert any(kind == "marker" for _, _, kind in marked.legend)
    assert marked.png != real.png
    change_map_path(tmp_path, site.id, OK_MONTH).write_bytes(b"not a tiff")
    assert change_map(site, OK_MONTH, tmp_path).note == MAP_UNAVAILABLE


def test_embedded_images_are_present_and_not_blank(ok_reports):
    html = partner_files(ok_reports, OK_MONTH, report.UNASSIGNED)["html"].read_text()
    images = embedded_pngs(html)
    assert len(images) == 2  # chart and map of the one site
    for image in images:
        assert_not_blank(image)
    assert max(color_pixels(i, COLORS["extent"]) for i in images) > 300
    assert max(color_pixels(i, COLORS["outline"]) for i in images) > 100


@needs_pdftoppm
def test_pdf_as_seen_in_a_viewer(ok_reports, tmp_path):
    pdf = partner_files(ok_reports, OK_MONTH, "selangor-mangrove-partners")["pdf"]
    # 110 dpi: the chart is printed at 118 mm beside its legend (issue 21), its 2-px line
    # covers too few pixels at 80 dpi for the count below
    pages = pdf_pages(pdf, tmp_path, dpi=110)
    assert pages
    for page in pages:
        assert_not_blank(page)
    assert sum(color_pixels(p, COLORS["extent"]) for p in pages) > 200, "chart not in PDF"
    assert sum(color_pixels(p, COLORS["outline"]) for p in pages) > 50, "map not in PDF"


PHONE, DESKTOP = 390, 1280
"""The widths the pages are checked at (issue 21: a phone, a desktop)."""
SLUGS = ("selangor-mangrove-partners", report.UNASSIGNED)


def assert_laid_out(look, where: str) -> None:
    """Nothing overlaps, nothing sticks out or scrolls sideways, the figures are there."""
    assert look.scroll_width <= look.width, f"{where}: page scrolls sideways"
    assert not overlaps(look.boxes), f"{where}: " + "; ".join(
        f"{a} overlaps {b}" for a, b in overlaps(look.boxes)[:3])
    assert not overflowing(look), f"{where}: " + "; ".join(map(str, overflowing(look)[:3]))
    assert color_pixels(look.image, COLORS["extent"]) > 300, f"{where}: chart not visible"
    assert color_pixels(look.image, COLORS["outline"]) > 100, f"{where}: map not visible"
    assert color_pixels(look.image, "#0b3954", 4) > 10_000, f"{where}: masthead not rendered"


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_summary_layout_at_phone_and_desktop_width(ok_reports, browser, width, tmp_path):
    for slug in SLUGS:
        look = browser.look(partner_files(ok_reports, OK_MONTH, slug)["html"], width)
        look.image.save(tmp_path / f"{slug}-{width}.png")  # kept by pytest for a look
        assert_laid_out(look, f"{slug} at {width} px")
        table = next(b for b in look.boxes if b.cls == "metrics")
        figure = next(b for b in look.boxes if b.tag == "figure" and "map" in b.cls)
        if width == DESKTOP:  # the map beside its table, the at-a-glance table whole
            assert figure.x >= table.right and figure.y < table.bottom
        else:  # the map under its table, full width
            assert figure.y >= table.bottom and figure.w > 0.9 * (width - 32)


def test_summary_print_layout_keeps_labels_short(ok_reports, browser):
    """The PDF's tables get the page's width: no label wraps over more than two lines (A4 at
    96 px per inch, print styles)."""
    html = partner_files(ok_reports, OK_MONTH, "selangor-mangrove-partners")["html"]
    look = browser.look(html, 794, media="print", blocks=("table.metrics td:first-child",
                                                          "table.overview td:first-child"))
    line = 10.5 * 1.5 * 96 / 72  # the body's line height, px
    tall = [b for b in look.boxes if b.h > 2 * line + 12]
    assert look.boxes and not tall, [str(b) for b in tall]


@needs_pdftoppm
@pytest.mark.parametrize("renderer", PDF_RENDERERS)
def test_pdf_pages_are_filled(ok_reports, tmp_path, renderer):
    """No page before the last is more than half empty (a block that cannot be split must not
    push a third of a page over), with either PDF renderer."""
    from flows.reports.pdf import _available

    if not _available(renderer):
        pytest.skip(f"PDF renderer {renderer} not installed")
    html = partner_files(ok_reports, OK_MONTH, "selangor-mangrove-partners")["html"].read_text()
    pdf = tmp_path / f"{renderer}.pdf"
    pdf.write_bytes(render_pdf(html, renderer))
    pages = pdf_pages(pdf, tmp_path, dpi=40)
    fills = [round(page_fill(p), 2) for p in pages]
    assert len(pages) >= 2 and min(fills[:-1]) >= 0.5, fills


@needs_pdftoppm
@pytest.mark.parametrize("renderer", PDF_RENDERERS)
def test_each_pdf_renderer(ok_reports, tmp_path, renderer):
    from flows.reports.pdf import _available

    if not _available(renderer):
        pytest.skip(f"PDF renderer {renderer} not installed")
    html = partner_files(ok_reports, OK_MONTH, report.UNASSIGNED)["html"].read_text()
    pdf = tmp_path / f"{renderer}.pdf"
    pdf.write_bytes(render_pdf(html, renderer))
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # at 175 dpi the chart prints at about its own pixel width (810 px over ~4.6 in): the PDF
    # shows at least half the extent line the HTML's chart holds (not a fixed count: a flat
    # year draws a shorter line than a changing one)
    pages = pdf_pages(pdf, tmp_path, dpi=175)
    in_html = sum(color_pixels(im, COLORS["extent"]) for im in embedded_pngs(html))
    assert in_html > 200
    assert sum(color_pixels(p, COLORS["extent"]) for p in pages) >= 0.5 * in_html
    assert sum(color_pixels(p, COLORS["outline"]) for p in pages) > 50


def test_unknown_pdf_renderer_is_refused(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BLUECARBON_PDF_RENDERER", "wkhtmltopdf")
    out = fresh_results(inputs, tmp_path)
    assert run_report(out, "2024-03", inputs.sites_file) == 2
    assert "unknown PDF renderer" in capsys.readouterr().err
    assert not (out / "reports").exists()


# --------------------------------------------------------------------------- restoration


def _mangrove_history(inputs) -> tuple:
    site = next(s for s in load_sites(inputs.sites_file) if s.id == MANGROVE)
    history = inputs.change[inputs.change["site_id"] == MANGROVE].reset_index(drop=True).copy()
    return site, history


def test_canopy_classes_and_recovery_come_from_the_store(inputs):
    site, history = _mangrove_history(inputs)
    ok = [p for p in history["period"] if month_status(history[history["period"] == p].iloc[0])
          == "ok"]
    month = ok[-1]
    row = history[history["period"] == month].iloc[0]
    assert not pd.isna(row["canopy_80_100_ha"]), "the pipeline no longer writes canopy classes"
    part = build.site_report(site, month, history, scenes=3, out=inputs.results)
    text = " ".join(part.details)
    for col, word in (("canopy_80_100_ha", "dense"), ("canopy_50_80_ha", "medium"),
                      ("canopy_20_50_ha", "open")):
        assert f"{row[col]:,.1f} ha {word}" in text
    assert "as green as" not in text  # no reference site: no recovery sentence
    history.loc[history["period"] == month, "recovery_ratio"] = 0.824
    part = build.site_report(site, month, history, scenes=3, out=inputs.results)
    text = " ".join(part.details)
    assert "82% as green as the intact reference site" in text and "not reached yet" in text
    history.loc[history["period"] == month, "canopy_closure_period"] = "2024-02-01"
    part = build.site_report(site, month, history, scenes=3, out=inputs.results)
    assert "was reached in February 2024" in " ".join(part.details)
    assert dict((label, value) for label, value, _ in part.metrics)[
        "Canopy closure reached"] == "February 2024"


def test_loss_alerts_of_the_month_are_reported(inputs):
    from flows.results.alerts import ALERT_SCHEMA

    site, history = _mangrove_history(inputs)
    ts = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    alerts = pd.DataFrame({name: [None] * 4 for name in ALERT_SCHEMA.names})
    alerts = alerts.assign(
        site_id=MANGROVE, status=["confirmed", "confirmed", "candidate", "candidate"],
        first_seen=[ts("2024-02-03"), ts("2024-03-02"), ts("2024-03-20"), ts("2024-01-05")],
        last_seen=[ts("2024-03-25"), ts("2024-03-28"), ts("2024-03-28"), ts("2024-01-20")],
        confirmed_at=[ts("2024-02-25"), ts("2024-03-22"), pd.NaT, pd.NaT],
        area_ha=[1.0, 0.6, 0.3, 0.2], confirmed_ha=[0.9, 0.5, 0.0, 0.0])
    part = build.site_report(site, OK_MONTH, history, scenes=3, out=inputs.results,
                               alerts=alerts)
    text = " ".join(part.details)
    # one confirmed in March (the other in February), one candidate seen in March (the
    # January candidate was not seen since)
    assert "1 loss alert confirmed this month, covering 0.5 ha" in text
    assert "1 possible loss under watch (0.3 ha)" in text
    quiet = build.site_report(site, OK_MONTH, history, scenes=3, out=inputs.results,
                                alerts=alerts.iloc[[0, 3]])
    assert "loss alert" not in " ".join(quiet.details)
