"""The whole job against its peer (issue 22): ``bluecarbon run`` on one mangrove site from a
static STAC catalog of COGs, against the same site through odc-stac + xarray + scipy
(:mod:`benchmarks.peer`), in one run, on the same COGs.

    python -m benchmarks.whole_job [--sizes 400,2000,tile] [--rounds 3] [--json FILE]
                                   [--cache DIR] [--skip materialised,tile-paths] [--smoke]
    python -m benchmarks.whole_job --only materialised [--rounds 5] [--json FILE]

Sections:

``job``           per site size (``--sizes``: 400 and 2000 px, 24 monthly scenes; ``tile``:
                  a whole 10980² tile, 12 scenes), a static STAC catalog (pystac,
                  self-contained) of the synthetic COGs of :mod:`benchmarks.synthetic` with a
                  changing landscape (gains and losses to measure), a sites file with the one
                  site, then three contenders, each a fresh subprocess timed from start to
                  exit: ``bluecarbon run --source stac`` (every output: observation and change
                  rows, alerts, maps, run record; Prefect's temporary API server included),
                  the peer with numpy's nanmedian and the peer with bottleneck's. One
                  untimed warm-up of each on the smallest size; then ``--rounds`` rounds whose
                  order rotates; medians. Peak RSS of the whole process tree (the sum over
                  the process and its children, sampled every 50 ms with psutil). The final
                  month's extent, gain and loss of each peer must be bluecarbon's within 1 %
                  (else the run stops with an error). On the tile, each contender runs
                  ``--tile-rounds`` times (default 1), the numpy peer only if asked
                  (``--tile-contenders``: est. 20-30 min there); ``--contenders`` for the others.
                  ``bluecarbon@DIR`` is bluecarbon from the source tree ``DIR`` (e.g. a
                  ``git archive`` of main): before and after, interleaved in the same run.
``materialised``  ``compute_indices`` layers then xarray sums (as notebooks do) against
                  xarray-spatial's NDVI, per index-pixel, on the 8192² in-memory cube of
                  :mod:`benchmarks.run` (``--smoke``: 1024²).
``tile-paths``    (with ``tile`` in ``--sizes``) the whole tile's site computation
                  (``flows.site.site_tables`` with products, maps written) against its
                  observation path (``scene_statistics``), fresh processes, as
                  ``benchmarks.run``'s tile section runs them, on the same COGs.

Prints the ratios and issue 22's targets (PASS/FAIL); ``--json`` writes every measurement.
The machine is shared: compare ratios of one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

import synthetic  # noqa: E402
from job_runs import (  # noqa: E402, F401  (re-exported: the tests and profile_job use them)
    AGREEMENT,
    AREAS,
    BASELINE,
    CONTENDERS,
    SCENES,
    TILE,
    agreement,
    command,
    contender_env,
    environment,
    final_month,
    sites_file,
    static_catalog,
    tile_size,
    watched,
)


# -- section: the whole job ----------------------------------------------------------------
def _describe(res: dict) -> str:
    if "error" in res:
        return f"FAILED: {res['error']}"
    final = res.get("final", {})
    return (f"{res['seconds']:7.1f} s ({res.get('cpu_seconds', float('nan')):.1f} CPU s), peak RSS {res['peak_rss'] / 2**30:5.2f} GiB (main "
            f"{res['peak_rss_main'] / 2**30:.2f}, children {res['peak_rss_children'] / 2**30:.2f}); "
            f"{final.get('period')}: extent {final.get('extent_ha', float('nan')):.1f} ha, "
            f"gain {final.get('gain_ha', float('nan')):.1f}, "
            f"loss {final.get('loss_ha', float('nan')):.1f}")


def run_contender(contender: str, inputs: dict, work: Path, env: dict, rss_limit: float,
                  tag: str) -> dict:
    """One run of ``contender`` into a fresh results folder (removed after reading it)."""
    out = work / f"out-{tag}-{contender}"
    shutil.rmtree(out, ignore_errors=True)
    res = watched(command(contender, inputs["catalog"], inputs["sites"], out, inputs["end"]),
                  env=contender_env(contender, env), cwd=work, rss_limit=rss_limit)
    if "error" not in res:
        res["final"] = final_month(contender, out, inputs["site_id"])
        if not contender.startswith("bluecarbon"):
            with contextlib.suppress(ValueError, IndexError):
                res["peer_report"] = json.loads(res["stdout"].strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    return res


def prepare(cache: Path, work: Path, site_px: int, n_scenes: int, log=print) -> dict:
    catalog = static_catalog(cache, site_px, n_scenes, log=log)
    return {"site_px": site_px, "scenes": n_scenes, "catalog": catalog,
            "sites": sites_file(work, site_px), "site_id": f"bench-{site_px}",
            "end": synthetic.scene_dates(n_scenes)[1]}


def summarise_size(runs: dict[str, list[dict]]) -> dict:
    """Medians per contender, bluecarbon's speed-up over each peer and its RSS over theirs."""
    out: dict = {}
    for c, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            out[c] = {"error": rs[0].get("error") if rs else "not run"}
            continue
        out[c] = {"median_s": statistics.median(r["seconds"] for r in ok),
                  "min_s": min(r["seconds"] for r in ok), "max_s": max(r["seconds"] for r in ok),
                  "median_cpu_s": statistics.median(r.get("cpu_seconds", float("nan"))
                                                    for r in ok),
                  "peak_rss_gib": statistics.median(r["peak_rss"] for r in ok) / 2**30,
                  "peak_rss_main_gib": statistics.median(r["peak_rss_main"] for r in ok) / 2**30,
                  "peak_rss_children_gib": statistics.median(r["peak_rss_children"]
                                                             for r in ok) / 2**30,
                  "rounds": len(ok), "final": ok[0]["final"]}
    bc = out.get("bluecarbon", {})
    for peer in ("peer-numpy", "peer-bottleneck"):
        p = out.get(peer, {})
        if "median_s" in bc and "median_s" in p:
            key = peer.replace("-", "_")
            out[f"speedup_vs_{key}"] = p["median_s"] / bc["median_s"]
            out[f"cpu_ratio_vs_{key}"] = p["median_cpu_s"] / bc["median_cpu_s"]
            out[f"rss_ratio_vs_{key}"] = bc["peak_rss_gib"] / p["peak_rss_gib"]
            out[f"agreement_{key}"] = agreement(bc["final"], p["final"])
    return out


