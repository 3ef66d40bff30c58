#!/bin/sh
# One phase-timed run of the 400² (or 2000²) benchmark site: bluecarbon from TREE, or the
# bottleneck peer (WHO=peer):   [WHO=peer] phase_run.sh TREE OUT.json [SIZE]
# cache: /work/wt/cache-perf37 (perf36's COGs, hard links); a fresh results folder each run.
TREE=$1; OUT=$(realpath -m "$2"); SIZE=${3:-400}; case $SIZE in 400) PX=402;; 2000) PX=2004;; *) echo "size 400 or 2000" >&2; exit 2;; esac
HERE=/work/wt/perf37/benchmarks/measured/perf37
CACHE=/work/wt/cache-perf37; WORK=$(mktemp -d /tmp/perf37-XXXX)
CAT=$CACHE/tile-$PX-s0-v2-coast2/catalog-24/catalog.json
cd "$TREE" && PYTHONPATH=$TREE:/work/wt/perf37 /work/main/.venv/bin/python -c "
from pathlib import Path; from benchmarks.job_runs import sites_file; sites_file(Path('$WORK'), $SIZE)"
if [ "$WHO" = peer ]; then
PYTHONPATH=$TREE /work/main/.venv/bin/python $HERE/peer_phases.py --json "$OUT" -- \
  --catalog $CAT --sites $WORK/site-$SIZE.geojson --out $WORK/out --median bottleneck --end 2025-11-25
else
PREFECT_HOME=$CACHE/prefect-home PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
PYTHONPATH=$TREE /work/main/.venv/bin/python $HERE/phases.py \
  --json "$OUT" -- run --source stac --catalog $CAT \
  --sites $WORK/site-$SIZE.geojson --out $WORK/out --end 2025-11-25 --max-area-ha 2000000
fi
if [ -n "$KEEP_OUT" ]; then rm -rf "$KEEP_OUT"; mv "$WORK/out" "$KEEP_OUT"; fi
rm -rf "$WORK"
