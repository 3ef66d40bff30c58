#!/bin/sh
# Same-run phase rounds of main's tree (perf37-base), this branch and the bottleneck peer,
# order rotated each round:  phase_ab.sh SIZE ROUNDS  -> phases/{bc-SIZE-main,bc-SIZE-branch,peer-SIZE-ab}-r.*
H=/work/wt/perf37/benchmarks/measured/perf37
run() {  # who round
  case $1 in
    main) $H/phase_run.sh /work/wt/perf37-base $H/phases/bc-$SIZE-main-$2.json $SIZE 2>&1 | sed -n '/^phase/,$p' > $H/phases/bc-$SIZE-main-$2.txt;;
    branch) $H/phase_run.sh /work/wt/perf37 $H/phases/bc-$SIZE-branch-$2.json $SIZE 2>&1 | sed -n '/^phase/,$p' > $H/phases/bc-$SIZE-branch-$2.txt;;
    peer) WHO=peer $H/phase_run.sh /work/wt/perf37 $H/phases/peer-$SIZE-main-$2.json $SIZE 2>&1 | sed -n '/^phase/,$p' > $H/phases/peer-$SIZE-main-$2.txt;;
  esac
}
SIZE=$1
for r in $(seq 1 $2); do
  echo "== $SIZE round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  case $((r % 3)) in
    1) run main $r; run branch $r; run peer $r;;
    2) run branch $r; run peer $r; run main $r;;
    0) run peer $r; run main $r; run branch $r;;
  esac
done
