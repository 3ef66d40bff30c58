import os, sys, time, statistics, resource
sys.path.insert(0, "benchmarks")
import dask, numba, numpy as np, xarray as xr, dask.array as da
import run as bench_run
from indices import compute_indices
from xrspatial.multispectral import ndvi as xrs_ndvi
numba.set_num_threads(2)
names = bench_run.NAMES
size = int(sys.argv[1]); rounds = int(sys.argv[2])
with dask.config.set(scheduler="threads", num_workers=2):
    cube, local = bench_run.memory_cube(size, 2048)
    ix = compute_indices(cube, names).persist()   # the layers, already in memory
    def sums_of_persisted():   # xarray's sums alone: the floor of any compute_indices
        return dask.compute(*[ix[n].sum() for n in names])
    def plain_sums_persisted():
        return dask.compute(*[ix[n].data.sum() for n in names])
    def layers():
        ixx = compute_indices(cube, names)
        return dask.compute(*[ixx[n].sum() for n in names])
    def xrs():
        nir = xr.DataArray(cube["B08"].data[0], dims=("y", "x"))
        red = xr.DataArray(cube["B04"].data[0], dims=("y", "x"))
        return xrs_ndvi(nir, red).sum().compute()
    def l2a(b):
        dn = xr.DataArray(cube[b].data[0], dims=("y", "x"))
        return (dn.astype(np.float32) - np.float32(1000)).where(dn != 0)
    def xrs_l2a():
        return xrs_ndvi(l2a("B08"), l2a("B04")).sum().compute()
    fs = {"sums_of_persisted": sums_of_persisted, "plain_sums_persisted": plain_sums_persisted, "layers": layers, "xrs": xrs, "xrs_l2a": xrs_l2a}
    for f in fs.values(): f()
    wall = {k: [] for k in fs}; cpu = {k: [] for k in fs}; flt = {k: [] for k in fs}; sy = {k: [] for k in fs}
    for r in range(rounds):
        ks = list(fs); ks = ks[r % len(ks):] + ks[:r % len(ks)]
        for k in ks:
            t0 = time.perf_counter(); c0 = os.times(); f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            fs[k]()
            c1 = os.times(); wall[k].append(time.perf_counter() - t0)
            cpu[k].append(c1.user + c1.system - c0.user - c0.system); flt[k].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0); sy[k].append(c1.system - c0.system)
    for k in fs:
        print(f"{k:22s} wall {statistics.median(wall[k])*1e3:7.0f} ms  cpu {statistics.median(cpu[k])*1e3:7.0f} ms sys {statistics.median(sy[k])*1e3:5.0f} ms minflt {statistics.median(flt[k]):8.0f}")
    m = lambda d, k: statistics.median(d[k])
    for d, lab in ((wall, "wall"), (cpu, "cpu")):
        print(lab, "ratio raw", 4 * m(d, "xrs") / m(d, "layers"), "l2a", 4 * m(d, "xrs_l2a") / m(d, "layers"),
              "| ceiling (kernel free): raw", 4 * m(d, "xrs") / m(d, "sums_of_persisted"), "l2a", 4 * m(d, "xrs_l2a") / m(d, "sums_of_persisted"))
print(os.getloadavg())