def bench_job(cache: Path, work: Path, sizes: list[str], *, rounds: int, tile_rounds: int,
              contenders: tuple[str, ...], tile_contenders: tuple[str, ...], rss_limit: float,
              small_scenes: int, warm_px: int, log=print) -> dict:
    env = environment(cache)
    plan = {}
    for size in sizes:  # write every input first: no run pays for writing
        px, n = (TILE, SCENES["tile"]) if size == "tile" else (int(size), small_scenes)
        plan[size] = prepare(cache, work, px, n, log=log)
    warm = prepare(cache, work, warm_px, small_scenes, log=log)
    log(f"  warm-up on {warm_px}² x {small_scenes} (Prefect's database, numba's caches, page "
        f"cache; untimed) ...")
    warmup = {}
    for c in dict.fromkeys(contenders + tile_contenders):
        warmup[c] = run_contender(c, warm, work, env, rss_limit, "warmup")
        log(f"    {c:<16} {_describe(warmup[c])}")
        if "error" in warmup[c]:
            raise SystemExit(f"whole_job: {c} failed in the warm-up:\n{warmup[c]['stderr']}")
    report: dict = {"warmup": _strip(warmup), "sizes": {}}
    for size, inputs in plan.items():
        these = tile_contenders if size == "tile" else contenders
        n_rounds = tile_rounds if size == "tile" else rounds
        log(f"\n  site {inputs['site_px']}² px x {inputs['scenes']} scenes "
            f"({n_rounds} rounds, order rotated) ...")
        runs: dict[str, list[dict]] = {c: [] for c in these}
        for r in range(n_rounds):
            order = these[r % len(these):] + these[:r % len(these)]
            for c in order:
                res = run_contender(c, inputs, work, env, rss_limit, f"{size}-{r}")
                runs[c].append(res)
                log(f"    round {r + 1} {c:<16} {_describe(res)}")
        summary = summarise_size(runs)
        for peer in ("peer_numpy", "peer_bottleneck"):
            agree = summary.get(f"agreement_{peer}")
            if agree is not None and not agree["ok"]:
                raise SystemExit(f"whole_job: {peer} disagrees with bluecarbon at {size}: "
                                 f"{summary['bluecarbon']['final']} vs "
                                 f"{summary[peer.replace('_', '-')]['final']}")
        report["sizes"][size] = {"site_px": inputs["site_px"], "scenes": inputs["scenes"],
                                 "summary": summary, "runs": {c: _strip(dict(enumerate(rs)))
                                                              for c, rs in runs.items()}}
        _log_summary(size, summary, log)
    return report


