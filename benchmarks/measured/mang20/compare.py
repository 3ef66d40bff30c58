import json, sys
def load(p):
    return {r["seed"]: r for r in map(json.loads, open(p))}
m, b = load(sys.argv[1]), load(sys.argv[2])
sets = [(10,29),(300,319),(700,719),(900,919),(1200,1219),(1600,1619)]
for lo, hi in sets:
    seeds = [s for s in range(lo, hi+1) if s in m and s in b]
    if not seeds: continue
    n = len(seeds)
    def rate(d, k): return 100*sum(d[s][k] for s in seeds)/n
    cov = lambda d: 100*sum(d[s]["covered"] for s in seeds)/n
    print(f"{lo}-{hi} n={n}: change_ok {rate(m,'change_ok'):.0f} -> {rate(b,'change_ok'):.0f} %, extent_ok {rate(m,'extent_ok'):.0f} -> {rate(b,'extent_ok'):.0f} %, covered {cov(m):.1f} -> {cov(b):.1f} %")
for s in sorted(set(m)&set(b)):
    x, y = m[s], b[s]
    if any(x[k] != y[k] for k in ("gain","loss","final","baseline")):
        worse = []
        for k in ("gain","loss","final","baseline"):
            ex, ey = abs(x[k][0]-x[k][1]), abs(y[k][0]-y[k][1])
            if ey > ex + 1e-9: worse.append(k)
        print(f"  {s}: gain {x['gain'][0]:.2f}->{y['gain'][0]:.2f} (true {x['gain'][1]:.2f}), loss {x['loss'][0]:.2f}->{y['loss'][0]:.2f} ({x['loss'][1]:.2f}), final {x['final'][0]:.1f}->{y['final'][0]:.1f} ({x['final'][1]:.1f}), cov {x['covered']:.2f}->{y['covered']:.2f} ok {x['change_ok']}->{y['change_ok']}/{x['extent_ok']}->{y['extent_ok']} {'WORSE '+','.join(worse) if worse else ''}")
import statistics
print()
for lo, hi in sets:
    seeds = [s for s in range(lo, hi+1) if s in m and s in b]
    if not seeds: continue
    def gains(d): return sum(abs(d[s]["gain"][0]-d[s]["gain"][1]) <= max(0.2*d[s]["gain"][1], 3.0) for s in seeds)
    def losses(d): return sum(abs(d[s]["loss"][0]-d[s]["loss"][1]) <= max(0.2*d[s]["loss"][1], 3.0) for s in seeds)
    w = lambda d: statistics.median(d[s]["width"] for s in seeds)
    print(f"{lo}-{hi}: gains ok {gains(m)} -> {gains(b)}, losses ok {losses(m)} -> {losses(b)}, median width {w(m):.2f} -> {w(b):.2f}; change_ok fails main {[s for s in seeds if not m[s]['change_ok']]} branch {[s for s in seeds if not b[s]['change_ok']]}")
    worse = [s for s in seeds if (m[s]['change_ok'] and not b[s]['change_ok']) or (m[s]['extent_ok'] and not b[s]['extent_ok'])]
    print("   newly failing:", worse)
