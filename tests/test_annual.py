"""The annual evidence pack (``bluecarbon report --year``) and the carbon step it reads, from a
real results folder (demo pipeline with maps and alerts, the flow's carbon task, a run record),
checked as a person sees it: Chromium at a phone's and a desktop's width, the PDF's pages.

Also here: the monthly summary's carbon line, read from the same folder."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import overflowing, overlaps, page_fill
from PIL import Image

from aoi import bundled_sites_path, load_sites
from flows.cli import main
from flows.config import RunConfig
from flows.monitor import update_carbon
from flows.reports.figures import COLORS
from flows.reports.ledger import round3
from flows.results import RunRecord, store, write_run_record
from flows.results.alerts import write_alerts
from flows.results.maps import write_site_maps
from flows.site import load_range, site_tables
from flows.site.carbon import factors_record, site_factor_sets
from flows.sources.demo import DemoScenario, DemoSource
from indices.accounts import ACCOUNT_COLUMNS
from indices.carbon import LEDGER_COLUMNS

HOSTILE = "<script>alert(1)</script> Kuala Selangor"
PARTNER = "Selangor <Mangrove> Partners"
PROTECTED = 'Reserve "<b>Mangrove</b>" & Co'
SLUG = "selangor-mangrove-partners"
MANGROVE, SEAGRASS = "annual-mangrove", "annual-seagrass"
YEAR = 2024
RUN_ID = "annual-test"
PHONE, DESKTOP = 390, 1280


def _feature(features: dict, site_id: str) -> dict:
    return json.loads(json.dumps(features[site_id]))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> types.SimpleNamespace:
    """Two sites of one partner through the demo pipeline to the end of 2024, with maps and
    alerts (as a run writes them), then the run's carbon step and its run record. The mangrove
    site has a hostile name and a hostile protected area; the seagrass site has none."""
    root = tmp_path_factory.mktemp("annual")
    features = {}
    for path in sorted(bundled_sites_path().glob("*.geojson")):
        for f in json.loads(path.read_text())["features"]:
            features[f["properties"]["id"]] = f
    mangrove = _feature(features, "selangor-kuala-selangor")
    mangrove["properties"].update(id=MANGROVE, name=HOSTILE, partner=PARTNER,
                                  protected_area=PROTECTED, baseline_start="2023-01-01",
                                  baseline_end="2023-06-30")
    mangrove["properties"].pop("reference_site", None)
    seagrass = _feature(features, "andalusia-cabo-de-gata-genoveses")
    seagrass["properties"].update(id=SEAGRASS, partner=PARTNER, baseline_start="2023-04-01",
                                  baseline_end="2023-09-30")
    seagrass["properties"].pop("protected_area", None)
    sites_file = root / "sites.geojson"
    sites_file.write_text(json.dumps({"type": "FeatureCollection",
                                      "features": [mangrove, seagrass]}))
    out = root / "results"
    source = DemoSource(seed=0, scenario=DemoScenario(revisit_days=10))
    end = dt.date(YEAR, 12, 31)
    sites = load_sites(sites_file)
    factors = site_factor_sets(sites)
    record = RunRecord.start(RUN_ID, RunConfig(out=out, sites=sites_file), end)
    for site in sites:
        scenes = source.search(site, *load_range(site, None, end))
        tables = site_tables(site, source, scenes, start=None, end=end, run_id=RUN_ID,
                             products=True)
        write_site_maps(out, site, tables.maps)
        if tables.alerts is not None:
            write_alerts(out, tables.alerts)
        store.write_rows(out, "change", tables.change)
        store.write_rows(out, "observations", tables.observations)
        rows = update_carbon.fn(out, site, factors[site.id], 0, RUN_ID)
        record.sites[site.id] = {"status": "processed",
                                 "carbon": {**factors_record(factors[site.id]), "rows": rows}}
    record.finish()
    write_run_record(out, record)
    return types.SimpleNamespace(sites_file=sites_file, out=out, sites=sites)


def fresh(results, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(results.out, out)
    return out


def pack_files(out: Path, year: int = YEAR, slug: str = SLUG) -> dict[str, Path]:
    folder = out / "reports" / f"{year}" / slug
    return {ext: folder / f"{slug}-{year}.{ext}" for ext in ("html", "pdf", "csv")}


@pytest.fixture(scope="module")
def pack(results, tmp_path_factory) -> Path:
    out = fresh(results, tmp_path_factory.mktemp("pack"))
    assert main(["report", "--year", str(YEAR), "--out", str(out), "--sites",
                 str(results.sites_file)]) == 0
    return out


def color_pixels(image: Image.Image, hex_color: str, tol: int = 24) -> int:
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    target = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(axis=-1) <= tol).sum())


# --------------------------------------------------------------------------- the tables


def test_the_carbon_step_writes_both_tables(results):
    carbon = store.read_table(results.out, "carbon")
    accounts = store.read_table(results.out, "accounts")
    change = store.read_table(results.out, "change")
    assert list(carbon.columns[:len(LEDGER_COLUMNS)]) == list(LEDGER_COLUMNS)
    assert list(accounts.columns[:len(ACCOUNT_COLUMNS)]) == list(ACCOUNT_COLUMNS)
    for site_id in (MANGROVE, SEAGRASS):  # one ledger row per change row, one account a year
        assert len(carbon[carbon["site_id"] == site_id]) == len(change[change["site_id"] == site_id])
        assert sorted(accounts.loc[accounts["site_id"] == site_id, "year"]) == [2023, 2024]
    assert set(carbon["method"]) == {"ipcc2013-tier1"} and set(carbon["area_source"]) == {"map"}
    assert set(accounts["flows_from"]) == {"class maps"}  # the maps are there: gross flows


def test_accounts_balance_and_chain_and_agree_with_the_change_table(results):
    """closing = opening + additions - reductions; a year's closing is the next year's
    opening; and the closing counted on the year-end class maps is the change table's extent
    of that month (the maps and the table share one month walk: an independent sum)."""
    accounts = store.read_table(results.out, "accounts")
    change = store.read_table(results.out, "change")
    change["period"] = pd.to_datetime(change["period"]).dt.date
    for site_id, acc in accounts.groupby("site_id"):
        acc = acc.sort_values("year")
        np.testing.assert_allclose(acc["opening_ha"] + acc["additions_ha"] - acc["reductions_ha"],
                                   acc["closing_ha"], atol=1e-9)
        np.testing.assert_allclose(acc["net_change_ha"],
                                   acc["additions_ha"] - acc["reductions_ha"], atol=1e-9)
        np.testing.assert_allclose(acc["closing_ha"].iloc[:-1], acc["opening_ha"].iloc[1:],
                                   atol=1e-9)
        rows = change[change["site_id"] == site_id]
        for _, a in acc.iterrows():
            at = rows[rows["period"] == a["closing_period"]].iloc[0]
            assert a["closing_ha"] == pytest.approx(at["extent_ha"], abs=0.006), (site_id, a["year"])
        assert acc["opening_ha"].iloc[0] == pytest.approx(rows["baseline_extent_ha"].iloc[0],
                                                          abs=0.006)


def test_run_record_names_the_factors(results):
    record = json.loads((results.out / "runs" / f"{RUN_ID}.json").read_text())
    entry = record["sites"][MANGROVE]["carbon"]
    assert entry["method"] == "ipcc2013-tier1" and entry["climate_zone"] == "tropical_wet"
    assert entry["factors"]["agb_t_dm_ha"]["value"] == 192.0
    assert "Table 4.3" in entry["factors"]["agb_t_dm_ha"]["source"]
    carbon = store.read_table(results.out, "carbon", MANGROVE)
    assert set(carbon["factors_id"]) == {entry["factors_id"]}
    assert record["sites"][SEAGRASS]["carbon"]["climate_zone"] is None


# --------------------------------------------------------------------------- the pack


def test_pack_files_and_csv_come_from_the_tables(results, pack):
    files = pack_files(pack)
    assert files["pdf"].read_bytes()[:5] == b"%PDF-"
    assert "<html" in files["html"].read_text()
    csv = pd.read_csv(files["csv"])
    assert list(csv["site_id"]) == [MANGROVE, SEAGRASS]
    accounts = store.read_table(results.out, "accounts")
    carbon = store.read_table(results.out, "carbon")
    carbon["period"] = pd.to_datetime(carbon["period"]).dt.date
    for _, row in csv.iterrows():
        acc = accounts[(accounts["site_id"] == row["site_id"]) & (accounts["year"] == YEAR)].iloc[0]
        for col in ("opening_ha", "additions_ha", "reductions_ha", "closing_ha"):
            assert row[col] == pytest.approx(acc[col])
        led = carbon[(carbon["site_id"] == row["site_id"])
                     & (carbon["period"] == acc["closing_period"])].iloc[0]
        for col in ("stock_tco2e", "change_tco2e", "change_ci_low_tco2e", "change_conservative_tco2e"):
            assert row[col] == pytest.approx(led[col])
    assert csv.loc[0, "site_name"] == HOSTILE  # a spreadsheet formula it is not
    assert not [p for p in (pack / "reports").iterdir() if p.name.startswith(".")]


def test_pack_words_and_standards(results, pack):
    html = pack_files(pack)["html"].read_text()
    carbon = store.read_table(results.out, "carbon", MANGROVE)
    dec = carbon[pd.to_datetime(carbon["period"]) == pd.Timestamp(f"{YEAR}-12-01")].iloc[0]
    shown = f"{round3(dec['change_tco2e']):+,.0f}".replace("-", "\u2212")
    assert f"{shown} t CO₂e" in html  # the ledger's change, rounded as said
    for needle in ("VM0033", "8.5.2", "IUCN Global Standard for NbS · 3.1",
                   "IUCN Global Standard for NbS · 7.2", "Headline indicator A.2",
                   "Ecosystem extent account", "not certified", "Carbon factors used",
                   "Table 4.3"):
        assert needle in html, needle
    # the Green List serves protected areas: the mangrove site's section names it, the
    # seagrass site (no protected_area) has none
    mangrove_part, seagrass_part = html.split("<section class=\"site\">")[1:3]
    assert "Green List" in mangrove_part and "Green List" not in seagrass_part
    assert "trends in mangrove forest fragmentation" in mangrove_part
    assert "global seagrass extent" in seagrass_part


def test_pack_escapes_names(pack):
    html = pack_files(pack)["html"].read_text()
    assert "<script" not in html.lower() and "<b>Mangrove" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kuala Selangor" in html
    assert "Selangor &lt;Mangrove&gt; Partners" in html
    assert "Reserve &#34;&lt;b&gt;Mangrove&lt;/b&gt;&#34; &amp; Co" in html
    assert "Content-Security-Policy" in html


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_pack_layout_at_phone_and_desktop_width(pack, browser, width, tmp_path):
    look = browser.look(pack_files(pack)["html"], width)
    look.image.save(tmp_path / f"pack-{width}.png")  # kept by pytest for a look
    assert look.scroll_width <= width, "page scrolls sideways"
    assert not overlaps(look.boxes), [f"{a} / {b}" for a, b in overlaps(look.boxes)[:3]]
    assert not overflowing(look), [str(b) for b in overflowing(look)[:3]]
    assert color_pixels(look.image, COLORS["carbon"]) > 300, "carbon chart not visible"
    assert color_pixels(look.image, COLORS["extent"]) > 300, "extent chart not visible"
    assert color_pixels(look.image, COLORS["outline"]) > 100, "map not visible"
    assert color_pixels(look.image, "#0b3954", 4) > 10_000, "masthead not rendered"


def _pages(pdf: Path, tmp_path: Path, dpi: int) -> list[Image.Image]:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(tmp_path / "p")],
                   check=True, capture_output=True, timeout=120)
    return [Image.open(p) for p in sorted(tmp_path.glob("p*.png"))]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not installed")
def test_pack_pdf_pages(pack, tmp_path):
    pages = _pages(pack_files(pack)["pdf"], tmp_path, 60)
    fills = [round(page_fill(p), 2) for p in pages]
    assert len(pages) >= 3 and min(fills[:-1]) >= 0.5 and fills[-1] > 0, fills
    assert sum(color_pixels(p, COLORS["carbon"]) for p in pages) > 200, "carbon chart not in PDF"
    assert sum(color_pixels(p, COLORS["extent"]) for p in pages) > 200, "extent chart not in PDF"
    text = subprocess.run(["pdftotext", str(pack_files(pack)["pdf"]), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "<script>alert(1)</script>" in " ".join(text.split())


def test_pack_charts_are_not_blank(pack):
    """Every image of the page has content; each site has an extent and a carbon chart."""
    html = pack_files(pack)["html"].read_text()
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', html)
    assert len(found) == 6  # map, extent chart, carbon chart of each of the two sites
    for data, alt in found:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert np.asarray(image.convert("L"), float).std() > 10, alt
        if alt.startswith("Carbon change"):
            assert color_pixels(image, COLORS["carbon"]) > 300, alt
        if alt.startswith("Habitat extent"):
            assert color_pixels(image, COLORS["extent"]) > 300, alt


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("year,message", [("2030", "no results for 2030"),
                                          ("24", "--year must be YYYY"),
                                          ("2024-01", "--year must be YYYY")])
def test_bad_year_is_one_line_and_writes_nothing(results, tmp_path, capsys, year, message):
    out = fresh(results, tmp_path)
    assert main(["report", "--year", year, "--out", str(out), "--sites",
                 str(results.sites_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bluecarbon: error: ") and message in err and err.count("\n") == 1
    assert not (out / "reports").exists()


def test_results_without_a_ledger_is_one_line(results, tmp_path, capsys):
    out = fresh(results, tmp_path)
    shutil.rmtree(out / "carbon")
    assert main(["report", "--year", str(YEAR), "--out", str(out), "--sites",
                 str(results.sites_file)]) == 2
    err = capsys.readouterr().err
    assert "no carbon table" in err and err.count("\n") == 1
    assert not (out / "reports").exists()


def test_month_and_year_together_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--month", "2024-01", "--year", "2024"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err


# --------------------------------------------------------------------------- the month


def test_monthly_summary_gains_the_carbon_line(results, tmp_path):
    out = fresh(results, tmp_path)
    assert main(["report", "--month", f"{YEAR}-11", "--out", str(out), "--sites",
                 str(results.sites_file)]) == 0
    html = (out / "reports" / f"{YEAR}-11" / SLUG / f"{SLUG}-{YEAR}-11.html").read_text()
    carbon = store.read_table(results.out, "carbon", SEAGRASS)
    row = carbon[pd.to_datetime(carbon["period"]) == pd.Timestamp(f"{YEAR}-11-01")].iloc[0]
    assert f"holds about {round3(row['stock_tco2e']):,.0f} t CO₂e" in html
    assert "not certified carbon credits" in html
    assert "Carbon change since baseline" in html
