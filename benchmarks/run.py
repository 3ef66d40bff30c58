"""bluecarbon benchmarks: one command, one run, the same inputs for every contender.

    python -m benchmarks.run [--quick | --smoke] [--json FILE] [--cache DIR] [--skip tile,...]

Sections (each a set of contenders timed on one input, warmed up, then timed in interleaved
rounds whose order rotates; medians reported, every result checked against a reference first,
a wrong result ends the run with an error):

``indices``   ``index_sums(cube, ["ndvi", "ndwi", "mndwi", "mvi"])`` (the indices of
              ``compute_indices`` reduced to per-scene sums inside the fused kernel) on a
              uint16 cube of 8192² (``--quick``: 4096²), 2048² chunks, 2 threads; against
              ``compute_indices`` layers summed by xarray, xarray-spatial's NDVI (dask, same
              chunks), spyndex (the same 4 indices on dask reflectance), plain numpy, the
              kernel called per chunk without dask, and numpy's copy bandwidth in the run.
``median``    our median over time and our composite vs dask + bottleneck ``nanmedian``,
              24 x 2048² float32 with 30 % NaN (``--quick``: 12 x 1024²).
``cog``       COG decode: GDAL whole-band reads (one handle per thread) and our windowed reader
              (``StacSource.load``: per-thread handles, 2048² chunks); then read -> indices ->
              per-site sums, and read -> ``scene_statistics``, against decode-only of the same
              bands (2 scenes of 5490²).
``tile``      (run first, while this process is small) sites of 2046², 4092² and a whole
              Sentinel-2 tile (10980²) with 3, 6 and 12 scenes (``--quick``: 1026², 2046² x 2,
              3), read from local COGs through ``StacSource`` and reduced to the observation
              table (``indices.summary.scene_statistics``), each run in a fresh subprocess:
              wall time and peak RSS (``VmHWM``), killed past ``--rss-limit-gib``. Where the
              reader's ``GDAL_ENV`` does not bound GDAL's caches, the runs add
              :data:`GDAL_LIMITS` and the biggest is repeated without them; plus the full
              ``site_tables`` (observations and monthly change) on the smallest site.

COGs are written once into ``--cache`` (default ``$BLUECARBON_BENCH_CACHE`` or
``/tmp/bluecarbon-bench``); all tiles need ~9.5 GB of disk and ~4 min to write.
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
import synthetic  # noqa: E402
import xarray as xr  # noqa: E402

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


def memory_cube(size: int, chunk: int) -> tuple[xr.Dataset, dict[str, np.ndarray]]:
    """One synthetic scene on a ``size``² 10 m grid (20 m bands replicated, as the reader
    does), uint16 DN with offset -1000 and uint8 SCL, chunked into contiguous blocks; and
    the same bands as whole ``(size, size)`` numpy arrays."""
    arrays = synthetic.scene_arrays(0, size)
    data = {}
    for band, arr in arrays.items():
        if arr.shape[0] != size:
            arr = arrays[band] = np.repeat(np.repeat(arr, 2, 0), 2, 1)[:size, :size]
        data[band] = (("time", "y", "x"), _blocks(arr[np.newaxis], chunk, f"mem-{band}-{size}"))
    coords = {"time": np.array(["2024-01-05T03:30"], "datetime64[ns]"),
              "y": 300_000 - 5 - 10.0 * np.arange(size), "x": 399_965 + 10.0 * np.arange(size),
              "boa_offset": ("time", np.array([-1000], np.int16))}
    return xr.Dataset(data, coords=coords), arrays


# -- section: indices ----------------------------------------------------------------------
def bench_indices(size: int, rounds: int, log=print) -> dict:
    import spyndex
    import xrspatial
    from xrspatial.multispectral import ndvi as xrs_ndvi

    from indices import _kernels, compute_indices
    from indices._reduce_kernels import reduce_kernel
    from indices.masks import VALID_SCL
    from indices.spectral import INDICES, SYMBOLS, kernel_expression
    from indices.sums import index_sums

    log(f"  building a {size}² cube, 2048² chunks ...")
    cube, local = memory_cube(size, 2048)
    npx = size * size

    def ours():  # the product path: sums reduced inside the fused kernel, one task a chunk
        return index_sums(cube, NAMES).compute()

    def ours_layers():  # compute_indices' float32 layers, then xarray sums (the old way)
        ix = compute_indices(cube, NAMES)
        return dask.compute(*[ix[n].sum() for n in NAMES])

    def xrs():
        nir = xr.DataArray(cube["B08"].data[0], dims=("y", "x"))
        red = xr.DataArray(cube["B04"].data[0], dims=("y", "x"))
        return xrs_ndvi(nir, red).sum().compute()

    def l2a_dask(b):  # what xarray-spatial needs first to give L2A's NDVI (it knows no offset)
        dn = xr.DataArray(cube[b].data[0], dims=("y", "x"))
        return (dn.astype(np.float32) - np.float32(1000)).where(dn != 0)

    def xrs_l2a():  # as ../shared/notes/performance.md measured it (its ~160 Mpx/s)
        return xrs_ndvi(l2a_dask("B08"), l2a_dask("B04")).sum().compute()

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

    # headroom: the same reduction kernel called on each chunk from here, no dask: what the
    # scheduler and the per-chunk wrapper cost on top of the kernel
    outputs = tuple((n, *kernel_expression(n)) for n in INDICES if n in NAMES)
    symbols = tuple(s for s in SYMBOLS if any(s in used for _, _, used in outputs))
    kernel = reduce_kernel(symbols, outputs, VALID_SCL)
    blocks = [[cube[b].data.dask[k] for k in sorted(k for k in cube[b].data.dask
                                                     if k[0] == cube[b].data.name)]
              for b in [SYMBOLS[s] for s in symbols] + ["SCL"]]
    partial = np.empty((2048, 2 * len(outputs)))
    offsets = np.array([-1000], np.int32)

    def kernel_only():
        for chunk in zip(*blocks, strict=True):
            with _kernels.KERNEL_LOCK:
                kernel(*chunk, offsets, partial)

    src = np.ones(128 * 2**20, np.float32)  # 512 MB
    dst = np.zeros_like(src)

    def copy():
        np.copyto(dst, src)

    log("  checking results against plain numpy ...")
    want = numpy_plain()
    got = ours()
    _check("index_sums", [float(got[f"{n}_sum"][0]) for n in NAMES], want, 1e-6)
    _check("compute_indices layer sums", [float(v) for v in ours_layers()], want, 1e-4)
    spy_sums = spy().values
    _check("spyndex NDVI/NDWI/MNDWI", spy_sums[:3], want[:3], 1e-4)
    nir, red = local["B08"].astype(np.float64), local["B04"].astype(np.float64)
    _check("xarray-spatial NDVI", float(xrs()), np.sum((nir - red) / (nir + red)), 1e-4)
    ok = (local["B08"] != 0) & (local["B04"] != 0)
    nir, red = nir - 1000, red - 1000
    with np.errstate(divide="ignore", invalid="ignore"):
        want_l2a = np.nansum(np.where(ok, (nir - red) / (nir + red), np.nan))
    _check("xarray-spatial NDVI of L2A (offset, nodata)", float(xrs_l2a()), want_l2a, 1e-4)
    del nir, red, ok
    res = interleaved({"ours: index_sums (4 indices, in-kernel sums)": ours,
                       "compute_indices layers + xarray sums": ours_layers,
                       "xarray-spatial ndvi + sum": xrs,
                       "xarray-spatial ndvi + sum, L2A offset/nodata first": xrs_l2a,
                       "spyndex 4 indices + sums": spy,
                       "numpy 4 indices + sums": numpy_plain,
                       "kernel alone per chunk, no dask": kernel_only,
                       "numpy copy 512 MB": copy}, rounds, log=log)
    t = {k: v["median_s"] for k, v in res.items()}
    t_ours = t["ours: index_sums (4 indices, in-kernel sums)"]
    copied_gbs = src.nbytes / t["numpy copy 512 MB"] / 1e9  # bytes copied per second
    in_bytes = npx * (4 * 2 + 1)  # B03 B04 B08 B11 uint16 + SCL uint8
    ours_px = npx / t_ours
    xrs_px = npx / t["xarray-spatial ndvi + sum"]
    xrs_l2a_px = npx / t["xarray-spatial ndvi + sum, L2A offset/nodata first"]
    summary = {
        "size": size, "chunks": 2048, "threads": THREADS, "xarray_spatial": xrspatial.__version__,
        "spyndex": spyndex.__version__,
        "ours_cube_mpx_s": ours_px / 1e6, "ours_index_mpx_s": 4 * ours_px / 1e6,
        "layers_cube_mpx_s": npx / t["compute_indices layers + xarray sums"] / 1e6,
        "kernel_only_cube_mpx_s": npx / t["kernel alone per chunk, no dask"] / 1e6,
        "xrs_ndvi_mpx_s": xrs_px / 1e6,
        "xrs_l2a_ndvi_mpx_s": xrs_l2a_px / 1e6,
        "spyndex_index_mpx_s": 4 * npx / t["spyndex 4 indices + sums"] / 1e6,
        "numpy_index_mpx_s": 4 * npx / t["numpy 4 indices + sums"] / 1e6,
        "ratio_index_px_vs_xrs_ndvi": 4 * ours_px / xrs_px,
        "ratio_cube_px_vs_xrs_ndvi": ours_px / xrs_px,
        "ratio_index_px_vs_xrs_l2a_ndvi": 4 * ours_px / xrs_l2a_px,
        "ratio_vs_layers": t["compute_indices layers + xarray sums"] / t_ours,
        "ratio_vs_spyndex": t["spyndex 4 indices + sums"] / t_ours,
        "ratio_vs_numpy": t["numpy 4 indices + sums"] / t_ours,
        "copy_gb_s_copied": copied_gbs,
        "copy_gb_s_stream": 2 * copied_gbs,  # STREAM convention: bytes read + bytes written
        "ours_input_gb_s": in_bytes / t_ours / 1e9,
        "kernel_only_input_gb_s": in_bytes / t["kernel alone per chunk, no dask"] / 1e9,
    }
    # the fraction both ways: of the STREAM-counted copy rate (the convention of
    # ../shared/notes/performance.md, ~22 GB/s here) and of the bytes copied per second
    summary["input_fraction_of_copy"] = summary["ours_input_gb_s"] / summary["copy_gb_s_stream"]
    summary["input_fraction_of_copy_bytes_copied"] = summary["ours_input_gb_s"] / copied_gbs
    summary["kernel_only_input_fraction_of_copy"] = (summary["kernel_only_input_gb_s"]
                                                     / summary["copy_gb_s_stream"])
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

    from aoi import site_grid, site_mask
    from flows.sources.stac import StacSource
    from indices.summary import scene_statistics
    from indices.sums import index_sums

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

    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})

    def read_indices_sums():  # per scene and index inside the site, as the table needs
        cube = source.load(site, scenes, chunks=2048)
        return index_sums(cube, NAMES, where=mask).compute()

    def read_scene_statistics():  # the observation table: all 7 bands (clear needs them)
        cube = source.load(site, scenes, chunks=2048)
        return scene_statistics(cube, mask, site.habitat,
                                pixel_area_ha=grid.pixel_area_ha).compute()

    assert gdal_whole() == src_bytes, "decoded bytes disagree with the tile layout"
    got = read_indices_sums()
    arrays = synthetic.scene_arrays(0, size)
    from indices.masks import VALID_SCL
    up = {b: np.repeat(np.repeat(a, 2, 0), 2, 1) if a.shape[0] != size else a
          for b, a in arrays.items()}
    r = {b: np.maximum(up[b].astype(np.float32) - 1000, 0) * np.float32(1e-4)
         for b in ("B03", "B04", "B08", "B11")}
    ok = np.isin(up["SCL"], VALID_SCL) & mask.values
    _check("read -> ndvi sum, scene 0", float(got["ndvi_sum"][0]),
           np.nansum(np.where(ok, (r["B08"] - r["B04"]) / (r["B08"] + r["B04"]), np.nan),
                     dtype=np.float64), 1e-6)
    stats = read_scene_statistics()
    _check("read -> scene_statistics ndvi_mean, scene 0", float(stats["ndvi_mean"][0]),
           float(got["ndvi_sum"][0] / got["ndvi_count"][0]), 1e-6)  # two kernels, own sums
    del arrays, up, r, ok

    # products: a class map of the site as a COG (zstd-1), with our MODE overviews, with
    # GDAL's MODE overviews (before session 6) and without overviews (the encoding alone)
    import tempfile

    from flows.results import maps as flow_maps
    rng = np.random.default_rng(0)
    codes = np.kron(rng.integers(0, 4, (size // 64 + 1,) * 2).astype(np.uint8),
                    np.ones((64, 64), np.uint8))[:size, :size]
    codes = np.where(mask.values, codes, np.uint8(255))
    colours = {0: (1, 2, 3, 255), 1: (0, 109, 44, 255), 255: (0, 0, 0, 0)}
    out_dir = Path(tempfile.mkdtemp(prefix="bluecarbon-bench-cog-"))

    with_mode = flow_maps._profile(grid)  # GDAL's MODE overviews
    without = {k: v for k, v in with_mode.items() if "overview" not in k} | {"overviews": "NONE"}

    def gdal_write(name: str, profile: dict):
        with rasterio.open(out_dir / name, "w", **profile) as dst:
            dst.write(codes, 1)
            dst.write_colormap(1, colours)

    def map_ours():
        flow_maps.write_cog(out_dir / "ours.tif", codes, grid, colormap=colours, tags={})

    def map_gdal_mode():
        gdal_write("gdal.tif", with_mode)

    def map_no_overviews():
        gdal_write("none.tif", without)

    res = interleaved({"GDAL whole bands, 1 handle/thread": gdal_whole,
                       "reader, all 7 bands (decode only)": reader_all,
                       "reader, 5 bands indices need": reader_needed,
                       "read -> 4 indices -> per-site sums": read_indices_sums,
                       "read -> scene_statistics (7 bands)": read_scene_statistics,
                       "map COG write, our MODE overviews": map_ours,
                       "map COG write, GDAL's MODE overviews": map_gdal_mode,
                       "map COG write, no overviews (zstd-1 encoding)": map_no_overviews},
                      rounds, log=log)
    import shutil
    shutil.rmtree(out_dir, ignore_errors=True)
    t = {k: v["median_s"] for k, v in res.items()}
    summary = {
        "size": size, "scenes": n_scenes, "chunks": 2048,
        "gdal_decode_mb_s": src_bytes / t["GDAL whole bands, 1 handle/thread"] / 1e6,
        "reader_decode_mb_s": src_bytes / t["reader, all 7 bands (decode only)"] / 1e6,
        "reader_cube_mpx_s": npx / t["reader, all 7 bands (decode only)"] / 1e6,
        "needed_decode_mb_s": need_bytes / t["reader, 5 bands indices need"] / 1e6,
        "read_indices_sums_mpx_s": npx / t["read -> 4 indices -> per-site sums"] / 1e6,
        "ratio_read_indices_vs_decode_only": (t["read -> 4 indices -> per-site sums"]
                                              / t["reader, 5 bands indices need"]),
        "ratio_scene_statistics_vs_decode_only": (t["read -> scene_statistics (7 bands)"]
                                                  / t["reader, all 7 bands (decode only)"]),
        "map_write_mb_s": codes.nbytes / t["map COG write, our MODE overviews"] / 1e6,
        "map_write_gdal_mode_mb_s": codes.nbytes / t["map COG write, GDAL's MODE overviews"] / 1e6,
        "map_encode_mb_s": codes.nbytes / t["map COG write, no overviews (zstd-1 encoding)"] / 1e6,
    }
    return {"timings": res, "summary": summary}


# -- section: tile x scenes in subprocesses ------------------------------------------------
def peak_rss() -> int:
    """This process's peak RSS in bytes: ``VmHWM`` of its address space. Not ``ru_maxrss``:
    Linux carries that across ``execve``, so a child forked from a big parent reports the
    parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(args: argparse.Namespace) -> int:
    """``--child MODE SIZE N CHUNKS``: one measured run in this fresh process, JSON on stdout."""
    import psutil

    from aoi import site_grid, site_mask
    from flows.site import site_tables
    from flows.sources.stac import StacSource
    from indices.summary import scene_statistics

    mode, size, n, chunks = args.child[0], *map(int, args.child[1:])
    if args.gdal_limits:
        apply_gdal_limits()
    numba.set_num_threads(THREADS)
    dask.config.set(scheduler="threads", num_workers=THREADS)
    proc = psutil.Process()

    timing: dict[str, float] = {}

    def run(sz: int, k: int):
        items = synthetic.write_tile(args.cache, sz, k, change=args.change)
        site = synthetic.tile_site(sz)
        source = StacSource(str(items))
        first, last = synthetic.scene_dates(k)
        scenes = source.search(site, first, last)
        t0, cpu0, load0 = time.perf_counter(), os.times(), os.getloadavg()
        if mode == "obs":
            grid = site_grid(site)
            mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                                coords={"y": grid.y_coords(), "x": grid.x_coords()})
            timing["site_mask_s"] = time.perf_counter() - t0  # aoi's rasterisation, once a site
            cube = source.load(site, scenes, chunks=chunks)
            out = scene_statistics(cube, mask, site.habitat,
                                   pixel_area_ha=grid.pixel_area_ha).compute()
            rows = int(out.sizes["time"])
        elif mode == "pipeline":  # what `bluecarbon run` does for the site, products included
            import tempfile

            from flows.results.maps import write_site_maps

            tables = site_tables(site, source, scenes, start=None, end=last, run_id="bench",
                                 chunks=chunks, products=True)
            with tempfile.TemporaryDirectory(prefix="bluecarbon-bench-maps-") as out:
                written = write_site_maps(out, site, tables.maps)
            timing["walk"] = tables.walk
            timing["maps_written"] = len(written)
            timing["alerts"] = len(tables.alerts.rows)
            rows = len(tables.observations) + len(tables.change)
        else:
            tables = site_tables(site, source, scenes, start=None, end=last, run_id="bench",
                                 chunks=chunks)
            rows = len(tables.observations) + len(tables.change)
        cpu1 = os.times()
        # CPU s of this process's threads (user + system) over the measured run (not the
        # tile's writing, the first time): on a shared machine its share of the wall time
        # says how much of the time went waiting for a CPU
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        seconds = time.perf_counter() - t0
        timing.update(cpu_s=round(cpu, 2), cpu_over_wall=round(cpu / seconds, 3),
                      load_start=load0, load_end=os.getloadavg())
        return seconds, rows

    run(1026, 2)  # compile kernels, import everything: not part of the measurement
    before = proc.memory_info().rss
    peak_before = peak_rss()
    seconds, rows = run(size, n)
    peak = peak_rss()
    print(json.dumps({"mode": mode, "size": size, "scenes": n, "chunks": chunks,
                      "gdal_limits": bool(args.gdal_limits), **timing,
                      "seconds": seconds, "rows": rows, "rss_before": before,
                      "peak_before": peak_before, "peak_rss": peak,
                      "ns_per_px_scene": seconds / (size * size * n) * 1e9}))
    return 0


