#!/bin/sh
# Rows and maps of main's tree (perf37-base, git archive 9a53235) and this branch, same_outputs:
# the 400² and 2000² benchmark sites (phase_run.sh, KEEP_OUT), then the offline demo.
H=/work/wt/perf37/benchmarks/measured/perf37; W=/tmp/p37-id; rm -rf $W; mkdir -p $W
for size in 400 2000; do
  for t in base:/work/wt/perf37-base br:/work/wt/perf37; do
    KEEP_OUT=$W/$size-${t%%:*} $H/phase_run.sh ${t#*:} $W/$size-${t%%:*}.json $size > /dev/null 2>&1
  done
  echo "$size: $(cd /work/wt/perf37 && /work/main/.venv/bin/python -m benchmarks.same_outputs $W/$size-base $W/$size-br 2>&1 | tail -3)"
done
$H/identity_demo.sh
