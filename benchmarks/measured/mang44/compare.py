"""Seed by seed: record A (first argument, e.g. main's ../mang36/dev120_guard.jsonl) against
record B (second, e.g. dev120_v17.jsonl) on the seeds of B. Prints the sums of extent_ok,
change_ok and covered per set of 20 and in all, then the seeds whose figures differ."""
import json
import sys

a = {r["seed"]: r for r in map(json.loads, open(sys.argv[1])) if "seed" in r}
b = {r["seed"]: r for r in map(json.loads, open(sys.argv[2])) if "seed" in r}
seeds = sorted(b)
sets = sorted({s // 100 * 100 if s >= 100 else 10 for s in seeds})


def line(name, ss):
    n = len(ss)
    ext = [sum(r[s]["extent_ok"] for s in ss) for r in (a, b)]
    chg = [sum(r[s]["change_ok"] for s in ss) for r in (a, b)]
    cov = [100 * sum(r[s]["covered"] for s in ss) / n for r in (a, b)]
    print(f"| {name} | {n} | {ext[0]} -> {ext[1]} | {chg[0]} -> {chg[1]} | "
          f"{cov[0]:.1f} -> {cov[1]:.1f} % |")


print("| set | n | extent_ok | change_ok | covered (mean of seeds) |")
print("|---|---|---|---|---|")
for st in sets:
    line(str(st), [s for s in seeds if (s // 100 * 100 if s >= 100 else 10) == st])
line("all", seeds)
keys = ("baseline", "final", "gain", "loss", "covered", "extent_ok", "change_ok")
moved = [s for s in seeds if any(a[s][k] != b[s][k] for k in keys)]
print(f"\n{len(moved)} of {len(seeds)} seeds moved (A -> B, [bluecarbon, truth] ha):")
for s in moved:
    d = "; ".join(f"{k} {a[s][k]} -> {b[s][k]}" for k in keys if a[s][k] != b[s][k])
    print(f"  {s}: {d}")
