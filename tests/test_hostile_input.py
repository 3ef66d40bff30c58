"""Hostile input: refused in one line (exit 2, nothing written), never a traceback; site ids can
never leave the results folder; text from users and servers is never markup or HTML.

* generated GeoJSON (tests/strategies.py) thrown at the validator and at ``bluecarbon sites
  validate``, in process and as a real command;
* sites paths that would hang or exhaust a reader (FIFO, ``/dev/zero``, a huge file);
* run settings from the command line and from TOML, and SMTP settings, that are wrong;
* every writer under the results folder (tables, maps, alerts, reports) given unsafe ids;
* error text with console markup, and partner/site names with HTML, where they are shown.
"""

from __future__ import annotations

import html.parser
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import HOSTILE_TEXT, coastal_sites, sites_documents, sites_payloads

from aoi import Site, SitesError, parse_sites
from flows import cli
from flows.results import StoreError, store

REPO = Path(__file__).resolve().parents[1]
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """``bluecarbon ...`` in this process (the same code path as the command, minus the
    interpreter start): returns (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own exit
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bluecarbon: error: "), err
    return lines[0]


# --------------------------------------------------------------------------- sites files
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(sites_documents(), sites_payloads()))
def test_generated_geojson_gives_sites_or_one_line(data):
    try:
        sites = parse_sites(data)
    except SitesError as exc:
        assert str(exc).splitlines() == [str(exc)] and str(exc)
        return
    assert sites and all(isinstance(s, Site) for s in sites)
    for s in sites:  # what is accepted is safe to use
        assert SLUG.fullmatch(s.id) and s.geometry.is_valid and s.area_ha > 0


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=sites_payloads())
def test_generated_files_through_sites_validate(payload, capsys):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sites.geojson"
        path.write_bytes(payload)
        code, out, err = _run_main(["sites", "validate", str(path)], capsys)
    if code == 0:
        assert err == "" and re.search(r"^\d+ site\(s\) valid$", out, re.M), out
    else:
        _one_line_error(code, err)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(sites_payloads())
def test_generated_files_through_the_real_command(payload):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sites.geojson"
        path.write_bytes(payload)
        proc = subprocess.run([sys.executable, "-m", "flows.cli", "sites", "validate", str(path)],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_special_files_are_refused_without_reading_them(tmp_path, capsys):
    fifo = tmp_path / "sites.fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.geojson"
    with open(huge, "wb") as fh:  # sparse: 300 MB of nothing, never read
        fh.truncate(300 * 2**20)
    empty_dir = tmp_path / "no-geojson"
    empty_dir.mkdir()
    cases = {fifo: "is not a regular file or a folder",
             Path("/dev/zero"): "is not a regular file or a folder",
             huge: "files over 256 MB are refused",
             empty_dir: "no *.geojson files",
             tmp_path / "missing.geojson": "no such file"}
    for path, message in cases.items():
        for argv in (["sites", "validate", str(path)],
                     ["run", "--sites", str(path), "--out", str(tmp_path / "out")]):
            code, _, err = _run_main(argv, capsys)
            assert message in _one_line_error(code, err), (argv, err)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- run settings
@pytest.fixture
def good_sites(tmp_path) -> Path:
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(coastal_sites(1)))
    return path


BAD_RUN_OPTIONS = {
    "out under a file": (["--out", "{file}/results"], "is not a folder"),
    "out is a file": (["--out", "{file}"], "exists and is not a folder"),
    "catalog for the demo": (["--catalog", "/tmp/x"], "not the demo source"),
    "no catalog for stac": (["--source", "stac"], "needs --catalog"),
    "unknown source": (["--source", "landsat"], "unknown source"),
    "impossible date": (["--start", "2024-02-30"], "must be a date"),
    "not a date": (["--end", "yesterday"], "must be a date"),
    "dates reversed": (["--start", "2025-01-02", "--end", "2025-01-01"], "is after end"),
    "chunks zero": (["--chunks", "0"], "chunks must be between"),
    "chunks huge": (["--chunks", "100000"], "chunks must be between"),
    "chunks text": (["--chunks", "abc"], "wrong type"),
    "chunks float": (["--chunks", "512.5"], "wrong type"),
    "mmu nan": (["--mmu-ha", "nan"], "mmu_ha must be"),
    "mmu negative": (["--mmu-ha", "-1"], "mmu_ha must be"),
    "cloud over 100": (["--max-cloud", "101"], "max_cloud must be"),
    "area inf": (["--max-area-ha", "inf"], "max_area_ha must be"),
    "seed text": (["--seed", "x"], "wrong type"),
    "dask address": (["--dask-address", "http://evil"], "dask address"),
    "config missing": (["--config", "{tmp}/missing.toml"], "does not exist"),
    "config a folder": (["--config", "{tmp}"], "cannot read config file"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_OPTIONS))
def test_bad_run_settings_are_one_line_and_write_nothing(case, tmp_path, good_sites, capsys):
    args, message = BAD_RUN_OPTIONS[case]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    args = [a.format(file=a_file, tmp=tmp_path) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "results")]
    before = sorted(tmp_path.rglob("*"))
    code, _, err = _run_main(["run", "--sites", str(good_sites), *args], capsys)
    assert message in _one_line_error(code, err), err
    assert sorted(tmp_path.rglob("*")) == before, "a refused run wrote something"


BAD_TOML = {
    "chunks boolean": ("chunks = true", "wrong type"),
    "start a number": ("start = 2024", "must be a date"),
    "out a number": ("out = 5", "wrong type"),
    "unknown key": ("resolution = 20", "unknown setting 'resolution'"),
    "source a list": ('source = ["demo"]', "wrong type"),
    "not TOML": ("chunks = = 3", "not valid TOML"),
    "dates reversed": ('start = 2025-02-01\nend = 2025-01-01', "is after end"),
    "mmu huge": ("mmu_ha = 1e308", "mmu_ha must be"),
    "binary": ("\udcff", "cannot read config file"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOML))
def test_bad_config_files_are_one_line_and_write_nothing(case, tmp_path, good_sites, capsys):
    text, message = BAD_TOML[case]
    config = tmp_path / "run.toml"
    config.write_bytes(("[run]\n" + text + "\n").encode("utf-8", "surrogateescape"))
    out = [] if text.startswith("out") else ["--out", str(tmp_path / "results")]  # CLI wins
    code, _, err = _run_main(["run", "--config", str(config), "--sites", str(good_sites), *out],
                             capsys)
    assert message in _one_line_error(code, err), err
    assert not (tmp_path / "results").exists()


def test_a_refused_run_is_one_line_from_the_real_command_too(tmp_path, good_sites):
    (tmp_path / "a-file").write_text("x")
    for args in (["--out", str(tmp_path / "a-file" / "results")], ["--chunks", "1e9"],
                 ["--catalog", "x"]):
        proc = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--sites",
                               str(good_sites), *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={k: v for k, v in os.environ.items()
                                                           if not k.startswith("PREFECT_")})
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "sites.geojson"]


BAD_SMTP = {
    "port text": ({"BLUECARBON_SMTP_PORT": "smtp"}, "PORT must be a port number"),
    "port zero": ({"BLUECARBON_SMTP_PORT": "0"}, "PORT must be a port number"),
    "port huge": ({"BLUECARBON_SMTP_PORT": "70000"}, "PORT must be a port number"),
    "starttls maybe": ({"BLUECARBON_SMTP_STARTTLS": "maybe"}, "STARTTLS must be true or false"),
    "user alone": ({"BLUECARBON_SMTP_USER": "bot"}, "set both"),
    "credentials in clear": ({"BLUECARBON_SMTP_HOST": "127.0.0.1", "BLUECARBON_SMTP_FROM":
                              "a@b.org", "BLUECARBON_SMTP_USER": "bot",
                              "BLUECARBON_SMTP_PASSWORD": "pw-XYZZY-1",
                              "BLUECARBON_SMTP_STARTTLS": "false"}, "without STARTTLS"),
    "host without from": ({"BLUECARBON_SMTP_HOST": "127.0.0.1"}, "FROM is required"),
    "bad from": ({"BLUECARBON_SMTP_HOST": "127.0.0.1", "BLUECARBON_SMTP_FROM": "<script>"},
                 "not an email address"),
    "cafile missing": ({"BLUECARBON_SMTP_CAFILE": "/nonexistent.pem"}, "no such file"),
    "timeout negative": ({"BLUECARBON_SMTP_TIMEOUT": "-1"}, "TIMEOUT must be seconds"),
    "timeout nan": ({"BLUECARBON_SMTP_TIMEOUT": "nan"}, "TIMEOUT must be seconds"),
    "partner emails not JSON": ({"BLUECARBON_PARTNER_EMAILS": "{oops"}, "bad JSON"),
    "partner emails a list": ({"BLUECARBON_PARTNER_EMAILS": "[]"}, "must be a JSON object"),
    "partner email bad": ({"BLUECARBON_PARTNER_EMAILS": '{"p": "not an address"}'},
                          "not an email address"),
    "partner email header injection": (
        {"BLUECARBON_PARTNER_EMAILS": '{"p": "a@b.org\\r\\nBcc: victim@c.org"}'},
        "not an email address"),
}


@pytest.mark.parametrize("case", sorted(BAD_SMTP))
def test_bad_smtp_settings_are_one_line_and_write_nothing(case, tmp_path, monkeypatch, capsys):
    env, message = BAD_SMTP[case]
    for key in [k for k in os.environ if k.startswith("BLUECARBON_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "results"
    (out / "change").mkdir(parents=True)  # a results folder; nothing may be added to it
    code, _, err = _run_main(["report", "--month", "2025-01", "--out", str(out), "--deliver"],
                             capsys)
    line = _one_line_error(code, err)
    assert message in line, line
    assert "pw-XYZZY-1" not in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == [Path("change")]


# --------------------------------------------------------------------------- paths
_ids = st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE_TEXT),
                 st.from_regex(r"[a-z0-9][a-z0-9-]{0,63}", fullmatch=True))


def _inside(path: Path, root: Path) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_ids)
def test_no_site_id_leaves_the_results_folder(site_id):
    from flows.results import alerts as stored_alerts
    from flows.results import maps

    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        safe = SLUG.fullmatch(site_id) is not None
        for make in (lambda: store.partition_path(root, "change", site_id),
                     lambda: store.partition_path(root, "observations", site_id),
                     lambda: maps.map_path(root, site_id, "2025-01-01", "class"),
                     lambda: stored_alerts._partition(root, site_id)):
            if safe:
                path = make()
                assert _inside(path, root) and f"{site_id}" in path.parts[-2]
            else:
                with pytest.raises(StoreError):
                    make()
        if not safe:
            with pytest.raises(StoreError):
                store.read_table(root, "change", site_id)
            with pytest.raises(StoreError):
                stored_alerts.read_alerts(root, site_id)
            frame = store.read_table(root, "observations").iloc[:0].copy()
            row = {c: None for c in frame.columns} | {
                "site_id": site_id, "scene_id": "S2A_X", "datetime": pd.Timestamp(
                    "2025-01-01", tz="UTC"), "processing_version": "x", "run_id": "r"}
            with pytest.raises(StoreError):
                store.write_rows(root, "observations", pd.DataFrame([row]))
            with pytest.raises(StoreError):
                stored_alerts.write_alerts(root, stored_alerts.SiteAlerts(site_id, pd.DataFrame(), None))
            assert list(root.iterdir()) == [], "a refused id created something"
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=120), st.sampled_from(HOSTILE_TEXT), st.none()))
def test_partner_names_become_safe_folder_names(partner):
    from flows.reports import partner_slug

    slug = partner_slug(partner)
    assert SLUG.fullmatch(slug), slug
    assert slug not in (".", "..")


# --------------------------------------------------------------------------- rendering
@pytest.mark.parametrize("text", [t for t in HOSTILE_TEXT if "[" in t or "<" in t])
def test_console_shows_error_text_literally(text, tmp_path):
    """Failure reasons carry text from servers and exceptions; the run display must print it
    as is, never interpret it as console markup (``[/]`` used to raise inside the flow)."""
    from rich.console import Console

    from flows.config import RunConfig
    from flows.runtime.display import RunDisplay

    sites = parse_sites(coastal_sites(1))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    display = RunDisplay(sites, RunConfig(out=tmp_path / f"out{text[:10]}".replace("\x00", "")),
                         console=console)
    with display:
        display._on_event("site_failed", site_id=sites[0].id, error=f"SourceError: {text}")
        display._on_event("waiting", message=f"waiting for run {text} holding x")
    display.finish(failed=f"1 failed: {text}")
    shown = console.file.getvalue()
    assert f"SourceError: {text}" in shown and f"1 failed: {text}" in shown



class _Markup(html.parser.HTMLParser):
    """The element structure of a page (tags and attribute names, in order) and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.structure: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.structure.append((tag, tuple(name for name, _ in attrs)))

    def handle_endtag(self, tag) -> None:
        self.structure.append((f"/{tag}", ()))

    def handle_data(self, data) -> None:
        self.text.append(data)


