#!/bin/sh
# The records of README.md (helper sg26): every layer x calibration on the 60 dev seeds
# (sg25's dumps /work/wt/sg25-dump) and on 300-319 (/work/wt/sg25-dump300).
cd "$(dirname "$0")/../../.." || exit 1
O=benchmarks/measured/sg26
PY="nice -n 5 /work/main/.venv/bin/python $O/layer.py"
for cal in truth scene; do
  for v in "c1:--cell 1" "c12:--cell 12" "c12-iho2:--cell 12 --err 0.0117 --err-abs 0.51" \
           "c12-e5:--cell 12 --err 0.05 --err-abs 1" "c12-e10:--cell 12 --err 0.10 --err-abs 1" \
           "c46:--cell 46" "c46-e5:--cell 46 --err 0.05 --err-abs 1" \
           "c46-e10:--cell 46 --err 0.10 --err-abs 1"; do
    name=${v%%:*}; opts=${v#*:}
    [ -f $O/dev-$cal-$name.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump 10-29 200-219 1300-1319 \
        $opts --cal $cal --out $O/dev-$cal-$name.jsonl | tail -1 | sed "s/^/dev $cal $name /"
    [ -f $O/s300-$cal-$name.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump300 300-319 \
        $opts --cal $cal --out $O/s300-$cal-$name.jsonl | tail -1 | sed "s/^/s300 $cal $name /"
  done
done
# part B: no layer, the distance from the shore (judged on 300-319 only)
for set in "dev:/work/wt/sg25-dump 10-29 200-219 1300-1319" "s300:/work/wt/sg25-dump300 300-319"; do
  n=${set%%:*}; args=${set#*:}
  [ -f $O/$n-dist.jsonl ] || PYTHONPATH=$PWD $PY $args --cal dist --out $O/$n-dist.jsonl \
      | tail -1 | sed "s/^/$n dist /"
done
# the scene's own calibration, second version (knobs chosen on the dev seeds, minfrac-dev.log):
# bins where >= 10 % of the water is the rule's own sand, from the shore down with gaps of
# <= 2 m, and nothing judged deeper than that (--zcut)
S2="--cal scene --min-frac 0.1 --gap 2 --zcut"
for v in "c1:--cell 1" "c12:--cell 12" "c12-iho2:--cell 12 --err 0.0117 --err-abs 0.51" \
         "c12-e5:--cell 12 --err 0.05 --err-abs 1" "c12-e10:--cell 12 --err 0.10 --err-abs 1" \
         "c46:--cell 46" "c46-e5:--cell 46 --err 0.05 --err-abs 1" \
         "c46-e10:--cell 46 --err 0.10 --err-abs 1"; do
  name=${v%%:*}; opts=${v#*:}
  [ -f $O/dev-scene2-$name.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump 10-29 200-219 1300-1319 \
      $opts $S2 --out $O/dev-scene2-$name.jsonl | tail -1 | sed "s/^/dev scene2 $name /"
  [ -f $O/s300-scene2-$name.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump300 300-319 \
      $opts $S2 --out $O/s300-scene2-$name.jsonl | tail -1 | sed "s/^/s300 scene2 $name /"
done
# part B with the same options (distance from the shore in place of the depth)
for set in "dev:/work/wt/sg25-dump 10-29 200-219 1300-1319" "s300:/work/wt/sg25-dump300 300-319"; do
  n=${set%%:*}; args=${set#*:}
  [ -f $O/$n-dist2.jsonl ] || PYTHONPATH=$PWD $PY $args --cal dist --min-frac 0.1 --gap 2 --zcut \
      --out $O/$n-dist2.jsonl | tail -1 | sed "s/^/$n dist2 /"
done
# where it breaks: larger errors, a coarser grid, a datum offset (+2 m: LAT against the water
# at the image's tide)
for cal in "truth:--cal truth" "scene2:$S2"; do
  c=${cal%%:*}; copts=${cal#*:}
  for v in "c12-e20:--cell 12 --err 0.20 --err-abs 1" "c46-e20:--cell 46 --err 0.20 --err-abs 1" \
           "c92:--cell 92" "c12-e5-b2:--cell 12 --err 0.05 --err-abs 1 --bias 2"; do
    name=${v%%:*}; opts=${v#*:}
    [ -f $O/dev-$c-$name.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump 10-29 200-219 1300-1319 \
        $opts $copts --out $O/dev-$c-$name.jsonl | tail -1 | sed "s/^/dev $c $name /"
    [ -f $O/s300-$c-$name.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump300 300-319 \
        $opts $copts --out $O/s300-$c-$name.jsonl | tail -1 | sed "s/^/s300 $c $name /"
  done
done
# the layer error's draw: two more draws of the 1 m + 10 % layers (how much of the spread
# between rows is the draw)
for cal in "truth:--cal truth" "scene2:$S2"; do
  c=${cal%%:*}; copts=${cal#*:}
  for v in "c12-e10:--cell 12 --err 0.10 --err-abs 1" "c46-e10:--cell 46 --err 0.10 --err-abs 1"; do
    name=${v%%:*}; opts=${v#*:}
    for dr in 1 2; do
      [ -f $O/dev-$c-$name-d$dr.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump 10-29 200-219 \
          1300-1319 $opts $copts --draw $dr --out $O/dev-$c-$name-d$dr.jsonl | tail -1 \
          | sed "s/^/dev $c $name draw $dr /"
      [ -f $O/s300-$c-$name-d$dr.jsonl ] || PYTHONPATH=$PWD $PY /work/wt/sg25-dump300 300-319 \
          $opts $copts --draw $dr --out $O/s300-$c-$name-d$dr.jsonl | tail -1 \
          | sed "s/^/s300 $c $name draw $dr /"
    done
  done
done
