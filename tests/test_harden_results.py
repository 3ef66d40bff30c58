"""Hardening (issue 20), the results folder: links planted in it (class 2), stored state that
would poison every later run (class 8) and reports of one month written at once (class 10).
Each test failed on the code before the fix (docs/reliability.md has the numbers).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile import PLAIN, copy_world, one_line_error, run_cli, run_record, stac_run, tree

from flows.results import StoreError, store

SITE = "tiny-0000"


# --------------------------------------------------------------------------- class 2
@pytest.fixture
def bystander(tmp_path) -> Path:
    """A folder outside the results folder, with a file, that links will point at."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "precious.txt").write_text("not bluecarbon's to write\n")
    return folder


def _obs_row(site_id: str = SITE, scene: str = "S2A_X_20250120", version: str | None = None):
    from flows import PROCESSING_VERSION

    frame = store.read_table("/nonexistent", "observations").iloc[:0]
    row = {c: None for c in frame.columns} | {
        "site_id": site_id, "scene_id": scene, "source": "stac", "run_id": "r",
        "datetime": pd.Timestamp("2025-01-20T03:00", tz="UTC"), "valid_fraction": 0.5,
        "processing_version": version or PROCESSING_VERSION}
    return pd.DataFrame([row])


def _links(out: Path, elsewhere: Path) -> dict[str, Callable]:
    """Each writer under ``--out``, with a link planted where it writes."""
    from flows.config import RunConfig
    from flows.results import RunRecord, alerts, maps, run_lock, write_run_record
    from flows.results.alerts import SiteAlerts
    from flows.results.files import atomic_path

    def table_dir():
        (out / "change").mkdir(parents=True)
        (out / "change" / f"site_id={SITE}").symlink_to(elsewhere)
        return lambda: store.write_rows(out, "observations", _obs_row()) and \
            store.write_rows(out, "change", _change_row())

    def part_file():
        (out / "observations" / f"site_id={SITE}").mkdir(parents=True)
        (out / "observations" / f"site_id={SITE}" / "part-0.parquet").symlink_to(
            elsewhere / "precious.txt")
        return lambda: store.write_rows(out, "observations", _obs_row())

    def table_lock():
        (out / "observations").mkdir(parents=True)
        (out / "observations" / ".write.lock").symlink_to(elsewhere / "precious.txt")
        return lambda: store.write_rows(out, "observations", _obs_row())

    def run_lock_file():
        out.mkdir(parents=True)
        (out / ".run.lock").symlink_to(elsewhere / "precious.txt")

        def take():
            with run_lock(out, "run-1"):
                pass
        return take

    def runs_dir():
        out.mkdir(parents=True)
        record = RunRecord.start("run-1", RunConfig(out=out), dt.date(2025, 1, 31))
        (out / "runs").symlink_to(elsewhere)
        return lambda: write_run_record(out, record)

    def maps_dir():
        (out / "maps").mkdir(parents=True)
        (out / "maps" / SITE).symlink_to(elsewhere)
        return lambda: maps.write_cog(maps.map_path(out, SITE, "2025-01-01", "class"),
                                      np.zeros((4, 4), np.uint8), _grid(), colormap={0: (0, 0,
                                      0, 255)}, tags={"site_id": SITE}, root=out)

    def alerts_geojson():
        out.mkdir(parents=True)
        (out / "alerts_geojson").symlink_to(elsewhere)
        rows = pd.DataFrame(columns=alerts.ALERT_SCHEMA.names)
        lo = pd.Timestamp("2025-01-01", tz="UTC")
        return lambda: alerts.write_alerts(out, SiteAlerts(SITE, rows, (lo, lo)))

    def temp_file():
        target = out / "runs" / "x.json"
        target.parent.mkdir(parents=True)

        def write():
            with atomic_path(target, out) as tmp:
                tmp.symlink_to(elsewhere / "precious.txt")  # a link where the temp file goes
        return write

    return {"table folder": table_dir, "partition file": part_file, "table lock": table_lock,
            "run lock": run_lock_file, "runs folder": runs_dir, "maps folder": maps_dir,
            "alerts GeoJSON folder": alerts_geojson, "temp file": temp_file}


