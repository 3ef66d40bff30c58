"""bluecarbon benchmarks: one command, one run, the same inputs for every contender.

    python benchmarks/run.py [--quick] [--json FILE] [--cache DIR] [--skip tile,...]

Sections (each a set of contenders timed on one input, warmed up, then timed in interleaved
rounds whose order rotates; medians reported, every result checked against a reference first):

``indices``   ``compute_indices(cube, ["ndvi", "ndwi", "mndwi", "mvi"])`` reduced to per-index
              sums on a uint16 cube of 8192² (``--quick``: 4096²), 2048² chunks, 2 threads;
              against xarray-spatial's NDVI (dask, same chunks), spyndex (the same 4 indices on
              dask reflectance), plain numpy, and numpy's copy bandwidth measured in the run.
``median``    our median over time and our composite vs dask + bottleneck ``nanmedian``,
              24 x 2048² float32 with 30 % NaN (``--quick``: 12 x 1024²).
``cog``       COG decode: GDAL whole-band reads (one handle per thread) and our windowed reader
              (``StacSource.load``: per-thread handles, 2048² chunks); then read -> indices ->
              per-site sums against decode-only of the same bands.
``tile``      one site covering a whole Sentinel-2 tile (10980², ``--quick``: 2046²) with 3 and
              12 scenes, read from local COGs through ``StacSource`` and reduced to the
              observation table (``indices.summary.scene_statistics``), each run in a fresh
              subprocess: wall time and peak RSS; plus the full ``site_tables`` (observations
              and monthly change) on a one-chunk site with 3/6/12 scenes.

COGs are written once into ``--cache`` (default ``$BLUECARBON_BENCH_CACHE`` or
``/tmp/bluecarbon-bench``); the full tile x 12 needs ~9 GB of disk and ~10 min to write.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import synthetic  # noqa: E402

NAMES = ["ndvi", "ndwi", "mndwi", "mvi"]
THREADS = 2


# -- timing --------------------------------------------------------------------------------
def interleaved(contenders: dict[str, Callable[[], object]], rounds: int, warmup: int = 1,
                log=print) -> dict[str, dict]:
    """Median, min and max seconds of each contender: ``warmup`` untimed calls each, then
    ``rounds`` rounds calling every contender once, in an order rotated every round."""
    names = list(contenders)
    for _ in range(warmup):
        for n in names:
            contenders[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            t0 = time.perf_counter()
            contenders[n]()
            times[n].append(time.perf_counter() - t0)
    out = {n: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v),
               "rounds": len(v)} for n, v in times.items()}
    for n in names:
        log(f"    {n:<34} median {out[n]['median_s'] * 1e3:9.1f} ms "
            f"(min {out[n]['min_s'] * 1e3:.1f}, max {out[n]['max_s'] * 1e3:.1f}, "
            f"{len(times[n])} rounds)")
    return out


def _check(name: str, got, want, rtol: float) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=0, equal_nan=True):
        raise SystemExit(f"benchmark: {name} disagrees with the reference: {got} vs {want}")


# -- inputs --------------------------------------------------------------------------------
def _blocks(arr: np.ndarray, chunk: int, name: str) -> da.Array:
    """A (1, Y, X) dask array whose chunks are separate C-contiguous numpy blocks, as the
    reader delivers them (``da.from_array`` would hand out strided views of one array)."""
    _, h, w = arr.shape
    ys, xs = range(0, h, chunk), range(0, w, chunk)
    dsk = {(name, 0, i, j): np.ascontiguousarray(arr[:, y:y + chunk, x:x + chunk])
           for i, y in enumerate(ys) for j, x in enumerate(xs)}
    chunks = ((1,), tuple(min(chunk, h - y) for y in ys), tuple(min(chunk, w - x) for x in xs))
    return da.Array(dsk, name, chunks, dtype=arr.dtype)


def memory_cube(size: int, chunk: int) -> xr.Dataset:
    """One synthetic scene on a ``size``² 10 m grid (20 m bands replicated, as the reader
    does), uint16 DN with offset -1000 and uint8 SCL, chunked into contiguous blocks."""
    arrays = synthetic.scene_arrays(0, size)
    data = {}
    for band, arr in arrays.items():
        if arr.shape[0] != size:
            arr = np.repeat(np.repeat(arr, 2, 0), 2, 1)[:size, :size]
        data[band] = (("time", "y", "x"), _blocks(arr[np.newaxis], chunk, f"mem-{band}-{size}"))
    coords = {"time": np.array(["2024-01-05T03:30"], "datetime64[ns]"),
              "y": 300_000 - 5 - 10.0 * np.arange(size), "x": 399_965 + 10.0 * np.arange(size),
              "boa_offset": ("time", np.array([-1000], np.int16))}
    return xr.Dataset(data, coords=coords)


# -- section: indices ----------------------------------------------------------------------
def bench_indices(size: int, rounds: int, log=print) -> dict:
    import spyndex
    import xrspatial
    from xrspatial.multispectral import ndvi as xrs_ndvi

    from indices import compute_indices
    from indices.masks import VALID_SCL

    log(f"  building a {size}² cube, 2048² chunks ...")
    cube = memory_cube(size, 2048)
    local = {b: np.concatenate([np.concatenate(
        [cube[b].data.dask[(cube[b].data.name, 0, i, j)] for j in range(size // 2048)], axis=2)
        for i in range(size // 2048)], axis=1)[0] for b in ("B03", "B04", "B08", "B11", "SCL")}
    npx = size * size

    def ours():
        ix = compute_indices(cube, NAMES)
        return dask.compute(*[ix[n].sum(("y", "x")) for n in NAMES])

    def ours_nosum():  # the kernel and its chunk outputs, no reduction: what the sums cost
        stack = compute_indices(cube, NAMES)["ndvi"].data
        return stack.map_blocks(lambda b: np.zeros((1,) * b.ndim, np.float32),
                                chunks=(1,) * stack.ndim).sum().compute()

    def xrs():
        nir = xr.DataArray(cube["B08"].data[0], dims=("y", "x"))
        red = xr.DataArray(cube["B04"].data[0], dims=("y", "x"))
        return xrs_ndvi(nir, red).sum().compute()

    def refl_dask(b):
        dn = cube[b].isel(time=0)
        return ((dn.astype(np.float32) - np.float32(1000)).clip(min=0) * np.float32(1e-4)
                ).where((dn != 0) & cube["SCL"].isel(time=0).isin(VALID_SCL))

    def spy():
        out = spyndex.computeIndex(["NDVI", "NDWI", "MNDWI", "MVI"], params={
            "N": refl_dask("B08"), "R": refl_dask("B04"), "G": refl_dask("B03"),
            "S1": refl_dask("B11")})
        return out.sum(("y", "x")).compute()

    def numpy_plain():
        valid = np.isin(local["SCL"], VALID_SCL)
        r = {}
        for b in ("B03", "B04", "B08", "B11"):
            valid &= local[b] != 0
            r[b] = np.maximum(local[b].astype(np.float32) - np.float32(1000), 0) * np.float32(1e-4)
        g, red, n, s1 = r["B03"], r["B04"], r["B08"], r["B11"]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = [(n - red) / (n + red), (g - n) / (g + n), (g - s1) / (g + s1),
                   np.abs(n - g) / np.abs(s1 - g)]
        return [np.nansum(np.where(valid & np.isfinite(o), o, np.nan), dtype=np.float64)
                for o in out]

    src = np.ones(128 * 2**20, np.float32)  # 512 MB
    dst = np.zeros_like(src)

    def copy():
        np.copyto(dst, src)

    log("  checking results against plain numpy ...")
    want = numpy_plain()
    _check("compute_indices sums", [float(v) for v in ours()], want, 1e-4)
    spy_sums = spy().values
    _check("spyndex NDVI/NDWI/MNDWI", spy_sums[:3], want[:3], 1e-4)
    nir, red = local["B08"].astype(np.float64), local["B04"].astype(np.float64)
    _check("xarray-spatial NDVI", float(xrs()), np.sum((nir - red) / (nir + red)), 1e-4)
    del nir, red
    res = interleaved({"ours (4 indices + sums)": ours, "ours, kernel only (no sums)": ours_nosum,
                       "xarray-spatial ndvi + sum": xrs, "spyndex 4 indices + sums": spy,
                       "numpy 4 indices + sums": numpy_plain, "numpy copy 512 MB": copy},
                      rounds, log=log)
    t = {k: v["median_s"] for k, v in res.items()}
    copy_gbs = 2 * src.nbytes / t["numpy copy 512 MB"] / 1e9  # STREAM: read + written
    in_bytes = npx * (4 * 2 + 1)  # B03 B04 B08 B11 uint16 + SCL uint8
    ours_px = npx / t["ours (4 indices + sums)"]
    xrs_px = npx / t["xarray-spatial ndvi + sum"]
    summary = {
        "size": size, "chunks": 2048, "threads": THREADS, "xarray_spatial": xrspatial.__version__,
        "spyndex": spyndex.__version__,
        "ours_cube_mpx_s": ours_px / 1e6, "ours_index_mpx_s": 4 * ours_px / 1e6,
        "ours_kernel_only_cube_mpx_s": npx / t["ours, kernel only (no sums)"] / 1e6,
        "xrs_ndvi_mpx_s": xrs_px / 1e6,
        "spyndex_index_mpx_s": 4 * npx / t["spyndex 4 indices + sums"] / 1e6,
        "numpy_index_mpx_s": 4 * npx / t["numpy 4 indices + sums"] / 1e6,
        "ratio_index_px_vs_xrs_ndvi": 4 * ours_px / xrs_px,
        "ratio_cube_px_vs_xrs_ndvi": ours_px / xrs_px,
        "ratio_vs_spyndex": t["spyndex 4 indices + sums"] / t["ours (4 indices + sums)"],
        "ratio_vs_numpy": t["numpy 4 indices + sums"] / t["ours (4 indices + sums)"],
        "copy_gb_s": copy_gbs,
        "ours_input_gb_s": in_bytes / t["ours (4 indices + sums)"] / 1e9,
        "ours_kernel_only_input_gb_s": in_bytes / t["ours, kernel only (no sums)"] / 1e9,
    }
    summary["input_fraction_of_copy"] = summary["ours_input_gb_s"] / copy_gbs
    summary["kernel_only_input_fraction_of_copy"] = summary["ours_kernel_only_input_gb_s"] / copy_gbs
    return {"timings": res, "summary": summary}


# -- section: median -----------------------------------------------------------------------
def bench_median(n_t: int, size: int, rounds: int, log=print) -> dict:
    import bottleneck as bn

    from indices.composite import composite, median_over_time

    rng = np.random.default_rng(1)
    arr = rng.random((n_t, size, size), dtype=np.float32)
    arr[rng.random(arr.shape) < 0.3] = np.nan
    stack = da.from_array(arr, chunks=(n_t, 256, size))

    def ours():
        return median_over_time(arr)

    def dask_bn():
        return stack.map_blocks(bn.nanmedian, axis=0, drop_axis=0, dtype=np.float32).compute()

    # a DN cube of n_t scenes for the real composite: 6 bands + SCL, 30 % not clear
    dn = (rng.integers(1100, 4000, (n_t, size, size), dtype=np.uint16))
    scl = np.where(rng.random((n_t, size, size)) < 0.3, 9, 4).astype(np.uint8)
    cube = xr.Dataset(
        {b: (("time", "y", "x"), da.concatenate([_blocks(dn[t:t + 1], 2048, f"c{b}{t}")
                                                 for t in range(n_t)]))
         for b in ("B02", "B03", "B04", "B08", "B11", "B12")}
        | {"SCL": (("time", "y", "x"), da.concatenate([_blocks(scl[t:t + 1], 2048, f"cS{t}")
                                                      for t in range(n_t)]))},
        coords={"time": np.datetime64("2024-01-01", "ns") + np.arange(n_t) * np.timedelta64(1, "D"),
                "boa_offset": ("time", np.full(n_t, -1000, np.int16))})

    def ours_composite():
        return composite(cube, "2024-01-01", "2024-12-31").compute()

    log("  checking results ...")
    sl = np.s_[:, :64, :]
    np.testing.assert_array_equal(median_over_time(arr[sl]), np.nanmedian(arr[sl], axis=0))
    _check("dask+bottleneck", dask_bn(), ours(), 1e-6)
    comp = ours_composite()
    ref = np.nanmedian(np.where(scl[:, :64] == 4, np.maximum(dn[:, :64].astype(np.float32)
                                                             - 1000, 0) * np.float32(1e-4),
                                np.nan), axis=0)
    _check("composite", comp["B03"].values[:64], ref, 1e-6)
    res = interleaved({"ours median_over_time": ours, "dask + bottleneck nanmedian": dask_bn,
                       "ours composite (6 bands + SCL)": ours_composite}, rounds, log=log)
    t = {k: v["median_s"] for k, v in res.items()}
    pts = n_t * size * size
    summary = {
        "shape": [n_t, size, size], "nan_fraction": 0.3,
        "ours_mpts_s": pts / t["ours median_over_time"] / 1e6,
        "dask_bn_mpts_s": pts / t["dask + bottleneck nanmedian"] / 1e6,
        "ours_composite_mpts_s_per_band": 6 * pts / t["ours composite (6 bands + SCL)"] / 1e6,
        "ratio_ours_vs_dask_bn": t["dask + bottleneck nanmedian"] / t["ours median_over_time"],
    }
    summary["ratio_composite_per_band_vs_dask_bn"] = (summary["ours_composite_mpts_s_per_band"]
                                                      / summary["dask_bn_mpts_s"])
    return {"timings": res, "summary": summary}


# -- section: COG decode and read -> indices -> sums ---------------------------------------
def bench_cog(cache: Path, size: int, n_scenes: int, rounds: int, log=print) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import rasterio

    from aoi import site_grid
    from flows.sources.stac import StacSource
    from indices import compute_indices

    items = synthetic.write_tile(cache, size, n_scenes, log=log)
    site = synthetic.tile_site(size)
    source = StacSource(str(items))
    first, last = synthetic.scene_dates(n_scenes)
    scenes = source.search(site, first, last)
    files = sorted(items.parent.glob("scenes/*/*.tif"))[: 7 * n_scenes]
    src_bytes = synthetic.bytes_per_scene(size) * n_scenes
    need = ("B03", "B04", "B08", "B11", "SCL")
    need_bytes = n_scenes * (3 * size * size * 2 + (size // 2) ** 2 * 3)
    npx = site_grid(site).width * site_grid(site).height * n_scenes
    log(f"  {len(scenes)} scenes of {size}², {src_bytes / 1e9:.2f} GB decoded, "
        f"{sum(f.stat().st_size for f in files) / 1e9:.2f} GB on disk (ZSTD-1, predictor 2)")

    def gdal_whole():
        def one(path):
            with rasterio.open(path) as ds:
                return ds.read(1).nbytes
        with ThreadPoolExecutor(THREADS) as pool:
            return sum(pool.map(one, files))

    def touch(x: da.Array) -> da.Array:
        return x.map_blocks(lambda b: np.zeros((1,) * b.ndim, np.uint8),
                            chunks=(1,) * x.ndim, dtype=np.uint8).sum()

    def reader_all():
        cube = source.load(site, scenes, chunks=2048)
        return dask.compute(*[touch(cube[b].data) for b in cube.data_vars])

    def reader_needed():
        cube = source.load(site, scenes, chunks=2048)
        return dask.compute(*[touch(cube[b].data) for b in need])

    def read_indices_sums():
        cube = source.load(site, scenes, chunks=2048)
        ix = compute_indices(cube, NAMES)
        return dask.compute(*[ix[n].sum(("y", "x")) for n in NAMES])

    assert gdal_whole() == src_bytes, "decoded bytes disagree with the tile layout"
    got = np.array([v.values for v in read_indices_sums()]).T
    arrays = synthetic.scene_arrays(0, size)
    from indices.masks import VALID_SCL
    up = {b: np.repeat(np.repeat(a, 2, 0), 2, 1) if a.shape[0] != size else a
          for b, a in arrays.items()}
    r = {b: np.maximum(up[b].astype(np.float32) - 1000, 0) * np.float32(1e-4)
         for b in ("B03", "B04", "B08", "B11")}
    ok = np.isin(up["SCL"], VALID_SCL)
    _check("read -> ndvi sum, scene 0", got[0, 0],
           np.nansum(np.where(ok, (r["B08"] - r["B04"]) / (r["B08"] + r["B04"]), np.nan)), 1e-4)
    del arrays, up, r, ok
    res = interleaved({"GDAL whole bands, 1 handle/thread": gdal_whole,
                       "reader, all 7 bands (decode only)": reader_all,
                       "reader, 5 bands indices need": reader_needed,
                       "read -> 4 indices -> sums": read_indices_sums}, rounds, log=log)
    t = {k: v["median_s"] for k, v in res.items()}
    summary = {
        "size": size, "scenes": n_scenes, "chunks": 2048,
        "gdal_decode_mb_s": src_bytes / t["GDAL whole bands, 1 handle/thread"] / 1e6,
        "reader_decode_mb_s": src_bytes / t["reader, all 7 bands (decode only)"] / 1e6,
        "reader_cube_mpx_s": npx / t["reader, all 7 bands (decode only)"] / 1e6,
        "needed_decode_mb_s": need_bytes / t["reader, 5 bands indices need"] / 1e6,
        "read_indices_sums_mpx_s": npx / t["read -> 4 indices -> sums"] / 1e6,
        "ratio_read_indices_vs_decode_only": (t["read -> 4 indices -> sums"]
                                              / t["reader, 5 bands indices need"]),
    }
    return {"timings": res, "summary": summary}


# -- section: tile x scenes in subprocesses ------------------------------------------------
def _child(args: argparse.Namespace) -> int:
    """``--child MODE SIZE N CHUNKS``: one measured run in this fresh process, JSON on stdout."""
    import psutil

    from aoi import site_grid, site_mask
    from flows.pipeline import site_tables
    from flows.sources.stac import StacSource
    from indices.summary import scene_statistics

    mode, size, n, chunks = args.child[0], *map(int, args.child[1:])
    numba.set_num_threads(THREADS)
    dask.config.set(scheduler="threads", num_workers=THREADS)
    proc = psutil.Process()

    def run(sz: int, k: int):
        items = synthetic.write_tile(args.cache, sz, k)
        site = synthetic.tile_site(sz)
        source = StacSource(str(items))
        first, last = synthetic.scene_dates(k)
        scenes = source.search(site, first, last)
        t0 = time.perf_counter()
        if mode == "obs":
            grid = site_grid(site)
            mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                                coords={"y": grid.y_coords(), "x": grid.x_coords()})
            cube = source.load(site, scenes, chunks=chunks)
            out = scene_statistics(cube, mask, site.habitat,
                                   pixel_area_ha=grid.pixel_area_ha).compute()
            rows = int(out.sizes["time"])
        else:
            tables = site_tables(site, source, scenes, start=None, end=last, run_id="bench",
                                 chunks=chunks)
            rows = len(tables.observations) + len(tables.change)
        return time.perf_counter() - t0, rows

    run(1026, 2)  # compile kernels, import everything: not part of the measurement
    before = proc.memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds, rows = run(size, n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"mode": mode, "size": size, "scenes": n, "chunks": chunks,
                      "seconds": seconds, "rows": rows, "rss_before": before,
                      "peak_before": peak_before, "peak_rss": peak,
                      "ns_per_px_scene": seconds / (size * size * n) * 1e9}))
    return 0


def child_run(cache: Path, mode: str, size: int, n: int, chunks: int) -> dict:
    """One measured run in a fresh interpreter (peak RSS is per process)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cache", str(cache),
           "--child", mode, str(size), str(n), str(chunks)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"mode": mode, "size": size, "scenes": n, "chunks": chunks, "error": tail}
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_tile(cache: Path, sizes: list[int], counts: list[int], repeats: int,
               site_tables_counts: list[int], log=print) -> dict:
    runs = []
    for size in sizes:  # write first, so that no run pays for writing
        synthetic.write_tile(cache, size, max(counts), log=log)
    synthetic.write_tile(cache, 2046, max(site_tables_counts), log=log)
    for _ in range(repeats):  # interleaved
        for size in sizes:
            for n in counts:
                r = child_run(cache, "obs", size, n, 2048)
                runs.append(r)
                log(f"    observations {size}² x {n:2d}: "
                    + (f"{r['seconds']:7.1f} s, peak RSS {r['peak_rss'] / 2**30:.2f} GiB, "
                       f"{r['ns_per_px_scene']:.2f} ns per pixel-scene"
                       if "error" not in r else f"FAILED: {r['error']}"))
    full = []
    for n in site_tables_counts:
        r = child_run(cache, "site_tables", 2046, n, 2048)
        full.append(r)
        log(f"    site_tables 2046² (one chunk) x {n:2d}: "
            + (f"{r['seconds']:6.1f} s, peak RSS {r['peak_rss'] / 2**30:.2f} GiB"
               if "error" not in r else f"FAILED: {r['error']}"))
    r = child_run(cache, "site_tables", 2046, site_tables_counts[0], 1024)
    full.append(r)
    log(f"    site_tables 2046² with 1024² chunks x {site_tables_counts[0]}: "
        + (f"{r['seconds']:.1f} s" if "error" not in r else f"FAILED: {r['error']}"))
    return {"observations": runs, "site_tables": full}