def _markup(page: str) -> _Markup:
    parser = _Markup()
    parser.feed(page)
    parser.close()
    return parser


def _tame(text: str) -> str:
    """``text`` with every non-space character replaced by ``x``: same length, same blanks, so a
    page rendered with it has the layout the hostile text must not change."""
    return "".join(c if c.isspace() else "x" for c in text)


_names = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=60))


@pytest.fixture(scope="module")
def outline_map():
    """One site-outline map image, drawn once (drawing costs ~0.1 s an example)."""
    from flows.reports.figures import change_map

    (site,) = parse_sites(coastal_sites(1))
    with tempfile.TemporaryDirectory() as out:
        return change_map(site, pd.Timestamp("2025-03-01").date(), out)


def _partner_page(name: str, partner: str, country: str, image, *, email: bool) -> str:
    """A partner summary page (``render_html``) with one site whose month has a figure and one
    without: the real text builders and template, given these names."""
    import datetime as dt

    from flows.reports import build, model, render, text

    doc = coastal_sites(2)
    for feature in doc["features"]:
        feature["properties"].update(name=name, partner=partner, country=country)
    ok_site, missing_site = parse_sites(doc)
    month = dt.date(2025, 3, 1)
    row = pd.Series({"extent_ha": 12.0, "baseline_extent_ha": 10.0, "net_change_ha": 2.0,
                     "gain_ha": 3.0, "loss_ha": 1.0, "extent_ci_low_ha": 11.0,
                     "extent_ci_high_ha": 13.0, "valid_fraction": 0.8, "n_observations": 3})
    seen = text.seen_clear(row, 4)
    headline, details, metrics = text.ok_text(ok_site, row, seen)
    overview = {"seen": seen[0], "extent": "12.0 ha", "net": "+2.0 ha", "short_status": ""}
    sites = [model.SiteReport(ok_site, "ok", headline, tuple(details), tuple(metrics),
                               overview, None, image)]
    headline, details = text.missing_text(missing_site, "no_data", None,
                                             pd.DataFrame({"period": []}), month, ("—", ""))
    sites.append(model.SiteReport(missing_site, "no_data", headline, tuple(details), (),
                                   overview | {"short_status": "no results yet"}, None, image))
    rows = pd.DataFrame({"site_id": [ok_site.id], "period": [month]})
    page = model.PartnerReport(
        partner=" ".join(partner.split()) or "Sites without a partner",
        slug=build.partner_slug(partner), month=month, sites=tuple(sites),
        rows=build.csv_rows(rows, {ok_site.id: ok_site.name}), simulated=True, versions="t")
    return render.render_html(page, inline_cid=email)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=_names, partner=_names, country=_names, email=st.booleans())
def test_names_are_text_in_every_rendered_page(name, partner, country, email, outline_map):
    """Site names, partners and countries from the sites file, whatever they hold, render as
    text: the page (file, PDF source, email body) has exactly the elements and attributes of
    the same page with harmless names, and shows each name as written."""
    doc = coastal_sites(1)
    doc["features"][0]["properties"].update(name=name, partner=partner, country=country)
    try:
        parse_sites(doc)
    except SitesError:
        return  # refused names are never rendered (the validator's own test covers them)
    page = _markup(_partner_page(name, partner, country, outline_map, email=email))
    tame = _markup(_partner_page(_tame(name), _tame(partner), _tame(country), outline_map,
                                 email=email))
    assert page.structure == tame.structure
    shown = " ".join("".join(page.text).split())
    for text in (name, partner, country):
        if text.strip():
            assert " ".join(text.split()) in shown
