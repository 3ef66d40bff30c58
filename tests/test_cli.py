"""The command line as a user runs it: real subprocesses, real Prefect (ephemeral API), real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from aoi import bundled_sites_path, load_sites
from flows.results import store

REPO = Path(__file__).resolve().parents[1]
OBS_COLUMNS = ["site_id", "scene_id", "datetime", "source", "valid_fraction", "cloud_fraction",
               "ndvi_mean", "ndwi_mean", "mndwi_mean", "mvi_mean", "habitat_area_ha",
               "processing_version", "run_id"]
CHANGE_COLUMNS = ["site_id", "habitat", "period", "n_observations", "valid_fraction", "extent_ha",
                  "baseline_extent_ha", "gain_ha", "loss_ha", "net_change_ha",
                  "extent_ci_low_ha", "extent_ci_high_ha", "processing_version", "run_id"]


@pytest.fixture(scope="session")
def prefect_env(tmp_path_factory):
    """One PREFECT_HOME for the CLI runs of this session (its SQLite is created once)."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    return env


def bluecarbon(*args: str, env: dict | None = None, cwd: Path | None = None,
               timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd or REPO, timeout=timeout)


def _one_site_file(tmp_path: Path, site_id: str) -> Path:
    for path in sorted(bundled_sites_path().glob("*.geojson")):
        fc = json.loads(path.read_text())
        feats = [f for f in fc["features"] if f["properties"]["id"] == site_id]
        if feats:
            out = tmp_path / f"{site_id}.geojson"
            out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
            return out
    raise LookupError(site_id)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, prefect_env):
    """`bluecarbon run` with no arguments, in an empty working directory."""
    work = tmp_path_factory.mktemp("demo-run")
    proc = bluecarbon("run", env=prefect_env, cwd=work)
    return work, proc


@pytest.mark.slow
def test_demo_run_writes_the_contract(demo_run):
    work, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    results = work / "results"
    obs = pd.read_parquet(results / "observations")
    change = pd.read_parquet(results / "change")
    assert sorted(obs.columns) == sorted(OBS_COLUMNS)
    # the contract's columns, plus the documented additions (docs/design.md, extensions)
    assert sorted(change.columns) == sorted(CHANGE_COLUMNS + list(store.CHANGE_ADDED_COLUMNS))
    ids = {"selangor-kuala-selangor", "andalusia-cabo-de-gata-genoveses", "kenya-mida-creek",
           "mexico-puerto-morelos", "selangor-kuala-selangor-reference", "brazil-guapimirim",
           "china-futian", "turkey-gokova-sedir"}
    assert set(obs["site_id"].astype(str)) == ids
    for site_id in ids:  # hive partitioning by site_id
        assert (results / "observations" / f"site_id={site_id}" / "part-0.parquet").is_file()
        assert (results / "change" / f"site_id={site_id}" / "part-0.parquet").is_file()
    assert str(obs["datetime"].dtype) == "datetime64[us, UTC]"
    assert not obs.duplicated(["site_id", "scene_id"]).any()
    assert not change.duplicated(["site_id", "period"]).any()
    assert obs["run_id"].nunique() == 1 and change["run_id"].nunique() == 1
    # every change row adds up; the selangor replanting shows as gain by the end
    assert (change["net_change_ha"] - (change["gain_ha"] - change["loss_ha"])).abs().max() < 1e-6
    last = change[change["site_id"] == "selangor-kuala-selangor"].sort_values("period").iloc[-1]
    assert last["gain_ha"] > 3 and last["loss_ha"] > 3
    # the replanting's recovery against its reference site, closing by the end of the demo
    sel = change[change["site_id"] == "selangor-kuala-selangor"].sort_values("period")
    assert sel["recovery_ratio"].notna().sum() > 6
    assert sel["recovery_ratio"].iloc[-1] > 0.9
    assert pd.notna(sel["canopy_closure_period"].iloc[-1])
    assert change.loc[change["site_id"] != "selangor-kuala-selangor", "recovery_ratio"].isna().all()
    # the summary table is printed for people
    assert "selangor-kuala-selangor" in proc.stdout and "extent ha" in proc.stdout


PILOT_COUNTRIES = {"BR", "CN", "KE", "MX", "TR"}
"""The programme's pilot countries: each has a bundled site (issue 19)."""


