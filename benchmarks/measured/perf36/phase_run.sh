#!/bin/sh
# One phase-timed `bluecarbon run` of the 400² benchmark site (or SIZE) from TREE:
#   phase_run.sh TREE OUT.json [SIZE]
# cache: /work/wt/cache-perf36 (a copy of perf35's COGs); a fresh results folder each run.
TREE=$1; OUT=$(realpath -m "$2"); SIZE=${3:-400}; case $SIZE in 400) PX=402;; 2000) PX=2004;; *) echo "size 400 or 2000" >&2; exit 2;; esac
CACHE=/work/wt/cache-perf36; WORK=$(mktemp -d /tmp/perf36-XXXX)
cd "$TREE" && PYTHONPATH=$TREE:/work/wt/perf36 /work/main/.venv/bin/python -c "
from pathlib import Path; from benchmarks.job_runs import sites_file; sites_file(Path('$WORK'), $SIZE)"
PREFECT_HOME=$CACHE/prefect-home PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
PYTHONPATH=$TREE /work/main/.venv/bin/python /work/wt/perf36/benchmarks/measured/perf36/phases.py \
  --json "$OUT" -- run --source stac --catalog $CACHE/tile-$PX-s0-v2-coast2/catalog-24/catalog.json \
  --sites $WORK/site-$SIZE.geojson --out $WORK/out --end 2025-11-25 --max-area-ha 2000000
if [ -n "$KEEP_OUT" ]; then rm -rf "$KEEP_OUT"; mv "$WORK/out" "$KEEP_OUT"; fi
rm -rf "$WORK"