def _strip(runs: dict) -> dict:
    """Runs without their long stdout/stderr (kept: the last lines, for failures)."""
    return {k: {kk: (vv[-600:] if kk in ("stdout", "stderr") else vv) for kk, vv in v.items()}
            for k, v in runs.items()}


def _log_summary(size: str, s: dict, log=print) -> None:
    for c in [k for k in s if isinstance(s[k], dict) and "median_s" in s[k]]:
            log(f"    {c:<16} median {s[c]['median_s']:7.1f} s (min {s[c]['min_s']:.1f}, max "
                f"{s[c]['max_s']:.1f}; {s[c]['median_cpu_s']:.1f} CPU s), peak RSS "
                f"{s[c]['peak_rss_gib']:.2f} GiB (children {s[c]['peak_rss_children_gib']:.2f})")
    for peer in ("peer_numpy", "peer_bottleneck"):
        if f"speedup_vs_{peer}" in s:
            rel = s[f"agreement_{peer}"]["relative"]
            log(f"    bluecarbon vs {peer}: speed-up {s[f'speedup_vs_{peer}']:.2f}x (the peer's "
                f"time over bluecarbon's; in CPU seconds {s[f'cpu_ratio_vs_{peer}']:.2f}x), "
                f"RSS {s[f'rss_ratio_vs_{peer}']:.2f}x the peer's; "
                f"final month areas differ by "
                + ", ".join(f"{k} {v:.2%}" for k, v in rel.items()))
    peer = s.get("peer-bottleneck", {})
    for c in [k for k in s if k.startswith("bluecarbon@") and "median_s" in s[k]]:
        if "median_s" in peer:  # another version of bluecarbon, timed in the same run
            log(f"    {c} vs peer_bottleneck: speed-up {peer['median_s'] / s[c]['median_s']:.2f}x"
                f" (CPU {peer['median_cpu_s'] / s[c]['median_cpu_s']:.2f}x), RSS "
                f"{s[c]['peak_rss_gib'] / peer['peak_rss_gib']:.2f}x the peer's; final month "
                f"{s[c]['final']}")


# -- section: the materialised path ---------------------------------------------------------
def bench_materialised(size: int, rounds: int, log=print) -> dict:
    """``compute_indices`` layers then xarray sums (the 4 indices) against xarray-spatial's
    NDVI + sum on the same cube, per index-pixel: ``benchmarks.run``'s contenders, alone."""
    import dask
    import numba
    import numpy as np
    import run as bench_run
    import xarray as xr
    from xrspatial.multispectral import ndvi as xrs_ndvi

    from indices import compute_indices

    numba.set_num_threads(bench_run.THREADS)
    names = bench_run.NAMES
    with dask.config.set(scheduler="threads", num_workers=bench_run.THREADS):
        log(f"  building a {size}² cube, 2048² chunks ...")
        cube, local = bench_run.memory_cube(size, 2048)

        def layers():
            ix = compute_indices(cube, names)
            return dask.compute(*[ix[n].sum() for n in names])

        def xrs():
            nir = xr.DataArray(cube["B08"].data[0], dims=("y", "x"))
            red = xr.DataArray(cube["B04"].data[0], dims=("y", "x"))
            return xrs_ndvi(nir, red).sum().compute()

        def l2a(b):
            dn = xr.DataArray(cube[b].data[0], dims=("y", "x"))
            return (dn.astype(np.float32) - np.float32(1000)).where(dn != 0)

        def xrs_l2a():
            return xrs_ndvi(l2a("B08"), l2a("B04")).sum().compute()

        # checked as benchmarks.run checks them: NDVI sums against plain numpy
        from indices.masks import VALID_SCL
        ok = np.isin(local["SCL"], VALID_SCL) & (local["B08"] != 0) & (local["B04"] != 0)
        nir = np.maximum(local["B08"].astype(np.float32) - 1000, 0) * np.float32(1e-4)
        red = np.maximum(local["B04"].astype(np.float32) - 1000, 0) * np.float32(1e-4)
        with np.errstate(divide="ignore", invalid="ignore"):
            want = np.nansum(np.where(ok, (nir - red) / (nir + red), np.nan), dtype=np.float64)
        bench_run._check("compute_indices NDVI sum", float(layers()[0]), want, 1e-4)
        n64, r64 = local["B08"].astype(np.float64), local["B04"].astype(np.float64)
        bench_run._check("xarray-spatial NDVI", float(xrs()), np.sum((n64 - r64) / (n64 + r64)),
                         1e-4)
        del nir, red, ok, n64, r64
        res = bench_run.interleaved({"compute_indices layers + xarray sums (4 indices)": layers,
                                     "xarray-spatial ndvi + sum (raw DN)": xrs,
                                     "xarray-spatial ndvi + sum (L2A offset/nodata first)":
                                         xrs_l2a}, rounds, log=log)
    t = {k: v["median_s"] for k, v in res.items()}
    t_layers = t["compute_indices layers + xarray sums (4 indices)"]
    return {"timings": res, "summary": {
        "size": size, "ratio_index_px_vs_xrs_l2a_ndvi":
            4 * t["xarray-spatial ndvi + sum (L2A offset/nodata first)"] / t_layers,
        "ratio_index_px_vs_xrs_ndvi": 4 * t["xarray-spatial ndvi + sum (raw DN)"] / t_layers,
        "layers_index_mpx_s": 4 * size * size / t_layers / 1e6}}


