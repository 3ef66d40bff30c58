# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg37: a place test in blue (issue 17), records-only prototype on sg36's prepared arrays
(/work/wt/cache-sg36prep; main's water fit, score, bottom signals; the truth only scores).

Question asked at each place the rule leaves not assessable: would sand and meadow differ there
beyond the noise?  From the rule's own sand (assessed, score < 0, g > 0):

1. Fields.  Per 10 x 10 px block the median of the sand's blue bottom signal b and of its ln g,
   then the median over the 5 x 5 blocks around (sg36's robust local median, Tukey 1977).
   A local plane over the same window (Cleveland 1979, degree 1) gives the field's gradient.
2. Deep-blue bias beta.  On sand, Lyzenga (1981): b_true = C g^r (r = k_B/k_G, the site's).
   The fitted deep blue is biased (sg35, sg36), b = b_true + beta; beta is the intercept of the
   least-squares line of the sand blocks' b on g^r (r, g the rule's).  Variant "nobeta": beta=0.
3. Extension.  Outside the field's blocks, the nearest field block's sand is carried outward
   with Maritorena et al. (1994)'s decay, R - R_inf ~ exp(-2 K z): ln b_true falls at the
   rate gamma_B = |grad ln b_true| of the field at that block (variant "gG": r |grad ln g|,
   Lyzenga's k_B = r k_G; "gmax": the larger of the two), b_true(d) = b_true_e exp(-gamma_B d).
4. Support (the truth's question).  A place is assessable where the blue difference between
   sand and a bottom at the rule's threshold (albedo_ratio_blue times sand's) exceeds the
   rule's margin: (1 - a_B) b_true(d) >= detect sigma_B.  Variant "capN": also d <= N m
   (N = 200: the local plane's own window radius, R B 10 m, i.e. no extrapolation beyond the
   distance over which the gradient was measured; 100 and 300 as sensitivity).
5. The call at a supported not-assessed pixel: "margin" (bias-free): b < b_sand(d) - detect
   sigma_B; "thr": b - beta < a_B b_true(d) (the rule's threshold bottom in blue); and, where
   green sees the place's sand (g_sand >= detect sigma_G), also g < g_sand - detect sigma_G.
   Else not seagrass.  Everywhere the rule assessed, the rule's call stands.
   Distances are from the nearest block holding >= 5 sand pixels itself (variant "win": from any
   block the 5 x 5 window fills, the first run's reading, which carried undecayed sand 200 m
   past the last seen sand).  Suffix "hole": sg36's med-10-2-hole-basin call is applied too (union).

    python benchmarks/measured/sg37/proto37.py PREPDIR VARIANT,... SEED...
"""
import sys
from pathlib import Path
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sg36"))
import proto as P36  # sg36's prototype (hole, basin), for the union variants

CTX = 10.0
MIN = 5
B, R = 10, 2
A_B, A_G = 0.35, 0.50   # SeagrassRule.albedo_ratio_blue / _green


def block_median(v, m):
    ny, nx = v.shape
    by, bx = -(-ny // B), -(-nx // B)
    out = np.full((by, bx), np.nan)
    for i in range(by):
        for j in range(bx):
            sl = (slice(i * B, (i + 1) * B), slice(j * B, (j + 1) * B))
            mm = m[sl]
            if mm.sum() >= MIN:
                out[i, j] = np.median(v[sl][mm])
    return out


def window(med):
    """5x5-block median and a local plane's gradient magnitude (per block)."""
    by, bx = med.shape
    val = np.full_like(med, np.nan); grad = np.full_like(med, np.nan)
    for i in range(by):
        for j in range(bx):
            i0, j0 = max(0, i - R), max(0, j - R)
            win = med[i0:i + R + 1, j0:j + R + 1]
            ok = np.isfinite(win)
            if ok.sum() == 0:
                continue
            val[i, j] = np.median(win[ok])
            ii, jj = np.nonzero(ok)
            if ok.sum() >= 4 and np.ptp(ii) > 0 and np.ptp(jj) > 0:
                A = np.c_[np.ones(ii.size), ii, jj]
                coef, *_ = np.linalg.lstsq(A, win[ok], rcond=None)
                grad[i, j] = np.hypot(coef[1], coef[2]) / (B * 10.0)   # per metre
    return val, grad


def up(a, shape):
    return np.kron(a, np.ones((B, B)))[:shape[0], :shape[1]]


def fields(a, nobeta=False):
    s, g, b = a["score"], a["g"], a["b"]
    r = float(a["c_k_ratio"])
    land = s == -CTX
    water = ~land & np.isfinite(g)
    assessed = water & np.isfinite(s)
    sand = assessed & (s < 0) & (g > 0)
    mb = block_median(b, sand)
    mlg = block_median(np.log(np.maximum(g, 1e-6)), sand)
    ok = np.isfinite(mb) & np.isfinite(mlg)
    beta = 0.0
    if not nobeta and ok.sum() >= 8:
        x = np.exp(r * mlg[ok]); y = mb[ok]
        A = np.c_[x, np.ones_like(x)]
        (C, beta), *_ = np.linalg.lstsq(A, y, rcond=None)
        beta = float(beta)
    fb, _ = window(mb)
    lbt = np.where(np.isfinite(mb) & (mb - beta > 0), np.log(np.maximum(mb - beta, 1e-6)), np.nan)
    _, gb = window(lbt)
    flg, gg = window(mlg)
    return dict(water=water, assessed=assessed, sand=sand, beta=beta, r=r, raw=np.isfinite(mb), mb=mb, mlg=mlg,
                fb=fb, flg=flg, gamB=gb, gamG=gg)


def place(a, variant):
    global B, R
    parts = variant.split("-")
    B = next((int(p[1:]) for p in parts if p[:1] == "B" and p[1:].isdigit()), 10)
    R = next((int(p[1:]) for p in parts if p[:1] == "R" and p[1:].isdigit()), 2)
    F = fields(a, nobeta="nobeta" in parts)
    s, g, b = a["score"], a["g"], a["b"]
    shp = g.shape
    d = float(a["c_detect"]); sb = a["c_noise_b"]; sgm = a["c_noise_g"] / a["c_k_ratio"]
    water, assessed, beta = F["water"], F["assessed"], F["beta"]
    gam = F["gamG"] * F["r"] if "gG" in parts else F["gamB"]
    if "gmax" in parts:   # the faster of the two decay estimates (the support ends sooner)
        gam = np.fmax(F["gamB"], F["gamG"] * F["r"])
    have = np.isfinite(F["fb"]) & np.isfinite(F["flg"]) & np.isfinite(gam) & (gam > 0)
    if "win" not in parts:   # carry from blocks that hold sand themselves (not the window's fill)
        have &= F["raw"]
    # nearest supported block, pixel-level distance (m) from that block's pixels
    hp = up(have.astype(float), shp) > 0
    dist, (iy, ix) = ndimage.distance_transform_edt(~hp, return_indices=True)
    dist = dist * 10.0
    fbk, flk = (F["mb"], F["mlg"]) if "own" in parts else (F["fb"], F["flg"])
    fb_e = up(np.where(have, fbk, np.nan), shp)[iy, ix]
    lg_e = up(np.where(have, flk, np.nan), shp)[iy, ix]
    gam_e = up(np.where(have, gam, np.nan), shp)[iy, ix]
    bt = (fb_e - beta) * np.exp(-gam_e * dist)           # sand's true blue contrast at d
    lgs = lg_e - gam_e / F["r"] * dist                   # ln g of sand at d (gamma_G = gamma_B / r)
    gs = np.exp(lgs)
    support = np.isfinite(bt) & ((1 - A_B) * bt >= d * sb)
    cap = [p for p in parts if p.startswith("cap")]
    if cap:
        support &= dist <= float(cap[0][3:])
    # blue's reach past green's gate (site level, the rule's own sand line and noise): where
    # the sand line's green is at the gate (g = detect sigma_G), its blue b = C g^r, C =
    # exp(DII_sand); q = (1 - a_B) b / (detect sigma_B) is the blue sand-threshold contrast in
    # blue margins there.  q < 1: blue does not tell sand from meadow beyond green's limit.
    # Beyond the gate the contrast falls as exp(-gamma_B d): blue's reach is ln(q) / gamma_B.
    q = (1 - A_B) * np.exp(float(a["c_dii_sand"])) * (d * np.median(sgm)) ** F["r"] / (d * np.median(sb))
    if "qb" in parts:   # the sand line was fitted on b = b_true + beta: its b_true at the gate
        q = (1 - A_B) * (np.exp(float(a["c_dii_sand"])) * (d * np.median(sgm)) ** F["r"] - beta) / (d * np.median(sb))
    F["q"] = float(q)
    if "q" in parts or "qD" in parts or "qb" in parts:
        support &= q >= 1
    if "qD" in parts:
        support &= dist <= np.log(max(q, 1.0)) / gam_e
    todo = water & ~assessed & support
    if "thr" in parts:
        darkb = (b - beta) < A_B * bt
    else:
        darkb = b < bt + beta - d * sb
    green_sees = gs >= d * sgm
    darkg = np.where(green_sees, g < gs - d * sgm, True)
    if "nog" in parts:     # blue alone decides
        darkg = True
    dark = todo & ((darkb | darkg) if "or" in parts else (darkb & darkg))
    if "hole" in parts:
        _, dh, _ = P36.place(a, "med-10-2-hole-basin")
        dark = dark | dh
    return (s > 0) | dark, dark, todo, F


def main():
    dd = sys.argv[1]; names = sys.argv[2].split(","); rows = {n: [] for n in names}
    for seed in map(int, sys.argv[3:]):
        a = P36.load(dd, seed); t = float(a["truth"]); site, hab, at = a["site"], a["hab"], a["assess_true"]
        main_ext = np.sum((a["score"] > 0) & site) * .01
        line = [f"{seed:5d} truth {t:6.1f} main {main_ext:6.1f}({main_ext / t - 1:+.2f}) |"]
        for n in names:
            sg, dark, todo, F = place(a, n)
            ext = np.sum(sg & site) * .01
            fa = np.sum(dark & site & ~hab) * .01; deep = np.sum(dark & site & ~at) * .01
            tp = np.sum(dark & site & hab & at) * .01
            rows[n].append((seed, t, main_ext, ext, fa, tp, deep))
            line.append(f"{n} {ext:6.1f}({ext / t - 1:+.2f}) beta {F['beta']:+.4f} q {F['q']:.2f} +false {fa:5.1f} +beyond_zvis {deep:5.1f} +true {tp:5.1f} |")
        print(" ".join(line), flush=True)
    print()
    first = True
    for n in names:
        r = np.array(rows[n])
        if first:
            e = r[:, 2] / r[:, 1] - 1
            print(f"{'main':24s} within15 {np.sum(abs(e) <= .15):3d} under {np.sum(e < -.15):3d} over {np.sum(e > .15):3d} summed|err| {np.abs(r[:, 2] - r[:, 1]).sum():6.0f} median_rel {np.median(abs(e)):.2f}")
            first = False
        e = r[:, 3] / r[:, 1] - 1
        worse = [int(s) for s, t, m, x, *_ in r if abs(x / t - 1) > .15 >= abs(m / t - 1)]
        better = [int(s) for s, t, m, x, *_ in r if abs(x / t - 1) <= .15 < abs(m / t - 1)]
        print(f"{n:24s} within15 {np.sum(abs(e) <= .15):3d} under {np.sum(e < -.15):3d} over {np.sum(e > .15):3d} summed|err| {np.abs(r[:, 3] - r[:, 1]).sum():6.0f} median_rel {np.median(abs(e)):.2f} "
              f"added: false {r[:, 4].sum():5.0f} ha (beyond z_vis {r[:, 6].sum():5.0f}), true at assessable depth {r[:, 5].sum():5.0f} ha | gained {better} lost {worse}")


if __name__ == "__main__":
    main()
