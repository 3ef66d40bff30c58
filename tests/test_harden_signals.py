"""Hardening (issue 20, class 5): Ctrl-C stops a run within seconds, in one line, as SIGTERM
does, whether it reaches the command alone or its whole process group (what a terminal
sends). Before: hundreds of lines and tens of tracebacks while the site threads finished every
remaining site (SIGINT to the process), and no exit within 90 s (to the group).

Real processes, really interrupted, while sites are being computed: a plain run (no Prefect,
what ``bluecarbon run`` does by default) given SIGINT, and a run as a Prefect flow on the
temporary API the command starts (``--prefect``) whose whole group is given SIGINT: the API
server, in a session of its own, must be stopped by the command, never left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from strategies import coastal_sites
from test_crash_safety import Lines, cli_env, prefect_template

from flows.results import store

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(("to_group", "prefect"), [(False, False), (True, True)],
                         ids=["process-plain", "process-group-prefect"])
def test_ctrl_c_stops_a_run_within_seconds_in_one_line(to_group, prefect, tmp_path,
                                                       tmp_path_factory):
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps(coastal_sites(8, seed=1, baseline=("2025-01-01", "2025-01-15"))))
    out = tmp_path / "out"
    env = cli_env(prefect_template(tmp_path_factory), tmp_path / "home")
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--sites", str(sites),
                             "--out", str(out), "--end", "2025-06-30",
                             *(["--prefect"] if prefect else [])], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    err = Lines(proc.stderr)
    try:
        first = err.wait_for(lambda ln: ln.startswith("done"), 300)
        assert first, err.text[-3000:]
        family = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        t0 = time.monotonic()
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = err.text
    after = text.split(first, 1)[1]
    said = [ln for ln in after.splitlines() if ln.strip() and "━" not in ln]
    print(f"\nSIGINT to the {'group' if to_group else 'process'}: exit {code} in {took:.1f} s,"
          f" {len(said)} line(s) after it: {said}")
    assert code == 130, text[-3000:]
    assert took < 10, took
    assert "Traceback" not in after
    assert len(said) <= 3 and any("interrupted (Ctrl-C)" in ln for ln in said), said
    time.sleep(1)
    alive = [p for p in family if psutil.pid_exists(p) and
             psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], "processes of the run outlived it"
    # what was written is whole: every table readable (crash safety proves more)
    for table in ("observations", "change"):
        store.read_table(out, table)
