"""Seed by seed: mang37's v15 record (dev120_v15.jsonl) against this branch's v16 on the 26 dev
seeds with a fill. Prints the seeds whose figures differ, then the sums."""
import json
import sys

a = {r["seed"]: r for r in map(json.loads, open(sys.argv[1])) if "seed" in r}
b = {r["seed"]: r for r in map(json.loads, open(sys.argv[2])) if "seed" in r}
keys = ("baseline", "final", "gain", "loss", "covered", "extent_ok", "change_ok")
moved = 0
for s in sorted(b):
    d = {k: (a[s][k], b[s][k]) for k in keys if a[s][k] != b[s][k]}
    if d:
        moved += 1
        print(s, d)
print(f"{len(b)} seeds, {moved} moved")
for k in ("extent_ok", "change_ok"):
    print(k, sum(a[s][k] for s in b), "->", sum(b[s][k] for s in b))
