#!/bin/sh
# Same-run phase rounds, bluecarbon (TREE) and the bottleneck peer alternated:
#   phase_rounds.sh TREE TAG SIZE ROUNDS   -> phases/{bc,peer}-SIZE-TAG-r.json and .txt
H=/work/wt/perf37/benchmarks/measured/perf37
for r in $(seq 1 $4); do
  echo "== round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  $H/phase_run.sh $1 $H/phases/bc-$3-$2-$r.json $3 2>&1 | sed -n '/^phase/,$p' > $H/phases/bc-$3-$2-$r.txt
  WHO=peer $H/phase_run.sh $1 $H/phases/peer-$3-$2-$r.json $3 2>&1 | sed -n '/^phase/,$p' > $H/phases/peer-$3-$2-$r.txt
done