# -- section: the tile's site computation against its observation path ----------------------
def bench_tile_paths(cache: Path, rss_limit: float, log=print) -> dict:
    import run as bench_run

    n = SCENES["tile"]
    obs = bench_run.child_run(cache, "obs", TILE, n, 2048, rss_limit, change=True)
    log(f"    observations {TILE}² x {n}: {bench_run._describe(obs)}")
    pipe = bench_run.child_run(cache, "pipeline", TILE, n, 1024, rss_limit, change=True)
    log(f"    site computation (observations, monthly change, alerts, maps written) {TILE}² x "
        f"{n}, walk {pipe.get('walk', '?')}: {bench_run._describe(pipe)}")
    ratio = bench_run.pipeline_over_observations(pipe, obs)
    return {"observations": obs, "pipeline": pipe, "summary": {
        "pipeline_over_observations": ratio,
        "pipeline_peak_rss_gib": pipe["peak_rss"] / 2**30 if "peak_rss" in pipe else None,
        "observations_s": obs.get("seconds"), "pipeline_s": pipe.get("seconds"),
        # CPU s (user + system, the measured run's threads): steadier than wall time on a
        # shared machine; cpu_over_wall < the 2 cores' 2.0 is time spent waiting for a CPU
        "observations_cpu_s": obs.get("cpu_s"), "pipeline_cpu_s": pipe.get("cpu_s"),
        "pipeline_over_observations_cpu": (pipe["cpu_s"] / obs["cpu_s"]
                                           if obs.get("cpu_s") and pipe.get("cpu_s") else None),
        "cpu_over_wall": {"observations": obs.get("cpu_over_wall"),
                          "pipeline": pipe.get("cpu_over_wall")}}}


# -- targets and report ----------------------------------------------------------------------
TARGETS = [  # (label, key path in the summary, comparison, threshold)
    ("400 px: bluecarbon run >= 1.5x faster than the bottleneck peer",
     ("job", "400", "speedup_vs_peer_bottleneck"), ">=", 1.5),
    ("400 px: bluecarbon's peak RSS (process tree) <= the bottleneck peer's",
     ("job", "400", "rss_ratio_vs_peer_bottleneck"), "<=", 1.0),
    ("2000 px: bluecarbon run >= 2x faster than the bottleneck peer",
     ("job", "2000", "speedup_vs_peer_bottleneck"), ">=", 2.0),
    ("2000 px: bluecarbon's peak RSS (process tree) <= the bottleneck peer's",
     ("job", "2000", "rss_ratio_vs_peer_bottleneck"), "<=", 1.0),
    ("whole tile: bluecarbon run >= 2x faster than the bottleneck peer",
     ("job", "tile", "speedup_vs_peer_bottleneck"), ">=", 2.0),
    ("whole tile: bluecarbon's peak RSS (process tree) <= the bottleneck peer's",
     ("job", "tile", "rss_ratio_vs_peer_bottleneck"), "<=", 1.0),
    ("materialised: compute_indices + sums >= 5x xarray-spatial NDVI per index-pixel "
     "(xarray-spatial on L2A reflectance)",
     ("materialised", "ratio_index_px_vs_xrs_l2a_ndvi"), ">=", 5.0),
    ("materialised: the same, xarray-spatial on raw DN (no offset, no nodata)",
     ("materialised", "ratio_index_px_vs_xrs_ndvi"), ">=", 5.0),
    ("whole tile: site computation <= 2x its observation path",
     ("tile_paths", "pipeline_over_observations"), "<=", 2.0),
    ("whole tile: site computation peak RSS < 2.5 GiB",
     ("tile_paths", "pipeline_peak_rss_gib"), "<", 2.5),
]


