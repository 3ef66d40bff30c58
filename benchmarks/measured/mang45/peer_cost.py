import resource, sys, time
t0 = time.process_time()
import benchmarks.peer as peer
t1 = time.process_time()
import numpy as np, xarray as xr
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if hasattr(peer, "thin_month_factor"):
    peer.thin_month_factor(xr.DataArray(np.zeros((2, 2), int), dims=("y", "x")), 3)
t2 = time.process_time()
print(f"import {t1-t0:.2f} s  factor {t2-t1:.2f} s  stats={'scipy.stats' in sys.modules} rss {rss0:.0f}->{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
