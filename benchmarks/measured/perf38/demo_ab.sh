#!/bin/sh
# The offline demo (`bluecarbon run`, every bundled site, fresh results folder) from main's
# tree (git archive 1a9c552 in /tmp/perf38-base) and this branch, 3 paired rounds (order
# alternated), /usr/bin/time: wall, user, sys CPU s, max RSS; then whether scipy.stats was
# in sys.modules at the end of the run (run_check.py). Output: demo_ab.log.
H=/work/wt/perf38/benchmarks/measured/perf38; W=/tmp/perf38-ab; rm -rf $W; mkdir -p $W
export PREFECT_HOME=/tmp/perf38-prefect
one() {  # name tree round
  (cd $2 && PYTHONPATH=$2 /usr/bin/time -f "$1 round $3: %e s wall %U user %S sys %M KB" \
    /work/main/.venv/bin/python $H/run_check.py run --source demo --out $W/$1-$3 \
    2>&1 >/dev/null | grep -E "round|scipy.stats")
}
for r in 1 2 3; do
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ $r = 2 ]; then one branch /work/wt/perf38 $r; one main /tmp/perf38-base $r
  else one main /tmp/perf38-base $r; one branch /work/wt/perf38 $r; fi
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
cd /work/wt/perf38 && /work/main/.venv/bin/python -m benchmarks.same_outputs $W/main-1 $W/branch-1 2>&1 | tail -40
