# ruff: noqa  (a one-off script kept as a record: generated the held-out scenes 3200-3219 into /work/wt/cache-sg35, generator only)
import sys; from pathlib import Path
sys.path[:0]=['/work/wt/sg35','/work/wt/sg35/tests','/work/wt/sg35/benchmarks']
from scenario_sweep import scenario, SIZE, MONTHS
import time
for s in range(3200,3220):
    t=time.time(); scenario(s,'seagrass',SIZE,MONTHS,Path('/work/wt/cache-sg35')); print(s, round(time.time()-t,1), flush=True)
