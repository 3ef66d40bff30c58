"""What a new user meets first (issue 21): impossible dates refused in one line, the report
finding the run's sites, a console that does not wrap when piped, ``--version``, and
``bluecarbon notebooks``. Fast: no Prefect run here (``tests/test_readme_example.py`` runs
the README's example; ``tests/test_prefect_e2e.py`` serves a STAC catalog)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aoi import load_sites
from flows import PROCESSING_VERSION
from flows.cli import main
from flows.config import ConfigError, RunConfig, check_period
from flows.results.runs import RUNS_DIR, recorded_sites

SQUARE = [[[39.505, -4.425], [39.512, -4.425], [39.512, -4.418], [39.505, -4.418],
           [39.505, -4.425]]]
"""A 60 ha square on the mangroves of Gazi Bay, Kenya."""


def sites_file(folder: Path, name: str, sites: list[tuple[str, str, str]]) -> Path:
    """A GeoJSON of mangrove sites ``(id, baseline_start, baseline_end)``, each a copy of
    :data:`SQUARE` moved 1 km east per site."""
    features = []
    for k, (site_id, start, end) in enumerate(sites):
        ring = [[x + 0.01 * k, y] for x, y in SQUARE[0]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"id": site_id, "name": site_id.title(),
                                        "habitat": "mangrove", "baseline_start": start,
                                        "baseline_end": end}})
    path = folder / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# --------------------------------------------------------------------------- dates


def test_an_end_before_a_baseline_ends_is_refused(tmp_path):
    path = sites_file(tmp_path, "s.geojson", [("early", "2022-01-01", "2022-12-31"),
                                              ("late", "2023-01-01", "2023-12-31"),
                                              ("later", "2023-06-01", "2024-03-31")])
    sites = load_sites(path)
    check_period(RunConfig(end=dt.date(2024, 3, 31)), sites)  # the last day of a baseline: ok
    check_period(RunConfig(source="stac", catalog="x"), sites)  # no end: today
    with pytest.raises(ConfigError) as err:
        check_period(RunConfig(end=dt.date(2023, 12, 30)), sites)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("--end 2023-12-30, before the baseline of site late "
                              "(and 1 other site(s)) ends (2023-01-01..2023-12-31)")
    assert message.endswith("set --end on or after 2023-12-31")


def test_the_demo_source_refuses_a_baseline_after_its_fixed_today(tmp_path):
    path = sites_file(tmp_path, "s.geojson", [("new", "2026-01-01", "2026-06-30")])
    sites = load_sites(path, today=dt.date(2027, 1, 1))
    with pytest.raises(ConfigError, match="the demo source simulates scenes up to 2025-12-31, "
                                          "before the baseline of site new ends"):
        check_period(RunConfig(), sites)
    check_period(RunConfig(end=dt.date(2026, 7, 31)), sites)  # an explicit end is the user's


def test_run_refuses_an_end_before_the_baseline_in_one_line(tmp_path, capsys):
    """Used to exit 0 with "no new scenes (0 found, all stored)"."""
    path = sites_file(tmp_path, "s.geojson", [("late", "2023-01-01", "2023-12-31")])
    out = tmp_path / "results"
    code = main(["run", "--sites", str(path), "--end", "2023-06-30", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("bluecarbon: error: --end 2023-06-30, before")
    assert not out.exists()


# --------------------------------------------------------------------------- run records


def _record(out: Path, run_id: str, started: str, sites: str | None, statuses: dict) -> None:
    folder = out / RUNS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "started_at": started, "parameters": {"sites": sites},
              "sites": {k: {"status": v} for k, v in statuses.items()}}
    (folder / f"{run_id}.json").write_text(json.dumps(record))


def test_recorded_sites_are_those_of_the_latest_runs_that_wrote_rows(tmp_path):
    out = tmp_path / "results"
    assert recorded_sites(out) == []
    _record(out, "a", "2025-01-01T02:00:00+00:00", "/data/old.geojson", {"x": "processed"})
    assert recorded_sites(out) == ["/data/old.geojson"]
    # a later run of another file wrote x and y: x's latest file is the new one
    _record(out, "b", "2025-01-02T02:00:00+00:00", "/data/new.gpkg",
            {"x": "processed", "y": "processed"})
    # ... later runs that wrote nothing (up to date, failed) do not count
    _record(out, "c", "2025-01-03T02:00:00+00:00", "/data/other.kml",
            {"x": "skipped", "y": "failed"})
    assert recorded_sites(out) == ["/data/new.gpkg"]
    # a third file's site, written last; and a run on the bundled sites (None) before
    _record(out, "d", "2025-01-04T02:00:00+00:00", "/data/third.zip", {"z": "processed"})
    _record(out, "e", "2024-12-31T02:00:00+00:00", None, {"w": "processed"})
    (out / RUNS_DIR / "broken.json").write_text("{not json")
    (out / RUNS_DIR / "odd.json").write_text(json.dumps({"started_at": "2030", "sites": []}))
    assert recorded_sites(out) == ["/data/third.zip", "/data/new.gpkg", None]


def test_a_run_records_its_sites_file_as_an_absolute_path(tmp_path, monkeypatch):
    from flows.results.runs import RunRecord

    monkeypatch.chdir(tmp_path)
    path = sites_file(tmp_path, "mine.geojson", [("s", "2023-01-01", "2023-12-31")])
    record = RunRecord.start("r", RunConfig(sites=Path("mine.geojson")), dt.date(2024, 1, 1))
    assert record.parameters["sites"] == str(path.resolve())
    assert RunRecord.start("r", RunConfig(), dt.date(2024, 1, 1)).parameters["sites"] is None


def test_report_reads_the_sites_the_runs_read(tmp_path):
    """Two sites files written into one results folder (two site groups): with no --sites,
    the report covers both (it used to read the bundled sites and fail: "none of the 8
    sites in the sites file has results"); a gone sites file is named; --sites wins."""
    from flows.reports.model import ReportError
    from flows.reports.month import report_month
    from flows.results import store
    from flows.site import load_range, site_tables
    from flows.sources.demo import DemoSource

    out, end = tmp_path / "results", dt.date(2023, 5, 31)
    files = [sites_file(tmp_path, "a.geojson", [("site-a", "2023-01-01", "2023-03-31")]),
             sites_file(tmp_path, "b.geojson", [("site-b", "2023-01-01", "2023-03-31")])]
    source = DemoSource(seed=1)
    for k, path in enumerate(files):
        site = load_sites(path)[0]
        scenes = source.search(site, *load_range(site, None, end))
        tables = site_tables(site, source, scenes, start=None, end=end, run_id=f"r{k}")
        store.write_rows(out, "observations", tables.observations)
        store.write_rows(out, "change", tables.change)
        _record(out, f"r{k}", f"2025-01-0{k + 1}T02:00:00+00:00", str(path),
                {site.id: "processed"})
    result = report_month(out, "2023-05")
    assert sorted(s.site.id for r in result.reports for s in r.sites) == ["site-a", "site-b"]
    only_a = report_month(out, "2023-05", str(files[0]))
    assert [s.site.id for r in only_a.reports for s in r.sites] == ["site-a"]
    files[1].unlink()
    with pytest.raises(ReportError, match=f"sites from {files[1]}, which is gone: pass --sites"):
        report_month(out, "2023-05")


# --------------------------------------------------------------------------- console


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"bluecarbon {PROCESSING_VERSION}\n"


def test_piped_output_is_never_wrapped(tmp_path, capsys, monkeypatch):
    """Under cron or systemd (not a terminal), a failure's reason is one line however long,
    and the results table keeps its columns (rich assumed 80 columns and wrapped both)."""
    from flows.runtime.display import RunDisplay

    monkeypatch.delenv("COLUMNS", raising=False)
    sites = load_sites(sites_file(tmp_path, "s.geojson", [("a-site-with-a-long-name-" * 2 + "x",
                                                           "2023-01-01", "2023-12-31")]))
    reason = "SourceError: " + " ".join(f"word{k}" for k in range(60))
    display = RunDisplay(sites, RunConfig(out=tmp_path / "results"))
    with display:
        display._on_event("run_started", run_id="0123456789", n_sites=1)
        display._on_event("site_failed", site_id=sites[0].id, error=reason)
    display.finish(failed="1 site failed")
    captured = capsys.readouterr()
    assert f"failed {sites[0].id}: {reason}\n" in captured.err
    header = [line for line in captured.out.splitlines() if "habitat" in line]
    assert len(header) == 1 and "loss ha" in header[0]  # the whole header on one line
    assert sites[0].id in captured.out.replace("\n", "") and \
        any(sites[0].id in line for line in captured.out.splitlines())



# --------------------------------------------------------------------------- notebooks


REPO = Path(__file__).resolve().parents[1]
FAKE_JUPYTERLAB = '''import json, os, sys
with open(os.environ["FAKE_JUPYTER_REPORT"], "w") as fh:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
               "results": os.environ.get("BLUECARBON_RESULTS"),
               "sites": os.environ.get("BLUECARBON_SITES")}, fh)
sys.exit(7)
'''


def test_notebooks_starts_jupyterlab_on_the_notebooks_with_absolute_paths(tmp_path):
    """`bluecarbon notebooks --out results` typed in the folder holding `results`: this
    Python's JupyterLab (here a stand-in package that records how it was started) runs in
    notebooks/ with BLUECARBON_RESULTS absolute, and its exit code is the command's."""

    fake = tmp_path / "fake" / "jupyterlab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(FAKE_JUPYTERLAB)
    work = tmp_path / "work"
    (work / "results" / "change").mkdir(parents=True)
    sites = sites_file(work, "mine.geojson", [("s", "2023-01-01", "2023-12-31")])
    report = tmp_path / "report.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parent), str(REPO)]),
               FAKE_JUPYTER_REPORT=str(report))
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "notebooks", "--out", "results",
                           "--sites", sites.name, "--port", "8899", "--no-browser"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 7, proc.stderr
    started = json.loads(report.read_text())
    notebooks = REPO / "notebooks"
    as_root = ["--allow-root"] if os.geteuid() == 0 else []
    assert started == {"argv": [f"--ServerApp.root_dir={notebooks}", "--ServerApp.port=8899",
                                "--no-browser", *as_root],
                       "cwd": str(notebooks), "results": str(work / "results"),
                       "sites": str(sites)}
    assert f"BLUECARBON_RESULTS={work / 'results'}" in proc.stdout


def test_notebooks_refuses_in_one_line_what_it_cannot_open(tmp_path, capsys, monkeypatch):
    import importlib.util

    def refused(*args):
        code = main(["notebooks", *args])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        return err

    assert "bluecarbon run --out" in refused("--out", str(tmp_path / "nothing-here"))
    (tmp_path / "results" / "change").mkdir(parents=True)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jupyterlab" else real_find_spec(name, *a))
    assert "pip install -e '.[notebooks]'" in refused("--out", str(tmp_path / "results"))