def _change_row():
    frame = store.read_table("/nonexistent", "change").iloc[:0]
    row = {c: None for c in frame.columns} | {
        "site_id": SITE, "habitat": "mangrove", "period": dt.date(2025, 1, 1),
        "processing_version": "x", "run_id": "r"}
    return pd.DataFrame([row])


def _grid():
    from aoi.grid import SiteGrid

    return SiteGrid(epsg=32647, left=600_000.0, top=340_020.0, width=4, height=4)


@pytest.mark.parametrize("case", ["table folder", "partition file", "table lock", "run lock",
                                  "runs folder", "maps folder", "alerts GeoJSON folder",
                                  "temp file"])
def test_a_link_in_the_results_folder_is_refused_never_followed(case, tmp_path, bystander):
    out = tmp_path / "out"
    before = tree(bystander)
    write = _links(out, bystander)[case]()
    with pytest.raises(StoreError, match="symbolic link|not a regular file") as exc:
        write()
    assert "\n" not in str(exc.value)
    assert tree(bystander) == before, f"{case}: something outside --out changed"


def test_a_run_refuses_a_planted_run_lock_before_any_work(tiny_catalog, tmp_path, bystander,
                                                          capfd):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".run.lock").symlink_to(bystander / "precious.txt")
    before = tree(bystander)
    code, said, _ = run_cli(stac_run(tiny_catalog, out), PLAIN, capfd, timeout=120)
    assert code == 2 and "symbolic link" in one_line_error(said), said
    assert tree(bystander) == before
    assert sorted(p.name for p in out.iterdir()) == [".run.lock"]


# --------------------------------------------------------------------------- class 8
def test_a_corrupt_partition_of_another_site_spoils_neither_summary_nor_reports(
        tiny_catalog, tmp_path, capfd):
    out = tmp_path / "out"
    broken = out / "change" / "site_id=another-site" / "part-0.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PAR1 this is not parquet")
    code, said, _ = run_cli(stac_run(tiny_catalog, out), PLAIN, capfd, timeout=300)
    assert code == 0 and "Traceback" not in said, said[-3000:]
    assert "tiny-0000" in said and "finished in" in said
    code, said, _ = run_cli(["report", "--month", "2025-02", "--out", str(out), "--sites",
                             str(tiny_catalog / "sites.geojson")], PLAIN, capfd, timeout=300)
    assert code == 0 and "Traceback" not in said, said[-3000:]
    assert list((out / "reports" / "2025-02").glob("*/*.html"))


@pytest.mark.parametrize("table", ["observations", "carbon"])
def test_an_unreadable_partition_of_the_site_is_set_aside_and_recomputed_once(
        table, tiny_catalog, tmp_path, capfd):
    """A lost observation (or change, alerts) file: the site is recomputed in full, once; a
    lost carbon ledger (or extent account): rebuilt by the run's carbon step, no recompute."""
    world = copy_world(tiny_catalog, tmp_path)
    out = tmp_path / "out"
    code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd)
    assert code == 0, said[-3000:]
    rows = store.read_table(out, table, SITE)
    assert len(rows)
    part = store.partition_path(out, table, SITE)
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])  # truncated by a crash
    code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd)
    assert code == 0 and "Traceback" not in said, said[-3000:]
    entry = run_record(out)["sites"][SITE]
    assert entry["status"] == ("processed" if table == "observations" else "skipped"), entry
    assert table in entry["recovered"][0], entry
    assert len(list(part.parent.glob(".part-0.parquet.unreadable-*"))) == 1
    again = store.read_table(out, table, SITE)
    key = "scene_id" if table == "observations" else "period"
    assert sorted(again[key]) == sorted(rows[key])
    code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd)
    entry = run_record(out)["sites"][SITE]
    assert code == 0 and entry["status"] == "skipped" and "recovered" not in entry, entry