GDAL_LIMITS = {"VSI_CACHE": "FALSE", "GDAL_CACHEMAX": 64}
"""Reader settings that bound GDAL's memory (proposed for ``flows.sources._reader.GDAL_ENV``):
no per-handle VSI cache (16 MB per open handle there, up to 32 handles per thread) and a 64 MB
block cache instead of GDAL's default of 5 % of RAM. ``/vsicurl/`` keeps its own small cache."""


def reader_has_gdal_limits() -> bool:
    from flows.sources import _reader

    env = {k: str(v).upper() for k, v in _reader.GDAL_ENV.items()}
    return env.get("VSI_CACHE") in ("FALSE", "NO", "OFF", "0") and "GDAL_CACHEMAX" in env


def apply_gdal_limits() -> None:
    """Put :data:`GDAL_LIMITS` into the reader's settings, in this process only."""
    from flows.sources import _reader

    _reader.GDAL_ENV.update(GDAL_LIMITS)
    _reader.GDAL_ENV.pop("VSI_CACHE_SIZE", None)


def child_run(cache: Path, mode: str, size: int, n: int, chunks: int,
              rss_limit: float = 6 * 2**30, gdal_limits: bool = False,
              change: bool = False) -> dict:
    """One measured run in a fresh interpreter (peak RSS is per process), watched: a child
    whose RSS passes ``rss_limit`` is killed (the machine is shared; the current pipeline
    holds every scene of a site in memory and would take the machine down on a whole tile).
    ``change``: on the changing landscape's tiles (``synthetic.write_tile(change=True)``)."""
    import psutil

    cmd = [sys.executable, str(Path(__file__).resolve()), "--cache", str(cache),
           "--child", mode, str(size), str(n), str(chunks)] + (["--gdal-limits"] * gdal_limits
                                                              + ["--change"] * change)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, peak, killed = psutil.Process(proc.pid), 0, False
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, watched.memory_info().rss)
        if peak > rss_limit:
            proc.kill()
            killed = True
            break
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    base = {"mode": mode, "size": size, "scenes": n, "chunks": chunks, "gdal_limits": gdal_limits}
    if killed:
        return base | {"error": f"killed: RSS passed {rss_limit / 2**30:.1f} GiB after "
                                f"{time.perf_counter() - t0:.0f} s", "peak_rss": peak}
    if proc.returncode:
        return base | {"error": (stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(stdout.strip().splitlines()[-1]) | {"watched_peak_rss": peak}


def _describe(r: dict) -> str:
    if "error" in r:
        return f"FAILED: {r['error']}"
    mask = f" (site mask {r['site_mask_s']:.1f} s)" if "site_mask_s" in r else ""
    return (f"{r['seconds']:7.1f} s{mask}, peak RSS {r['peak_rss'] / 2**30:.2f} GiB "
            f"(+{(r['peak_rss'] - r['rss_before']) / 2**30:.2f} over the warmed-up process), "
            f"{r['ns_per_px_scene']:.0f} ns per pixel-scene"
            + (f", {r['cpu_s']:.1f} CPU s ({r['cpu_over_wall']:.2f} of the wall time; load "
               f"{r['load_start'][0]:.1f} -> {r['load_end'][0]:.1f})" if "cpu_s" in r else ""))


def bench_tile(cache: Path, sizes: list[int], counts: list[int], rss_limit: float,
               log=print, extra: bool = True) -> dict:
    """Observation table of sites up to a whole tile, each run in a fresh process. The reader
    runs with :data:`GDAL_LIMITS` (added for these runs where ``GDAL_ENV`` lacks them); the
    biggest run is repeated with the reader's settings as they are, for comparison."""
    shipped = reader_has_gdal_limits()
    for size in sizes:  # write first, so that no run pays for writing
        synthetic.write_tile(cache, size, max(counts), log=log)
    label = "reader as is" if shipped else "reader + GDAL_LIMITS"
    runs = []
    for size in sizes:
        for n in counts:
            r = child_run(cache, "obs", size, n, 2048, rss_limit, gdal_limits=not shipped)
            runs.append(r)
            log(f"    observations {size}² x {n:2d} ({label}): {_describe(r)}")
    as_is = full = None
    if not shipped and extra:
        as_is = child_run(cache, "obs", max(sizes), max(counts), 2048, rss_limit)
        log(f"    observations {max(sizes)}² x {max(counts):2d} (reader as is, "
            f"VSI_CACHE on, GDAL_CACHEMAX default): {_describe(as_is)}")
    if extra:
        full = child_run(cache, "site_tables", min(sizes), max(counts), 1024, rss_limit,
                         gdal_limits=not shipped)
        log(f"    site_tables (observations + monthly change) {min(sizes)}² x {max(counts)} "
            f"in 1024² chunks ({label}): {_describe(full)}")
    pipeline = None
    if extra:  # the whole tile through the flow's site computation, alerts and maps included
        pipeline = child_run(cache, "pipeline", max(sizes), max(counts), 1024, rss_limit)
        log(f"    whole pipeline (observations, monthly change, alerts, maps written) "
            f"{max(sizes)}² x {max(counts)}, walk {pipeline.get('walk', '?')}: "
            f"{_describe(pipeline)}")
    return {"observations": runs, "as_is": as_is, "site_tables": full, "pipeline": pipeline,
            "rss_limit": rss_limit, "reader_has_limits": shipped}


def summarise_tile(tile: dict) -> dict:
    def row(r: dict | None) -> dict | None:
        if r is None:
            return None
        if "error" in r:
            return {"error": r["error"]} | ({"peak_rss_gib": r["peak_rss"] / 2**30}
                                            if "peak_rss" in r else {})
        return {"seconds": r["seconds"], "peak_rss_gib": r["peak_rss"] / 2**30,
                "growth_gib": (r["peak_rss"] - r["rss_before"]) / 2**30,
                "ns_per_px_scene": r["ns_per_px_scene"], "gdal_limits": r.get("gdal_limits")}

    rows = {f"{r['size']}x{r['scenes']}": row(r) for r in tile["observations"]}
    done = {k: v for k, v in rows.items() if "error" not in v}
    big = max(tile["observations"], key=lambda r: r["size"] * r["size"] * r["scenes"])
    # linear cost: least-squares fit of seconds = fixed + per_px * pixels (once per site:
    # site mask, graph, opening files) + per_px_scene * pixels x scenes over every completed
    # run, in relative terms (each run weighted by 1 / its time: a plain fit is the biggest
    # runs' and leaves the 0.4 s ones' fixed costs as a "residual"); linear if no run is off
    # the fit by more than 25 %
    fit = [(r["size"] ** 2, r["scenes"], done[f"{r['size']}x{r['scenes']}"]["seconds"])
           for r in tile["observations"] if f"{r['size']}x{r['scenes']}" in done]
    linear = {}
    if len(fit) > 3:
        n_px, n_scenes, secs = np.array(fit, dtype=float).T
        design = np.c_[np.ones_like(n_px), n_px, n_px * n_scenes]
        (fixed, per_px, per_px_scene), *_ = np.linalg.lstsq(design / secs[:, None],
                                                             np.ones_like(secs), rcond=None)
        predicted = design @ np.array([fixed, per_px, per_px_scene])
        linear = {"fixed_s": float(fixed), "ns_per_px": float(per_px * 1e9),
                  "ns_per_px_scene": float(per_px_scene * 1e9),
                  "max_relative_residual": float(np.max(np.abs(secs - predicted) / predicted))}
    complete = len(done) == len(rows)
    return {"runs": rows, "all_runs_completed": complete,
            "tile": f"{big['size']}x{big['scenes']}", "tile_run": row(big),
            "tile_as_is": row(tile.get("as_is")),
            "reader_has_gdal_limits": tile["reader_has_limits"],
            "linear_fit": linear,
            "cost_max_relative_residual": linear.get("max_relative_residual"),
            # a run that was killed did not stay under the limit: no pass on partial data
            "max_peak_rss_gib": (max(v["peak_rss_gib"] for v in done.values()) if complete
                                 else tile["rss_limit"] / 2**30),
            "site_tables": row(tile["site_tables"]),
            "pipeline": (None if tile.get("pipeline") is None else
                         row(tile["pipeline"]) | {"walk": tile["pipeline"].get("walk")}),
            "tile_seconds": row(big).get("seconds"),
            "tile_peak_rss_gib": row(big).get("peak_rss_gib"),
            "tile_as_is_peak_rss_gib": (row(tile["as_is"]) or {}).get("peak_rss_gib"),
            "pipeline_peak_rss_gib": (row(tile.get("pipeline")) or {}).get("peak_rss_gib"),
            # issue 22: the site computation of the tile within 2x its observation path
            "pipeline_over_observations": pipeline_over_observations(tile.get("pipeline"), big)}


def pipeline_over_observations(pipeline: dict | None, observations: dict | None) -> float | None:
    """Seconds of the tile's whole site computation (products, maps written) over its
    observation path's (``scene_statistics``), both of the same size and scenes; None unless
    both completed."""
    if not pipeline or not observations or "error" in pipeline or "error" in observations:
        return None
    if (pipeline["size"], pipeline["scenes"]) != (observations["size"], observations["scenes"]):
        return None
    return pipeline["seconds"] / observations["seconds"]


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
            "loadavg_at_start": [round(v, 2) for v in os.getloadavg()],
            "kernel": platform.release(), "versions": versions,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


TARGETS = [  # (label, value key path, comparison, threshold)
    ("indices: index px/s >= 12x xarray-spatial NDVI px/s (on raw DN: no offset, no nodata)",
     ("indices", "ratio_index_px_vs_xrs_ndvi"), ">=", 12.0),
    ("indices: the same, xarray-spatial given L2A reflectance (offset, nodata) as it needs",
     ("indices", "ratio_index_px_vs_xrs_l2a_ndvi"), ">=", 12.0),
    ("indices: uint16 input read >= 0.5 x numpy copy bandwidth (STREAM-counted)",
     ("indices", "input_fraction_of_copy"), ">=", 0.5),
    ("indices: the same, of numpy copy counted as bytes copied per second",
     ("indices", "input_fraction_of_copy_bytes_copied"), ">=", 0.5),
    ("median: ours >= 2x dask + bottleneck", ("median", "ratio_ours_vs_dask_bn"), ">=", 2.0),
    ("median: composite per band >= 2x dask + bottleneck",
     ("median", "ratio_composite_per_band_vs_dask_bn"), ">=", 2.0),
    ("read -> indices -> per-site sums <= 1.25x decode-only",
     ("cog", "ratio_read_indices_vs_decode_only"), "<=", 1.25),
    ("read -> scene_statistics <= 1.25x decode-only (7 bands)",
     ("cog", "ratio_scene_statistics_vs_decode_only"), "<=", 1.25),
    ("products: map COG encoded (zstd-1, no overviews) >= 250 MB/s",
     ("cog", "map_encode_mb_s"), ">=", 250.0),
    ("products: map COG with MODE overviews (ours), MB/s of map >= 250",
     ("cog", "map_write_mb_s"), ">=", 250.0),
    ("tile: peak RSS < 2.5 GiB, every run (reader with GDAL_LIMITS)",
     ("tile", "max_peak_rss_gib"), "<", 2.5),
    ("tile: peak RSS < 2.5 GiB, biggest run, reader as it is",
     ("tile", "tile_as_is_peak_rss_gib"), "<", 2.5),
    ("tile: whole pipeline (monthly change, alerts, maps), peak RSS < 2.5 GiB",
     ("tile", "pipeline_peak_rss_gib"), "<", 2.5),
    ("tile: cost linear in px x scenes (every run within 25 % of a fitted line)",
     ("tile", "cost_max_relative_residual"), "<=", 0.25),
    ("tile: whole pipeline (site computation) <= 2x its observation path (issue 22)",
     ("tile", "pipeline_over_observations"), "<=", 2.0),
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
    p.add_argument("--smoke", action="store_true",
                   help="tiny inputs, 1 round: checks that every section runs (~20 s)")
    p.add_argument("--rounds", type=int, help="timed rounds per section (default 7, quick 3)")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "BLUECARBON_BENCH_CACHE", "/tmp/bluecarbon-bench")), help="folder for the COGs")
    p.add_argument("--skip", default="", help="comma-separated sections to skip")
    p.add_argument("--rss-limit-gib", type=float, default=6.0,
                   help="kill a tile run whose RSS passes this (default 6)")
    p.add_argument("--json", type=Path, help="also write every number to this JSON file")
    p.add_argument("--child", nargs=4, metavar=("MODE", "SIZE", "N", "CHUNKS"),
                   help=argparse.SUPPRESS)
    p.add_argument("--gdal-limits", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--change", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--resummarise", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    if args.resummarise:  # recompute summary and targets of a saved --json report
        report = json.loads(args.resummarise.read_text())
        if "tile" in report:
            report["summary"]["tile"] = summarise_tile(report["tile"])
        for label, v, ok in verdicts(report["summary"]):
            print(f"  {'n/a ' if ok is None else ('PASS' if ok else 'FAIL')}  {label}: "
                  f"{'-' if v is None else f'{v:.3g}'}")
        args.resummarise.write_text(json.dumps(report, indent=1, default=float))
        return 0
    numba.set_num_threads(THREADS)
    dask.config.set(scheduler="threads", num_workers=THREADS)
    rounds = args.rounds or (1 if args.smoke else 3 if args.quick else 7)
    args.quick = args.quick or args.smoke
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    info = machine()
    print(f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['mem_gib']} GiB, "
          f"{info['date']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    report: dict = {"machine": info, "quick": args.quick, "rounds": rounds,
                    "command": " ".join(["python", "-m", "benchmarks.run", *(argv or sys.argv[1:])])}
    summary: dict = {}
    t_all = time.perf_counter()
    trim = getattr(__import__("ctypes").CDLL("libc.so.6"), "malloc_trim", None)
    # tile first: its children measure peak RSS while this process is still small
    if "tile" not in skip:
        print("\n[tile]")
        limit = args.rss_limit_gib * 2**30
        if args.smoke:
            report["tile"] = bench_tile(args.cache, [1026], [2], limit, extra=False)
        elif args.quick:
            report["tile"] = bench_tile(args.cache, [1026, 2046], [2, 3], limit)
        else:
            report["tile"] = bench_tile(args.cache, [2046, 4092, 10980], [3, 6, 12], limit)
        summary["tile"] = summarise_tile(report["tile"])
    size = {"indices": (1024,), "median": (6, 512), "cog": (1026, 2)} if args.smoke else \
        {"indices": (4096,), "median": (12, 1024), "cog": (2046, 2)} if args.quick else \
        {"indices": (8192,), "median": (24, 2048), "cog": (5490, 2)}
    sections = {
        # a smoke run's indices take milliseconds a round: the median of 5 interleaved
        # rounds, so that one stall of a loaded machine does not decide a ratio (one round
        # read 0.53x numpy at load 12 in a CI run, 3.3x in two runs at load 1)
        "indices": lambda: bench_indices(*size["indices"], max(rounds, 5)),
        "median": lambda: bench_median(*size["median"], rounds),
        "cog": lambda: bench_cog(args.cache, *size["cog"], rounds),
    }
    for name, run_section in sections.items():
        if name in skip:
            continue
        print(f"\n[{name}]")
        report[name] = run_section()
        summary[name] = report[name]["summary"]
        if trim is not None:
            trim(0)  # hand freed heap back to the system (a shared machine)
    report["summary"] = summary
    report["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(f"\nsummary ({time.perf_counter() - t_all:.0f} s; load average "
          f"{info['loadavg_at_start']} at the start, {report['loadavg_at_end']} at the end: "
          f"other processes share these {info['nproc']} CPUs):")
    print(json.dumps(summary, indent=1, default=float))
    print("\ntargets:")
    for label, v, ok in verdicts(summary):
        status = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        if args.quick and ok is not None:  # small inputs: a smoke test, not the targets
            status = "(quick) " + status.lower()
        print(f"  {status}  {label}: {'-' if v is None else f'{v:.3g}'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
