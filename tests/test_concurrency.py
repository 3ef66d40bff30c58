"""Two runs over one results folder at once (the nightly schedule overlapping a manual run):
nothing corrupted or duplicated, and the second run says what it waited for.

:mod:`flows.results.lock` is tested on its own with real processes (a holder that is SIGKILLed
releases it; ``wait=False`` refuses in one line naming the holder), then through the command
line: run A is frozen (SIGSTOP) while it holds the folder, run B is started and must say
``waiting for run <A's id> (pid <A's pid> ...) holding <out>``; A is resumed; both exit 0, every
row is A's (B found nothing left to do and rewrote nothing), no key twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from strategies import coastal_sites
from test_crash_safety import (
    Lines,
    cli_env,
    kill_group,
    prefect_template,
    snapshot,
    start_cli,
    temp_files,
)

from flows.results import store
from flows.results.lock import LOCK_FILE, RunLocked, read_holder, run_lock

REPO = Path(__file__).resolve().parents[1]


def _holder_process(out: Path, run_id: str) -> subprocess.Popen:
    """A process that takes the run lock of ``out``, says so, and sleeps."""
    code = textwrap.dedent(f"""
        import sys, time
        from flows.results.lock import run_lock
        with run_lock({str(out)!r}, {run_id!r}):
            print("held", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_names_its_holder_and_dies_with_it(tmp_path):
    out = tmp_path / "results"
    holder = _holder_process(out, "nightly-0001")
    try:
        with pytest.raises(RunLocked) as exc, run_lock(out, "manual-0002", wait=False):
            pass
        message = str(exc.value)
        assert message.splitlines() == [message]
        assert f"run nightly-0001 (pid {holder.pid} on " in message
        assert message.endswith(f"holds {out}; not started")
        assert read_holder(out).run_id == "nightly-0001"
        holder.send_signal(signal.SIGKILL)  # a crashed holder: the kernel releases its lock
        holder.wait(10)
        t0 = time.monotonic()
        with run_lock(out, "manual-0002", wait=False) as me:
            assert me.pid == os.getpid()
            assert read_holder(out).run_id == "manual-0002"
        assert time.monotonic() - t0 < 2
    finally:
        holder.kill()
        holder.wait(10)


def test_waiting_run_says_for_what_and_gets_the_lock_when_it_is_free(tmp_path):
    out = tmp_path / "results"
    holder = _holder_process(out, "nightly-0003")
    said: list[str] = []

    def release_soon(message: str) -> None:
        said.append(message)
        holder.terminate()  # the holder ends while we wait

    try:
        with run_lock(out, "manual-0004", on_wait=release_soon):
            assert read_holder(out).run_id == "manual-0004"
    finally:
        holder.kill()
        holder.wait(10)
    assert len(said) == 1
    assert said[0].startswith(f"waiting for run nightly-0003 (pid {holder.pid} on ")
    assert said[0].endswith(f"holding {out}")
    assert (out / LOCK_FILE).is_file() and not any(p.name != LOCK_FILE for p in out.iterdir())


def test_free_lock_is_taken_at_once_and_left_reusable(tmp_path):
    out = tmp_path / "deep" / "results"  # created on demand
    for n in range(3):
        with run_lock(out, f"run-{n}", wait=False) as me:
            assert me.run_id == f"run-{n}"
    assert read_holder(out).run_id == "run-2"
    assert read_holder(tmp_path / "nowhere") is None


def _wait_for_holder(out: Path, proc: subprocess.Popen, stderr: Lines, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = read_holder(out)
        if holder is not None and holder.pid == proc.pid:
            return holder
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail("run A never took the results folder's run lock (is flows.results.lock.run_lock "
                f"wired into monitor_sites?); its stderr:\n{stderr.text[-2000:]}")


@pytest.mark.slow
def test_overlapping_cli_runs_wait_and_neither_corrupts_nor_duplicates(tmp_path,
                                                                       tmp_path_factory):
    template = prefect_template(tmp_path_factory)
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps(coastal_sites(3, seed=11, prefix="overlap",
                                              baseline=("2025-01-01", "2025-01-15"))))
    out = tmp_path / "results"
    args = ("run", "--sites", str(sites), "--out", str(out), "--start", "2025-01-16",
            "--end", "2025-02-28")
    a = start_cli(*args, env=cli_env(template, tmp_path / "home-a"))
    a_err = Lines(a.stderr)
    b = None
    try:
        holder = _wait_for_holder(out, a, a_err, timeout=240)
        os.kill(a.pid, signal.SIGSTOP)  # A holds the folder and stays put
        b = start_cli(*args, env=cli_env(template, tmp_path / "home-b"))
        b_err = Lines(b.stderr)
        line = b_err.wait_for(lambda s: "waiting for run" in s, timeout=240)
        assert line, f"run B did not say it was waiting:\n{b_err.text[-3000:]}"
        assert f"waiting for run {holder.run_id} (pid {a.pid} on " in line, line
        assert f"holding {out}" in line, line
        assert b.poll() is None, "run B must wait for A, not end"
        os.kill(a.pid, signal.SIGCONT)
        assert a.wait(300) == 0, a_err.text[-3000:]
        assert b.wait(300) == 0, b_err.text[-3000:]
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                kill_group(proc)
    records = {r["run_id"]: r for r in (json.loads(p.read_text())
                                        for p in (out / "runs").glob("*.json"))}
    assert holder.run_id in records and len(records) == 2, records
    (b_id,) = set(records) - {holder.run_id}
    assert records[holder.run_id]["status"] == records[b_id]["status"] == "completed"
    assert all(s["status"] == "processed" for s in records[holder.run_id]["sites"].values())
    waited = records[b_id]["waited_for"]  # the record says it too
    assert waited and waited.startswith(f"waiting for run {holder.run_id} ") and waited in line
    assert records[holder.run_id]["waited_for"] is None
    # B found A's work done: it skipped every site and wrote nothing
    assert all(s["status"] == "skipped" for s in records[b_id]["sites"].values()), records[b_id]
    snapshot(out)  # readable by every reader, no duplicate key
    for table in ("observations", "change"):
        rows = store.read_table(out, table)
        assert len(rows) and set(rows["run_id"]) == {holder.run_id}, table
    assert temp_files(out) == []
