"""The benchmark command runs end to end: every section, every result checked against its
reference inside the run (a wrong result exits non-zero), every target printed, the JSON
written. Tiny inputs (``--smoke``): this checks the command, not the performance targets."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_benchmark_smoke_run(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--cache", str(tmp_path / "cogs"),
         "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert set(summary) == {"tile", "indices", "median", "cog"}
    for section, key in [("indices", "ratio_index_px_vs_xrs_ndvi"),
                         ("indices", "ratio_index_px_vs_xrs_l2a_ndvi"),
                         ("indices", "input_fraction_of_copy"),
                         ("indices", "ratio_vs_spyndex"),
                         ("median", "ratio_ours_vs_dask_bn"),
                         ("cog", "ratio_read_indices_vs_decode_only"),
                         ("cog", "ratio_scene_statistics_vs_decode_only"),
                         ("tile", "max_peak_rss_gib")]:
        value = summary[section][key]
        assert math.isfinite(value) and value > 0, (section, key, value)
    # an in-kernel reduction beats plain numpy at any size
    assert summary["indices"]["ratio_vs_numpy"] > 1
    run = summary["tile"]["runs"]["1026x2"]
    assert "error" not in run and run["peak_rss_gib"] < 2.5
    targets = proc.stdout.split("\ntargets:\n", 1)[1]
    assert "12x xarray-spatial" in targets and "peak RSS < 2.5 GiB" in targets
    assert report["machine"]["versions"]["numba"]
