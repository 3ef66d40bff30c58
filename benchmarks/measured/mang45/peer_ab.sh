#!/bin/sh
# Same-run A/B of the peer's import cost: mang44's peer.py (29efb78) against mang45's,
# interleaved, 3 times each (review 38's peer_cost.py). Run from the worktree's root.
mkdir -p /tmp/m44/benchmarks
git show 29efb78:benchmarks/peer.py > /tmp/m44/benchmarks/peer.py
touch /tmp/m44/benchmarks/__init__.py
for i in 1 2 3; do
  (cd /tmp && PYTHONPATH=/tmp/m44:$OLDPWD /work/main/.venv/bin/python $OLDPWD/benchmarks/measured/mang45/peer_cost.py | sed 's/^/mang44 /')
  PYTHONPATH=$PWD:$PWD/tests /work/main/.venv/bin/python benchmarks/measured/mang45/peer_cost.py | sed 's/^/mang45 /'
done
