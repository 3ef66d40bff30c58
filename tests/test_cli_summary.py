"""The results table ``bluecarbon run`` prints at its end (``RunDisplay.finish``): the latest
month of each of the run's sites, read one site's partition at a time (issue 22: not every
site the store holds), a broken partition shown as unreadable without hiding the others."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
from rich.console import Console

from aoi import parse_sites
from flows.config import RunConfig
from flows.results import store
from flows.runtime import display as display_module
from flows.runtime.display import RunDisplay


def _sites(ids: list[str]):
    features = [{"type": "Feature", "properties": {
        "id": i, "name": i, "habitat": "mangrove", "baseline_start": "2023-01-01",
        "baseline_end": "2023-06-30"}, "geometry": {"type": "Polygon", "coordinates": [[
            [100.0, 10.0], [100.01, 10.0], [100.01, 10.01], [100.0, 10.01], [100.0, 10.0]]]}}
        for i in ids]
    return parse_sites({"type": "FeatureCollection", "features": features})


def _rows(site_id: str, rng: np.random.Generator, months: int) -> pd.DataFrame:
    """``months`` change rows of random values, written out of period order."""
    frame = store.read_table("/nonexistent", "change").iloc[:0]
    rows = []
    for m in rng.permutation(months):
        rows.append({c: None for c in frame.columns} | {
            "site_id": site_id, "habitat": "mangrove", "period": dt.date(2024, 1 + m, 1),
            "processing_version": "x", "run_id": "r",
            **{c: float(rng.uniform(0, 500)) for c in (
                "baseline_extent_ha", "extent_ha", "extent_ci_low_ha", "extent_ci_high_ha",
                "gain_ha", "loss_ha")},
            "valid_fraction": float(rng.uniform())})
    return pd.DataFrame(rows)


def test_the_summary_shows_each_run_sites_latest_month_and_reads_only_those(
        tmp_path, monkeypatch):
    seed = int(np.random.SeedSequence().entropy % 2**32)
    print("seed", seed)
    rng = np.random.default_rng(seed)
    out = tmp_path / "results"
    written = {s: _rows(s, rng, 5) for s in ("site-a", "site-b", "other-site")}
    for rows in written.values():
        store.write_rows(out, "change", rows)
    # site-b's partition broken: shown unreadable, site-a still shown
    part = store.partition_path(out, "change", "site-b")
    part.write_bytes(b"not parquet")
    reads = []
    real = display_module.read_table
    monkeypatch.setattr(display_module, "read_table",
                        lambda root, table, site_id=None, **kw:
                        reads.append(site_id) or real(root, table, site_id, **kw))
    monkeypatch.setattr(display_module, "make_console",
                        lambda **kw: Console(file=shown, width=200, color_system=None))
    shown = io.StringIO()
    sites = _sites(["site-a", "site-b", "site-c"])  # site-c: no rows stored
    display = RunDisplay(sites, RunConfig(out=out), console=Console(file=io.StringIO()))
    display.finish(seconds=1.0)
    lines = shown.getvalue().splitlines()
    assert reads == ["site-a", "site-b", "site-c"]  # never the whole table, nor other-site
    last = written["site-a"].sort_values("period").iloc[-1]  # independent of the display
    expected = [f"{pd.Timestamp(last['period']):%Y-%m}", f"{100 * last['valid_fraction']:.0f}",
                f"{last['baseline_extent_ha']:.1f}", f"{last['extent_ha']:.1f}",
                f"{last['extent_ci_low_ha']:.1f}-{last['extent_ci_high_ha']:.1f}",
                f"{last['gain_ha']:.1f}", f"{last['loss_ha']:.1f}"]
    row_a = next(line for line in lines if "site-a" in line)
    assert [c.strip() for c in row_a.strip("│ ").split("│")][2:] == expected
    assert "unreadable" in next(line for line in lines if "site-b" in line)
    row_c = next(line for line in lines if "site-c" in line)
    assert [c.strip() for c in row_c.strip("│ ").split("│")][2:] == ["-"] * 7
    assert not any("other-site" in line for line in lines)
