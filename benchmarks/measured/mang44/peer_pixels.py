"""Pixel by pixel: where the peer (benchmarks/peer.py) and bluecarbon differ on the peer
test's small job (tests/test_peer_benchmark.py: 600 px, 12 scenes), final month.

    PYTHONPATH=$PWD:$PWD/tests:$PWD/benchmarks python benchmarks/measured/mang44/peer_pixels.py OUT.npz

Writes the per-pixel arrays of both (npz) and prints a JSON summary of the differing pixels:
their count, whether filled, their context on each side, the baseline code on each side,
the months' codes and scores there.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

import dask  # noqa: E402
import peer  # noqa: E402
import synthetic  # noqa: E402
import whole_job  # noqa: E402
import xarray as xr  # noqa: E402

from aoi import load_sites, site_grid, site_mask  # noqa: E402
from flows.site import load_range, site_tables  # noqa: E402
from flows.site.evidence import site_evidence_of  # noqa: E402
from flows.sources.stac import StacSource  # noqa: E402
from indices.summary import monthly_inputs  # noqa: E402

SITE_PX, SCENES = 600, 12


def main(out: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="peerpx"))
    catalog = whole_job.static_catalog(root / "cache", SITE_PX, SCENES, log=None)
    sites = whole_job.sites_file(root, SITE_PX)
    (site,) = load_sites(sites)
    source = StacSource(str(catalog))
    end = synthetic.scene_dates(SCENES)[1]
    scenes = source.search(site, *load_range(site, None, end))
    tables = site_tables(site, source, scenes, start=None, end=end, run_id="diag",
                         products=True)
    last = tables.change.sort_values("period").iloc[-1]
    change_map = np.asarray(tables.maps["change"].isel(period=-1).transpose("y", "x").values)
    # bluecarbon's evidence and scores, as the walk reads them
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    cube = source.load(site, scenes, chunks=1024)
    got = site_evidence_of(site, cube, grid, mask, keep_base=True)
    ev = got.evidence
    inputs = monthly_inputs(cube, mask, "mangrove",
                            baseline=(site.baseline_start, site.baseline_end), evidence=ev,
                            base=got.base)
    scores, base_score, n_clear = dask.compute(
        inputs.scores.transpose("period", "y", "x"), inputs.base_score.transpose("y", "x"),
        inputs.n_clear.transpose("period", "y", "x"))
    fill_off = ev.fill.offsets() if ev.fill is not None else np.zeros(mask.shape, np.int8)

    feature = json.loads(sites.read_text())["features"][0]
    items = peer.read_items(str(catalog))
    keep: dict = {}
    table, _ = peer.site_change(items, feature, median="numpy", chunks=2048, end=end,
                                keep=keep)
    plast = table.iloc[-1]
    b_gain = change_map == 2
    p_gain = keep["gain"]
    b_loss, p_loss = change_map == 3, keep["loss"]
    diff = b_gain != p_gain
    ys, xs = np.nonzero(diff)
    px = []
    for y, x in zip(ys[:80], xs[:80], strict=True):
        px.append({
            "yx": [int(y), int(x)], "bc_gain": bool(b_gain[y, x]), "peer_gain": bool(p_gain[y, x]),
            "filled_bc": int(fill_off[y, x]), "unseen_peer": bool(keep["unseen"][y, x]),
            "ctx_bc": int(np.asarray(ev.context)[y, x]), "ctx_peer": int(keep["context"][y, x]),
            "base_score_bc": round(float(base_score[y, x]), 3),
            "base_code_peer": int(keep["base_codes"][y, x]),
            "scores_bc": [round(float(v), 2) for v in np.asarray(scores)[:, y, x]],
            "codes_peer": [int(v) for v in keep["monthly_codes"][:, y, x]],
            "views_bc": [int(v) for v in np.asarray(n_clear)[:, y, x]],
        })
    summary = {
        "bluecarbon": {k: float(last[k]) for k in whole_job.AREAS},
        "peer": {k: float(plast[k]) for k in whole_job.AREAS},
        "grid_same": list(change_map.shape) == list(keep["gain"].shape),
        "gain_px": [int(b_gain.sum()), int(p_gain.sum())],
        "loss_px": [int(b_loss.sum()), int(p_loss.sum())],
        "gain_differ_px": int(diff.sum()), "loss_differ_px": int((b_loss != p_loss).sum()),
        "context_differ_px": int((np.asarray(ev.context) != keep["context"]).sum()),
        "values_bc": [float(v) for v in ev.params.values] if ev.params is not None else None,
        "values_peer": [float(v) for v in keep["values"]],
        "fill": ev.fill.summary() if ev.fill is not None else None,
        "differing_pixels_filled_bc": int((diff & (fill_off != 0)).sum()),
        "differing_pixels_unseen_peer": int((diff & keep["unseen"]).sum()),
        "pixels": px,
    }
    np.savez_compressed(out, change_bc=change_map, gain_peer=p_gain, loss_peer=p_loss,
                        ctx_bc=np.asarray(ev.context), ctx_peer=keep["context"],
                        fill_off=fill_off, unseen_peer=keep["unseen"],
                        scores_bc=np.asarray(scores), base_score_bc=np.asarray(base_score),
                        codes_peer=keep["monthly_codes"], base_codes_peer=keep["base_codes"],
                        n_clear_bc=np.asarray(n_clear))
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