@pytest.mark.parametrize("which", ["a scene no longer found", "a scene found",
                                   "a rule of a month no run rewrites"])
def test_an_older_processing_version_is_recomputed_once_not_every_night(which, tiny_catalog,
                                                                        tmp_path, capfd):
    world = copy_world(tiny_catalog, tmp_path)
    out = tmp_path / "out"
    code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd)
    assert code == 0, said[-3000:]
    if which == "a scene no longer found":  # a row the catalogue cannot give again
        store.write_rows(out, "observations", _obs_row(scene="S2A_GONE_20250118",
                                                       version="0.0.1-old"))
    elif which == "a rule of a month no run rewrites":  # a month before --start, older rule
        change = store.read_table(out, "change", SITE)
        old = change.iloc[:1].copy()
        old["period"], old["rule_id"] = pd.Timestamp("2024-12-01"), "mangrove-older-rule-v0"
        store.write_rows(out, "change", old)
    else:
        rows = store.read_table(out, "observations", SITE)
        rows.loc[rows.index[:1], "processing_version"] = "0.0.1-old"
        store.write_rows(out, "observations", rows)
    runs = []
    for _ in range(2):
        code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd)
        assert code == 0, said[-3000:]
        runs.append(run_record(out)["sites"][SITE])
    if which == "a scene found":
        assert runs[0]["status"] == "processed" and runs[0]["scenes_new"] == 4, runs[0]
    else:
        assert runs[0]["status"] == "skipped", runs[0]
    assert runs[1]["status"] == "skipped", runs[1]


# --------------------------------------------------------------------------- class 10
def _reports(marker: str):
    from flows.reports.model import PartnerReport

    month = dt.date(2025, 1, 1)
    rows = pd.DataFrame({"site_id": [SITE], "marker": [marker]})
    return [PartnerReport(partner=p, slug=p.lower(), month=month, sites=(), rows=rows,
                          simulated=True, versions="t", html=f"<p>{marker} {p}</p>",
                          pdf=f"%PDF {marker} {p}".encode()) for p in ("Alpha", "Beta")]


def _writer(out: str, marker: str, n: int, errors) -> None:
    from flows.reports.model import ReportError
    from flows.reports.render import write_reports

    for i in range(n):
        try:
            write_reports(out, dt.date(2025, 1, 1), _reports(f"{marker}-{i}"))
        except ReportError as exc:
            errors.put(f"{marker}-{i}: {exc}")


def test_reports_of_one_month_written_at_once_never_collide(tmp_path):
    out = tmp_path / "out"
    (out / "reports").mkdir(parents=True)
    # what killed writers leave: an old folder, a temp folder of a process long gone
    (out / "reports" / ".2025-01.old-0123456789ab").mkdir()
    (out / "reports" / ".2025-01.tmp-999999999-0123456789ab" / "alpha").mkdir(parents=True)
    ctx = multiprocessing.get_context("spawn")  # a fork of a process with threads can hang
    errors = ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(str(out), f"w{k}", 12, errors))
               for k in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    assert all(w.exitcode == 0 for w in writers)
    failed = []
    while not errors.empty():
        failed.append(errors.get())
    assert failed == [], failed[:5]
    left = sorted(p.name for p in (out / "reports").iterdir())
    assert left == ["2025-01"], left
    final = out / "reports" / "2025-01"
    markers = set()
    for slug in ("alpha", "beta"):  # each partner's files are one writer's, whole
        html = (final / slug / f"{slug}-2025-01.html").read_text()
        pdf = (final / slug / f"{slug}-2025-01.pdf").read_bytes().decode()
        csv = (final / slug / f"{slug}-2025-01.csv").read_text()
        marker = html.split()[0].removeprefix("<p>")
        assert marker in pdf and marker in csv
        markers.add(marker)
    assert len(markers) == 1  # both partners from the same write
