# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg42: proto42.py's jsonl summed: baseline within 15 % (v6 -> prototype), summed abs error, the
prototype's additions (true meadow on assessable water / true meadow beyond z_vis / not meadow),
seeds gained and lost; with ``qlt1`` the prototype only on sites whose blue map is empty (q < 1).

    python benchmarks/measured/sg42/summ42.py proto42-seen-dev80.jsonl
"""
import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
for qlt in (False, True):
    ok6 = okp = 0; e6 = ep = 0; at = ad = af = 0; gained = []; lost = []
    for r in R:
        use = (r['q'] < 1) if qlt else True
        p = r['proto'] if use else r['v6']
        okk = abs(p - r['truth']) <= 0.15 * r['truth']
        ok6 += r['ok_v6']; okp += okk; e6 += abs(r['v6'] - r['truth']); ep += abs(p - r['truth'])
        if use:
            at += r['add_true']; ad += r['add_deep']; af += r['add_false']
        if okk and not r['ok_v6']: gained.append(r['seed'])
        if r['ok_v6'] and not okk: lost.append(r['seed'])
    print(f"{'q<1 sites only' if qlt else 'all sites'} (n={len(R)}): within 15 % {ok6} -> {okp}, summed abs err {e6:.0f} -> {ep:.0f} ha,"
          f" added true/deep/false {at:.0f}/{ad:.0f}/{af:.0f} ha, gained {gained}, lost {lost}")