@pytest.mark.slow
def test_demo_accounts_balance_for_every_site_and_year(demo_run):
    """closing = opening + additions - reductions and a year's closing is the next year's
    opening, for every site and year of the demo; the closing counted on the class maps is
    the change table's extent of the year's last month."""
    work, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = work / "results"
    accounts = store.read_table(results, "accounts")
    change = store.read_table(results, "change")
    assert set(accounts["site_id"]) == set(change["site_id"])
    for site_id, acc in accounts.groupby("site_id"):
        acc = acc.sort_values("year")
        assert list(acc["year"]) == [2023, 2024, 2025], site_id
        assert (acc["opening_ha"] + acc["additions_ha"] - acc["reductions_ha"]
                - acc["closing_ha"]).abs().max() < 1e-9, site_id
        assert (acc["closing_ha"].to_numpy()[:-1] - acc["opening_ha"].to_numpy()[1:]).max() \
            < 1e-9, site_id
        rows = change[change["site_id"] == site_id].set_index("period")
        for _, a in acc.iterrows():
            assert abs(a["closing_ha"] - rows.loc[a["closing_period"], "extent_ha"]) < 0.006
    assert set(accounts["flows_from"]) == {"class maps"}


@pytest.mark.slow
def test_demo_carbon_ledger(demo_run):
    """A ledger row per change row; losses alone never add carbon (the month a seagrass
    meadow is lost its soil has not started to emit: zero); no gain or loss at a seagrass site
    (no canopy) is exactly zero with an interval around it; the run record names every site's
    factors."""
    work, proc = demo_run
    results = work / "results"
    carbon = store.read_table(results, "carbon")
    change = store.read_table(results, "change")
    both = change.merge(carbon, on=["site_id", "period"], suffixes=("", "_c"))
    assert len(both) == len(change) == len(carbon)
    loss_only = both[(both["gain_ha"] == 0) & (both["loss_ha"] > 0)]
    assert len(loss_only) > 20 and (loss_only["change_tco2e"] <= 0).all()
    seagrass = both[(both["habitat"] == "seagrass") & (both["gain_ha"] == 0)
                    & (both["loss_ha"] == 0)]
    assert len(seagrass) > 20 and (seagrass["change_tco2e"] == 0).all()
    assert ((seagrass["change_ci_low_tco2e"] <= 0) & (seagrass["change_ci_high_tco2e"] >= 0)).all()
    record = json.loads(next((results / "runs").glob("*.json")).read_text())
    for site_id, rows in carbon.groupby("site_id"):
        entry = record["sites"][site_id]["carbon"]
        assert set(rows["factors_id"]) == {entry["factors_id"]} and "error" not in entry
        assert entry["rows"] == {"carbon": len(rows), "accounts": 3}


