#!/bin/sh
# ledger_cost.py from main's tree (/tmp/perf38-base, git archive 1a9c552) and the branch,
# 5 alternating rounds of fresh processes. Output: ledger_cost.log.
H=/work/wt/perf38/benchmarks/measured/perf38
for r in 1 2 3 4 5; do
  for t in main:/tmp/perf38-base branch:/work/wt/perf38; do
    tree=${t#*:}
    echo "${t%%:*} $r $(cd $tree && PYTHONPATH=$tree:$tree/tests /work/main/.venv/bin/python $H/ledger_cost.py)"
  done
done
