"""Tables of diag.py's records (helper mang32): per seed, the baseline error split by cause.
    python benchmarks/measured/mang32/table.py benchmarks/measured/mang32/diag_v11_dev.jsonl"""
import json
import sys

recs = [json.loads(line) for line in open(sys.argv[1])]
print("seed  truth mapped  err%  | FN ha: unseen ctx(only/spec) mvi/axis floor  | FP ha (top) "
      "| state axis mvi_min shore_med inland_q90 inland_mangrove% truth_mvi_med")
for r in sorted(recs, key=lambda r: r["seed"]):
    t, m = r["truth_ha"], r["mapped_ha"]
    f = {k: v / 100 for k, v in r["fn_px"].items()}
    fp = list(r["fp_px"].items())[:2]
    p = r["params"]
    inl = r["inland"]["is"]
    share = inl.get("mangrove", 0) / max(r["inland"]["n"], 1)
    print(f"{r['seed']:5d} {t:6.1f} {m:6.1f} {100 * (m - t) / t:+6.1f} | {f['unseen']:5.1f} "
          f"{f['ctx_only']:5.1f}/{f['ctx_spec']:4.1f} {f.get('mvi', 0) + f.get('axis', 0):6.1f} "
          f"{f['floor']:5.1f} | {r['fp_ha']:5.1f} {fp} | {p['estimated']:+.0f} {p['axis_used']:.0f} "
          f"{p['mvi_min']:.2f} {p['shore_mvi']:.2f} {p['inland_mvi_q90']:.2f} {100 * share:4.1f} "
          f"{r['truth_mvi'][1]:.2f}")