def summarise_tile(tile: dict) -> dict:
    ok = [r for r in tile["observations"] if "error" not in r]
    by: dict[tuple, list] = {}
    for r in ok:
        by.setdefault((r["size"], r["scenes"]), []).append(r)
    rows = {f"{s}x{n}": {"seconds": statistics.median(x["seconds"] for x in v),
                         "peak_rss_gib": max(x["peak_rss"] for x in v) / 2**30,
                         "ns_per_px_scene": statistics.median(x["ns_per_px_scene"] for x in v)}
            for (s, n), v in sorted(by.items())}
    costs = [v["ns_per_px_scene"] for v in rows.values()]
    return {"runs": rows,
            "cost_spread_max_over_min": max(costs) / min(costs) if costs else None,
            "max_peak_rss_gib": max((v["peak_rss_gib"] for v in rows.values()), default=None)}


# -- machine and report --------------------------------------------------------------------
def machine() -> dict:
    import bottleneck
    import distributed
    import rasterio

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "numba": numba.__version__, "dask": dask.__version__,
                "distributed": distributed.__version__, "xarray": xr.__version__,
                "bottleneck": bottleneck.__version__, "rasterio": rasterio.__version__,
                "gdal": rasterio.__gdal_version__}
    for mod in ("xrspatial", "spyndex"):
        with contextlib.suppress(ImportError):
            versions[mod] = __import__(mod).__version__
    return {"nproc": os.cpu_count(), "mem_gib": round(mem / 2**20, 1), "cpu": cpu,
            "kernel": platform.release(), "versions": versions,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


TARGETS = [  # (label, value key path, comparison, threshold)
    ("indices: index px/s >= 12x xarray-spatial NDVI px/s",
     ("indices", "ratio_index_px_vs_xrs_ndvi"), ">=", 12.0),
    ("indices: uint16 input read >= 0.5 x numpy copy bandwidth",
     ("indices", "input_fraction_of_copy"), ">=", 0.5),
    ("median: ours >= 2x dask + bottleneck", ("median", "ratio_ours_vs_dask_bn"), ">=", 2.0),
    ("median: composite per band >= 2x dask + bottleneck",
     ("median", "ratio_composite_per_band_vs_dask_bn"), ">=", 2.0),
    ("read -> indices -> sums <= 1.25x decode-only",
     ("cog", "ratio_read_indices_vs_decode_only"), "<=", 1.25),
    ("tile: peak RSS < 2.5 GiB", ("tile", "max_peak_rss_gib"), "<", 2.5),
    ("tile: cost linear in px x scenes (spread <= 1.25)",
     ("tile", "cost_spread_max_over_min"), "<=", 1.25),
]


def verdicts(summary: dict) -> list[tuple[str, float | None, bool | None]]:
    out = []
    for label, (section, key), op, thr in TARGETS:
        v = summary.get(section, {}).get(key)
        ok = None if v is None else {">=": v >= thr, "<=": v <= thr, "<": v < thr}[op]
        out.append((label, v, ok))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="bluecarbon benchmarks (see the module docstring)")
    p.add_argument("--quick", action="store_true", help="small inputs, 3 rounds (~3 min)")
    p.add_argument("--rounds", type=int, help="timed rounds per section (default 7, quick 3)")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "BLUECARBON_BENCH_CACHE", "/tmp/bluecarbon-bench")), help="folder for the COGs")
    p.add_argument("--skip", default="", help="comma-separated sections to skip")
    p.add_argument("--json", type=Path, help="also write every number to this JSON file")
    p.add_argument("--child", nargs=4, metavar=("MODE", "SIZE", "N", "CHUNKS"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    numba.set_num_threads(THREADS)
    dask.config.set(scheduler="threads", num_workers=THREADS)
    rounds = args.rounds or (3 if args.quick else 7)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    info = machine()
    print(f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['mem_gib']} GiB, "
          f"{info['date']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    report: dict = {"machine": info, "quick": args.quick, "rounds": rounds,
                    "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])])}
    summary: dict = {}
    t_all = time.perf_counter()
    if "indices" not in skip:
        print("\n[indices]")
        report["indices"] = bench_indices(4096 if args.quick else 8192, rounds)
        summary["indices"] = report["indices"]["summary"]
    if "median" not in skip:
        print("\n[median]")
        report["median"] = bench_median(*((12, 1024) if args.quick else (24, 2048)), rounds)
        summary["median"] = report["median"]["summary"]
    if "cog" not in skip:
        print("\n[cog]")
        report["cog"] = bench_cog(args.cache, *((2046, 2) if args.quick else (5490, 2)),
                                  rounds)
        summary["cog"] = report["cog"]["summary"]
    if "tile" not in skip:
        print("\n[tile]")
        if args.quick:
            report["tile"] = bench_tile(args.cache, [2046], [3, 6], 1, [3, 6])
        else:
            report["tile"] = bench_tile(args.cache, [5490, 10980], [3, 12], 1, [3, 6, 12])
        summary["tile"] = summarise_tile(report["tile"])
    report["summary"] = summary
    print(f"\nsummary ({time.perf_counter() - t_all:.0f} s):")
    print(json.dumps(summary, indent=1, default=float))
    print("\ntargets:")
    for label, v, ok in verdicts(summary):
        status = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {status}  {label}: {'-' if v is None else f'{v:.3g}'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
