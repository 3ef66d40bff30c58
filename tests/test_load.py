"""Load: many sites in one nightly run, with per-site progress, within memory, and no growth of
open files or memory from site to site.

``bluecarbon run`` on ``BLUECARBON_LOAD_SITES`` generated sites (default 30, ~1.5 min on 2
cores; ``BLUECARBON_LOAD_SITES=200`` or ``python benchmarks/load_sites.py --sites 200``, ~6 min,
is the 200-site night whose numbers the README quotes) with the demo source, sampled with
psutil at every per-site progress line (see benchmarks/load_sites.py). Asserted: one progress
line per site, every site's rows stored, open file descriptors and threads flat, resident
memory growing by less than 1.5 MB a site over the second half of the run and far below the
machine's memory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
from pathlib import Path

import pytest
from test_crash_safety import cli_env, prefect_template

from flows.results import store

REPO = Path(__file__).resolve().parents[1]
N_SITES = int(os.environ.get("BLUECARBON_LOAD_SITES", "30"))


def _bench():
    spec = importlib.util.spec_from_file_location("load_sites", REPO / "benchmarks" /
                                                  "load_sites.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_many_sites_in_one_run_flat_handles_and_memory(tmp_path, tmp_path_factory):
    bench = _bench()
    sites = bench.sites_file(tmp_path, N_SITES)
    out = tmp_path / "results"
    env = cli_env(prefect_template(tmp_path_factory), tmp_path / "prefect-home")
    run = bench.run_cli(sites, out, env, timeout=3600)
    summary = bench.summarise(run, N_SITES)
    print("\n" + json.dumps(summary, indent=1))
    assert run["returncode"] == 0, run["stderr"][-3000:]

    # per-site progress: one line per site as it is done (sites run a few at a time, so lines
    # may come out of file order)
    ids = [f["properties"]["id"] for f in json.loads(sites.read_text())["features"]]
    assert sorted(s["site"] for s in run["samples"] if s["kind"] == "done") == sorted(ids)
    times = [s["t"] for s in run["samples"] if s["kind"] == "done"]
    # as the run goes, not at its end: the middle line comes well before the last, measured
    # from the first line (start-up, which a busy machine stretches, is not the sites' work)
    first, last = times[0], times[-1]
    assert times[len(times) // 2] < last - 0.2 * (last - first), times
    (record,) = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    assert record["status"] == "completed" and len(record["sites"]) == N_SITES
    obs = store.read_table(out, "observations")
    assert set(obs["site_id"]) == set(ids)
    assert not obs.duplicated(["site_id", "scene_id"]).any()

    # open files: flat (two sites are in flight at once, each may hold a file or two open
    # when another reports done; a leaked handle per site would add one per site)
    done = [s for s in run["samples"] if s["kind"] == "done"]
    third = max(1, len(done) // 3)
    fds = [s["fds"] for s in done]
    assert statistics.median(fds[-third:]) - statistics.median(fds[:third]) <= 1, fds
    assert max(fds) <= statistics.median(fds[:third]) + 6, fds
    # growth only: handles closed as the run goes are no leak (CI once saw 14 -> 13 over the
    # second half, a slope of -0.12 a site with 15 sites)
    assert summary["fds_per_site_2nd_half"] < 0.1, fds
    # threads: flat once warm. Each site thread's dask pool starts its workers as tasks come
    # (up to one a core), so the first sites ramp up (e.g. 26 -> 34 over sites 1-10, then 34
    # to the end); a thread leaked per site would add ten between the middle and last thirds
    threads = [s["threads"] for s in done]
    middle = threads[third:-third] or threads
    assert statistics.median(threads[-third:]) - statistics.median(middle) <= 2, threads
    # memory: bounded, and not growing with the number of sites (the first sites warm caches
    # up: growth slows to ~0.5 MB a site by site 30 and ~0.1 by site 200, see README)
    rss = [round(s["rss_mb"]) for s in done]
    assert summary["rss_mb_peak"] < min(4096, 0.4 * summary["machine_ram_mb"]), rss
    assert summary["rss_mb_per_site_2nd_half"] < 1.5, rss
    assert summary["children_rss_mb_last"] - summary["children_rss_mb_first"] < 100
