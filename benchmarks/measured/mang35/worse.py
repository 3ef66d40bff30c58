"""Seed by seed, main against branch: every seed whose figures moved, and which got worse
(extent test lost or |baseline|/|final| error up by > 1 point, change test lost, covered down):
    python worse.py MAIN.jsonl BRANCH.jsonl"""
import json
import sys


def load(path):
    return {r["seed"]: r for r in map(json.loads, open(path))}


def err(pair):
    got, want = pair
    return 100 * (got - want) / want if want else float("nan")


def main(old_path, new_path):
    old, new = load(old_path), load(new_path)
    seeds = sorted(s for s in new if s in old)
    moved = worse = 0
    print("| seed | baseline err % | final err % | gain [map, truth] ha | extent ok | gain & loss ok | covered | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for s in seeds:
        a, b = old[s], new[s]
        if all(a[k] == b[k] for k in ("baseline", "final", "gain", "loss", "covered")):
            continue
        moved += 1
        bad = []
        if a["extent_ok"] and not b["extent_ok"]:
            bad.append("extent test lost")
        if abs(err(b["baseline"])) > abs(err(a["baseline"])) + 1:
            bad.append("baseline error up")
        if abs(err(b["final"])) > abs(err(a["final"])) + 1:
            bad.append("final error up")
        if a["change_ok"] and not b["change_ok"]:
            bad.append("change test lost")
        if b["covered"] < a["covered"] - 1e-9:
            bad.append("covered down")
        worse += bool(bad)
        print(f"| {s} | {err(a['baseline']):+.1f} -> {err(b['baseline']):+.1f} | "
              f"{err(a['final']):+.1f} -> {err(b['final']):+.1f} | "
              f"{a['gain'][0]:.2f} -> {b['gain'][0]:.2f} of {b['gain'][1]:.2f} | "
              f"{a['extent_ok']:d} -> {b['extent_ok']:d} | {a['change_ok']:d} -> {b['change_ok']:d} | "
              f"{a['covered']:.3f} -> {b['covered']:.3f} | {'; '.join(bad) or 'better or same'} |")
    print(f"\n{moved} of {len(seeds)} seeds moved; {worse} worse on some figure")


if __name__ == "__main__":
    main(*sys.argv[1:3])