def verdicts(summary: dict) -> list[tuple[str, float | None, bool | None]]:
    out = []
    for label, path, op, threshold in TARGETS:
        value = summary
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        ok = None if value is None else {">=": value >= threshold, "<=": value <= threshold,
                                         "<": value < threshold}[op]
        out.append((label, value, ok))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="issue 22: the whole job against its peer "
                                            "(see the module docstring)")
    p.add_argument("--sizes", default="400,2000,tile",
                   help="site sizes in px, comma-separated, 'tile' for a whole 10980² tile "
                        "(default 400,2000,tile)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per size (default 3)")
    p.add_argument("--tile-rounds", type=int, default=1, help="rounds on the tile (default 1)")
    p.add_argument("--contenders", default=",".join(CONTENDERS),
                   help=f"contenders on the other sizes (default {','.join(CONTENDERS)})")
    p.add_argument("--tile-contenders", default="bluecarbon,peer-bottleneck",
                   help="contenders on the tile (default bluecarbon,peer-bottleneck; the "
                        "numpy peer takes ~20 min there)")
    p.add_argument("--scenes", type=int, default=SCENES["small"],
                   help="monthly scenes of the small sizes (default 24)")
    p.add_argument("--skip", default="", help="sections to skip: materialised, tile-paths")
    p.add_argument("--only", choices=["materialised"],
                   help="run this section alone (no job runs, no COGs): materialised")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "BLUECARBON_BENCH_CACHE", "/tmp/bluecarbon-bench")), help="folder for the COGs")
    p.add_argument("--rss-limit-gib", type=float, default=8.0,
                   help="kill a contender whose process tree passes this (default 8)")
    p.add_argument("--json", type=Path, help="write every measurement to this JSON file")
    p.add_argument("--smoke", action="store_true",
                   help="tiny inputs, 1 round: checks that the command runs (not the targets)")
    args = p.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    rounds, scenes, warm_px, materialised = args.rounds, args.scenes, 400, 8192
    if args.smoke:
        sizes, rounds, scenes, warm_px, materialised = ["96"], 1, 6, 96, 1024
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    bad = [s for s in sizes if s != "tile" and not (s.isdigit() and int(s) >= 6)]
    if bad:
        p.error(f"--sizes takes pixel counts and 'tile', not {bad}")
    contenders = tuple(c.strip() for c in args.contenders.split(",") if c.strip())
    tile_contenders = tuple(c.strip() for c in args.tile_contenders.split(",") if c.strip())
    if not {c.split("@")[0] for c in set(contenders) | set(tile_contenders)} <= set(CONTENDERS):
        p.error(f"--contenders and --tile-contenders take {CONTENDERS} (bluecarbon@DIR: "
                "bluecarbon from the source tree DIR, timed in the same run)")
    limit = args.rss_limit_gib * 2**30
    import run as bench_run

    info = bench_run.machine()
    print(f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['mem_gib']} GiB, "
          f"{info['date']}, load average {info['loadavg_at_start']}")
    report: dict = {"machine": info, "rounds": rounds, "sizes": sizes, "scenes": scenes,
                    "command": " ".join(["python -m benchmarks.whole_job",
                                         *(argv if argv is not None else sys.argv[1:])])}
    summary: dict = {}
    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bluecarbon-whole-job-"))
    try:
        if args.only is None:
            print("\n[job]")
            report["job"] = bench_job(args.cache, work, sizes, rounds=rounds,
                                      tile_rounds=args.tile_rounds, contenders=contenders,
                                      tile_contenders=tile_contenders, rss_limit=limit,
                                      small_scenes=scenes, warm_px=warm_px)
            summary["job"] = {k: v["summary"] for k, v in report["job"]["sizes"].items()}
        if "tile" in sizes and "tile-paths" not in skip and args.only is None:
            print("\n[tile-paths]")
            report["tile_paths"] = bench_tile_paths(args.cache, limit)
            summary["tile_paths"] = report["tile_paths"]["summary"]
        if "materialised" not in skip:
            print("\n[materialised]")
            report["materialised"] = bench_materialised(materialised, rounds)
            summary["materialised"] = report["materialised"]["summary"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["summary"] = summary
    report["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(f"\nsummary ({time.perf_counter() - t_all:.0f} s; load average "
          f"{info['loadavg_at_start']} at the start, {report['loadavg_at_end']} at the end: "
          f"the machine is shared, these figures are noisy; compare ratios of one run)")
    print("\ntargets (issue 22):")
    for label, value, ok in verdicts(summary):
        status = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        if args.smoke and ok is not None:
            status = "(smoke) " + status.lower()
        print(f"  {status}  {label}: {'-' if value is None else f'{value:.3g}'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