@pytest.mark.slow
def test_demo_evidence_pack_covers_the_pilot_countries(demo_run, prefect_env):
    work, proc = demo_run
    made = bluecarbon("report", "--year", "2025", env=prefect_env, cwd=work)
    assert made.returncode == 0, made.stderr[-3000:]
    folder = work / "results" / "reports" / "2025" / "nature-tech-30x30-pilots"
    csv = pd.read_csv(folder / "nature-tech-30x30-pilots-2025.csv")
    countries = {s.country for s in load_sites(None) if s.id in set(csv["site_id"])}
    assert countries == PILOT_COUNTRIES
    html = (folder / "nature-tech-30x30-pilots-2025.html").read_text()
    assert html.count("IUCN Green List · Component 4") == 5  # every pilot is a protected area


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.mark.slow
def test_reruns_are_idempotent_and_incremental(tmp_path, prefect_env):
    sites = _one_site_file(tmp_path, "mexico-puerto-morelos")
    out = tmp_path / "results"
    args = ("run", "--sites", str(sites), "--out", str(out), "--start", "2024-01-01")
    first = bluecarbon(*args, "--end", "2024-12-10", env=prefect_env)
    assert first.returncode == 0, first.stderr[-3000:]
    files1 = _files(out)
    tables1 = {t: store.read_table(out, t) for t in ("observations", "change")}
    change = tables1["change"]
    assert pd.Timestamp(change["period"].min()) == pd.Timestamp("2024-01-01")
    assert pd.Timestamp(change["period"].max()) == pd.Timestamp("2024-12-01")

    # the same run again: nothing new, nothing loaded, identical files to the byte
    second = bluecarbon(*args, "--end", "2024-12-10", env=prefect_env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "no new scenes" in second.stderr
    assert _files(out) == files1

    # --full recomputes and replaces every row: same values, a new run id, no duplicates
    third = bluecarbon(*args, "--end", "2024-12-10", "--full", env=prefect_env)
    assert third.returncode == 0, third.stderr[-3000:]
    for table, before in tables1.items():
        after = store.read_table(out, table)
        assert len(after) == len(before) > 0
        assert after["run_id"].iloc[0] != before["run_id"].iloc[0]
        pd.testing.assert_frame_equal(before.drop(columns="run_id"), after.drop(columns="run_id"))

    # a later end date brings new scenes: only their rows and December's row are written
    fourth = bluecarbon(*args, "--end", "2024-12-31", env=prefect_env)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    obs = store.read_table(out, "observations")
    new = obs[obs["run_id"] != obs["run_id"].iloc[0]]
    assert len(obs) > len(tables1["observations"])
    assert len(new) == len(obs) - len(tables1["observations"])
    assert (new["datetime"] > pd.Timestamp("2024-12-10", tz="UTC")).all()
    change4 = store.read_table(out, "change")
    rewritten = change4[change4["run_id"] == new["run_id"].iloc[0]]
    assert list(pd.to_datetime(rewritten["period"])) == [pd.Timestamp("2024-12-01")]
    assert len(change4) == len(change)


BAD_SITES = {
    "bad-json": '{"type": "FeatureCollection", "features": [',
    "empty": "",
    "point": {"type": "Point", "coordinates": [101.2, 3.3]},
    "bowtie": {"type": "Polygon", "coordinates": [[[101.20, 3.30], [101.22, 3.32],
                                                   [101.22, 3.30], [101.20, 3.32],
                                                   [101.20, 3.30]]]},
    "out-of-range": {"type": "Polygon", "coordinates": [[[200, 3.30], [200.01, 3.30],
                                                         [200.01, 3.31], [200, 3.30]]]},
    "unsafe-id": {"id": "../../etc"},
    "duplicate-id": "dup",
    "unknown-habitat": {"habitat": "coral"},
    "reversed-dates": {"baseline_start": "2023-12-31", "baseline_end": "2023-01-01"},
    "malformed-date": {"baseline_start": "2023-13-01"},
    "too-large": "cap",
}


def _bad_sites_file(tmp_path: Path, case: str) -> tuple[Path, list[str]]:
    good = json.loads(_one_site_file(tmp_path, "selangor-kuala-selangor").read_text())
    feature = good["features"][0]
    spec = BAD_SITES[case]
    extra: list[str] = []
    path = tmp_path / f"{case}.geojson"
    if isinstance(spec, str) and case in ("bad-json", "empty"):
        path.write_text(spec)
        return path, extra
    if case == "duplicate-id":
        good["features"].append(json.loads(json.dumps(feature)))
    elif case == "too-large":
        extra = ["--max-area-ha", "10"]
    elif "type" in spec:
        feature["geometry"] = spec
    else:
        feature["properties"].update(spec)
    path.write_text(json.dumps(good))
    return path, extra


@pytest.mark.parametrize("case", sorted(BAD_SITES))
def test_bad_sites_are_refused_by_validate(tmp_path, case):
    path, extra = _bad_sites_file(tmp_path, case)
    proc = bluecarbon("sites", "validate", str(path), *extra)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bluecarbon: error:"), proc.stderr


@pytest.mark.parametrize("case", sorted(BAD_SITES))
def test_bad_sites_are_refused_by_run_and_nothing_is_written(tmp_path, case, prefect_env):
    path, extra = _bad_sites_file(tmp_path, case)
    out = tmp_path / "results"
    proc = bluecarbon("run", "--sites", str(path), "--out", str(out), *extra, env=prefect_env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["--start", "2024-02-30"], ["--end", "tomorrow"], ["--start", "2025-01-01", "--end", "2024-01-01"],
    ["--source", "landsat"], ["--mmu-ha", "-1"], ["--chunks", "abc"], ["--config", "missing.toml"],
    ["--dask-address", "http://x"], ["--bogus-flag"],
])
def test_bad_run_options_are_one_line_errors(tmp_path, args, prefect_env):
    out = tmp_path / "results"
    proc = bluecarbon("run", "--out", str(out), *args, env=prefect_env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()


def test_validate_accepts_the_bundled_sites():
    proc = bluecarbon("sites", "validate", str(bundled_sites_path()))
    assert proc.returncode == 0, proc.stderr
    assert "8 site(s) valid" in proc.stdout


def test_config_file_is_read(tmp_path):
    from flows.config import ConfigError, load_config

    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\nsource = "demo"\nstart = "2024-01-01"\nmmu_ha = 0.5\nout = "x"\n')
    config = load_config(cfg, mmu_ha=None, out="y")
    assert str(config.start) == "2024-01-01" and config.mmu_ha == 0.5 and str(config.out) == "y"
    cfg.write_text('[run]\nmmu_hectares = 1\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(cfg)


def _two_sites_file(tmp_path: Path, ids: tuple[str, str]) -> Path:
    feats = [f for p in sorted(bundled_sites_path().glob("*.geojson"))
             for f in json.loads(p.read_text())["features"] if f["properties"]["id"] in ids]
    out = tmp_path / "two.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return out


def test_a_site_whose_monthly_change_would_not_fit_fails_alone(tmp_path, prefect_env):
    """With a memory budget between two sites' needs, the larger fails with one line before
    reading anything, the other is written, and the exit code says some sites failed. With
    a budget the larger fits only month by month, it is walked so and written."""
    import datetime as dt

    from aoi import load_sites, site_grid
    from flows.site import load_range, month_start, stream_memory, walk_memory
    from flows.sources.demo import DemoSource

    big, small = "selangor-kuala-selangor", "selangor-kuala-selangor-reference"
    sites = {s.id: s for s in load_sites()}
    end = dt.date(2024, 6, 30)
    whole, streamed = {}, {}
    for site_id in (big, small):
        site = sites[site_id]
        scenes = DemoSource().search(site, *load_range(site, None, end))
        grid = site_grid(site)
        months = len({month_start(s.datetime.date()) for s in scenes})
        whole[site_id] = walk_memory(grid.width * grid.height, months)
        streamed[site_id] = stream_memory(grid.width * grid.height, months)
    assert streamed[big] > 1.5 * whole[small] and whole[big] > 1.5 * streamed[big]
    budget_gb = (streamed[big] + whole[small]) / 2 / 2**30
    out = tmp_path / "results"
    proc = bluecarbon("run", "--sites", str(_two_sites_file(tmp_path, (big, small))),
                      "--out", str(out), "--end", end.isoformat(),
                      env={**prefect_env, "BLUECARBON_MEMORY_GB": f"{budget_gb:.6f}"})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "needs ~" in ln]
    assert lines and big in lines[0] and "BLUECARBON_MEMORY_GB" in lines[0], proc.stderr[-2000:]
    assert "month by month" in lines[0]
    obs = store.read_table(out, "observations")
    assert set(obs["site_id"].astype(str)) == {small}
    assert not (out / "observations" / f"site_id={big}").exists()
    (record,) = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    assert record["sites"][big]["status"] == "failed"
    assert "SiteTooLarge" in record["sites"][big]["reason"]
    assert record["sites"][small]["status"] == "processed"

    # room for the month-by-month walk only: the big site is walked so, rows and maps written
    budget_gb = (streamed[big] + whole[big]) / 2 / 2**30
    proc = bluecarbon("run", "--sites", str(_two_sites_file(tmp_path, (big, small))),
                      "--out", str(out), "--end", end.isoformat(),
                      env={**prefect_env, "BLUECARBON_MEMORY_GB": f"{budget_gb:.6f}"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = next(r for r in (json.loads(p.read_text()) for p in (out / "runs").glob("*.json"))
                  if r["sites"][big]["status"] == "processed")
    assert record["sites"][big]["walk"] == "stream"
    change = store.read_table(out, "change", big)
    assert len(change) >= 10 and change["extent_ha"].gt(0).all()
    maps = sorted((out / "maps" / big).glob("*_class.tif"))
    assert len(maps) == len(change)
