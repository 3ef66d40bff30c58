# ruff: noqa  (a one-off summary kept as a record, not project code)
"""sg43: counts within 15 % of the baseline extent under truth definitions A, B, C (and C's
exact-median sensitivity Cx), the seeds that move against A, and the per-seed table.

    python benchmarks/measured/sg43/sum43.py water43-dev80.jsonl water43d-dev80.jsonl [../sg42/breakdown-dev80.jsonl]

(water43d-dev80.jsonl: variant D, the truth without the scene-wide atmospheric offset; merged by seed.)
"""
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
dd = {r["seed"]: r for r in map(json.loads, open(sys.argv[2]))}
for r in rows:
    r.update(dd[r["seed"]])
sys.argv.pop(2)
DEEP6 = [29, 302, 307, 201, 214, 1304]  # sg42: failing only on true meadow below z_vis
ok = lambda c, t: abs(c - t) <= 0.15 * t
err = lambda c, t: 100 * (c - t) / t if t > 0 else float("inf")
if len(sys.argv) > 2:  # check: the same code and scenes as sg42's breakdown (rule v6)
    old = {r["seed"]: r for r in map(json.loads, open(sys.argv[2]))}
    bad = [r["seed"] for r in rows if abs(r["called"] - old[r["seed"]]["called"]) > 0.005
           or abs(r["truth_A"] - old[r["seed"]]["truth"]) > 0.005]
    print(f"check vs sg42 breakdown (called, truth A): {len(rows) - len(bad)} of {len(rows)} equal; differ: {bad}")
print(f"check truth_A == truth csv: {sum(abs(r['truth_A'] - r['truth_sweep']) < 0.005 for r in rows)} of {len(rows)}")
# B guarded: B within 15 % and the truth meadow the rule left unassessed inside the truth's
# water at most 15 % of A's truth (so a rule cannot pass by assessing less)
DEF = {"A": lambda r: ok(r["called"], r["truth_A"]),
       "B": lambda r: ok(r["called"], r["truth_B"]),
       "B+guard": lambda r: ok(r["called"], r["truth_B"]) and r["meadow_unassessed_rule_in_A"] <= 0.15 * r["truth_A"],
       "C": lambda r: ok(r["called"], r["truth_C"]),
       "Cx": lambda r: ok(r["called"], r["truth_Cx"]),
       "D1": lambda r: ok(r["called"], r["truth_D1"]),
       "D": lambda r: ok(r["called"], r["truth_D"])}
res = {k: {r["seed"] for r in rows if f(r)} for k, f in DEF.items()}
print(f"\n| definition | within 15 % (of {len(rows)}) | gained vs A | lost vs A | sum |called - truth| ha |")
print("|---|---|---|---|---|")
tk = {"A": "truth_A", "B": "truth_B", "B+guard": "truth_B", "C": "truth_C", "Cx": "truth_Cx", "D1": "truth_D1", "D": "truth_D"}
for k in DEF:
    g, l = sorted(res[k] - res["A"]), sorted(res["A"] - res[k])
    s = sum(abs(r["called"] - r[tk[k]]) for r in rows)
    print(f"| {k} | {len(res[k])} | {len(g)}: {g} | {len(l)}: {l} | {s:.0f} |")
print(f"\nsg42's six 'true meadow below z_vis' seeds {DEEP6}: "
      + ", ".join(f"{k} {sum(s in res[k] for s in DEEP6)}/6" for k in DEF))
tot = lambda key: sum(r[key] for r in rows)
print(f"\nall seeds: truth-assessable water {tot('ass_truth_ha'):.0f} ha, rule-assessed {tot('ass_rule_ha'):.0f} ha "
      f"(both {tot('ass_both_ha'):.0f}), C's water {tot('ass_C_ha'):.0f} ha; meadow (all depths) {tot('meadow_all'):.0f} ha, "
      f"A {tot('truth_A'):.0f}, B {tot('truth_B'):.0f}, C {tot('truth_C'):.0f}, D1 {tot('truth_D1'):.0f}, D {tot('truth_D'):.0f}; meadow the rule left unassessed "
      f"{tot('meadow_unassessed_rule'):.0f} ha ({tot('meadow_unassessed_rule_in_A'):.0f} inside A's water); "
      f"true meadow the rule assessed beyond z_vis {tot('meadow_rule_beyond_A'):.0f} ha; called beyond z_vis {tot('called_beyond_A'):.0f} ha, outside C's water {tot('called_outside_C'):.0f} ha")
ratios = sorted(r["rule_over_truth"] for r in rows)
print(f"rule / truth assessed area: median {ratios[len(ratios)//2]:.2f}, min {ratios[0]:.2f}, max {ratios[-1]:.2f}; "
      f"< 0.85: {sum(x < 0.85 for x in ratios)}, > 1.15: {sum(x > 1.15 for x in ratios)}")
print("\n| seed | called ha | A ha (err %) | B ha (err %) | C ha (err %) | rule/truth area | meadow unassessed by rule ha (in A) | z_vis m | z_vis C med m | views med | kd490 | A B C (. within 15 %, x not) |")
print("|" + "---|" * 12)
for r in rows:
    if len({DEF[k](r) for k in ("A", "B", "C")}) == 1 and r["seed"] not in DEEP6:
        continue  # only seeds that move between definitions, and sg42's six
    f = lambda t: f"{r[t]:.1f} ({err(r['called'], r[t]):+.0f})"
    print(f"| {r['seed']} | {r['called']:.1f} | {f('truth_A')} | {f('truth_B')} | {f('truth_C')} | {r['rule_over_truth']:.2f} | "
          f"{r['meadow_unassessed_rule']:.1f} ({r['meadow_unassessed_rule_in_A']:.1f}) | {r['zvis']:.1f} | {r['zvis_C_med']:.1f} | "
          f"{r['n_med']:.0f} | {r['kd490']:.3f} | {''.join('x.'[DEF[k](r)] for k in ('A', 'B', 'C'))} |")
