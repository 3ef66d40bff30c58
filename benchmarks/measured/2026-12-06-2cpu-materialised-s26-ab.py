import os, sys, time, statistics, resource
sys.path.insert(0, "benchmarks")
import dask, numba, numpy as np, xarray as xr
import run as bench_run
from indices import compute_indices, _layers
from xrspatial.multispectral import ndvi as xrs_ndvi
numba.set_num_threads(2)
names = bench_run.NAMES
size = int(sys.argv[1]); rounds = int(sys.argv[2])
with dask.config.set(scheduler="threads", num_workers=2):
    cube, local = bench_run.memory_cube(size, 2048)
    def layers():
        ix = compute_indices(cube, names)
        return dask.compute(*[ix[n].sum() for n in names])
    def layers_pool():
        _layers.BUFFERS.min_bytes = 1 << 20
        return layers()
    def layers_malloc():
        _layers.BUFFERS.min_bytes = 1 << 62
        return layers()
    def xrs():
        nir = xr.DataArray(cube["B08"].data[0], dims=("y", "x"))
        red = xr.DataArray(cube["B04"].data[0], dims=("y", "x"))
        return xrs_ndvi(nir, red).sum().compute()
    def l2a(b):
        dn = xr.DataArray(cube[b].data[0], dims=("y", "x"))
        return (dn.astype(np.float32) - np.float32(1000)).where(dn != 0)
    def xrs_l2a():
        return xrs_ndvi(l2a("B08"), l2a("B04")).sum().compute()
    fs = {"layers_pool": layers_pool, "layers_malloc": layers_malloc, "xrs": xrs, "xrs_l2a": xrs_l2a}
    ref = None
    for f in fs.values(): f()
    assert [float(v) for v in layers_pool()] == [float(v) for v in layers_malloc()]
    wall = {k: [] for k in fs}; cpu = {k: [] for k in fs}; flt = {k: [] for k in fs}; sy = {k: [] for k in fs}
    for r in range(rounds):
        ks = list(fs); ks = ks[r % len(ks):] + ks[:r % len(ks)]
        for k in ks:
            t0 = time.perf_counter(); c0 = os.times(); f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            fs[k]()
            c1 = os.times(); wall[k].append(time.perf_counter() - t0)
            cpu[k].append(c1.user + c1.system - c0.user - c0.system); sy[k].append(c1.system - c0.system)
            flt[k].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    m = lambda d, k: statistics.median(d[k])
    for k in fs:
        print(f"{k:14s} wall {m(wall,k)*1e3:7.0f} ms (min {min(wall[k])*1e3:.0f} max {max(wall[k])*1e3:.0f})  cpu {m(cpu,k)*1e3:6.0f} ms  sys {m(sy,k)*1e3:5.0f} ms  minflt {m(flt,k):7.0f}")
    for lay in ("layers_pool", "layers_malloc"):
        for d, lab in ((wall, "wall"), (cpu, "cpu")):
            print(f"{lay:14s} {lab}: ratio raw {4 * m(d, 'xrs') / m(d, lay):.2f}x  l2a {4 * m(d, 'xrs_l2a') / m(d, lay):.2f}x")
print("load", os.getloadavg())
