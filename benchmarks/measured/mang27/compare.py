"""Seed-by-seed comparison of two scenario_sweep records (same seeds):
    python benchmarks/measured/mang27/compare.py OLD.jsonl NEW.jsonl"""

import json
import sys


def load(path):
    return {r["seed"]: r for r in map(json.loads, open(path))}


def ok(pair):
    got, want = pair
    return abs(got - want) <= max(0.2 * want, 3.0)


def main(old_path, new_path):
    old, new = load(old_path), load(new_path)
    seeds = [s for s in new if s in old]
    sets = {}
    for s in seeds:
        sets.setdefault(s // 100 * 100 if s >= 100 else 10, []).append(s)
    print("| set | n | extent within 10 % | gain & loss | gain ok | loss ok | covered | "
          "median width | map gain past the truth ha |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, ss in [*sorted(sets.items()), ("all", seeds)]:
        def row(rec, ss=ss):
            n = len(ss)
            ext = sum(rec[s]["extent_ok"] for s in ss)
            chg = sum(rec[s]["change_ok"] for s in ss)
            g = sum(ok(rec[s]["gain"]) for s in ss)
            lo = sum(ok(rec[s]["loss"]) for s in ss)
            cov = sum(rec[s]["covered"] for s in ss) / n
            w = sorted(rec[s]["width"] for s in ss)[n // 2]
            over = sum(max(rec[s]["gain"][0] - rec[s]["gain"][1], 0) for s in ss)
            return n, ext, chg, g, lo, cov, w, over
        a, b = row(old), row(new)
        print(f"| {name} | {a[0]} | {a[1]} -> {b[1]} | {a[2]} -> {b[2]} | {a[3]} -> {b[3]} | "
              f"{a[4]} -> {b[4]} | {100 * a[5]:.1f} -> {100 * b[5]:.1f} % | {a[6]:.2f} -> "
              f"{b[6]:.2f} | {a[7]:.2f} -> {b[7]:.2f} |")
    print()
    print("Seeds whose figures moved (gain, loss, final extent: [bluecarbon, truth] ha):")
    for s in seeds:
        o, n = old[s], new[s]
        if any(abs(o[k][0] - n[k][0]) > 0.005 for k in ("gain", "loss", "final", "baseline")):
            flag = {(False, True): "newly ok", (True, False): "NEWLY FAILING"}.get(
                (o["change_ok"], n["change_ok"]), "")
            print(f"  {s}: gain {o['gain'][0]:.2f} -> {n['gain'][0]:.2f} of {n['gain'][1]:.2f}; "
                  f"loss {o['loss'][0]:.2f} -> {n['loss'][0]:.2f} of {n['loss'][1]:.2f}; final "
                  f"{o['final'][0]:.2f} -> {n['final'][0]:.2f} of {n['final'][1]:.2f}; covered "
                  f"{o['covered']:.2f} -> {n['covered']:.2f} {flag}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
