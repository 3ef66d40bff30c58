#!/bin/sh
# The offline demo (every bundled site) from main's tree and this branch, then same_outputs.
W=/tmp/p37-demo; rm -rf $W; mkdir -p $W
for t in base:/work/wt/perf37-base br:/work/wt/perf37; do
  name=${t%%:*}; tree=${t#*:}
  (cd $tree && PREFECT_HOME=/work/wt/cache-perf37/prefect-home PYTHONPATH=$tree \
    /usr/bin/time -f "$name demo %e s %U u %S s %M KB" /work/main/.venv/bin/python -m flows.cli run \
    --source demo --out $W/$name 2>&1 | tail -2; echo "$name demo rc $?")
done
cd /work/wt/perf37 && /work/main/.venv/bin/python -m benchmarks.same_outputs $W/base $W/br
