# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36 step 2: a place-based assessability from the scene only (records-only prototype on the
baseline composite; prep.py's arrays; the truth is used only to score).

The sand's green bottom signal is interpolated from the pixels the rule itself calls sand
(assessed water, score < 0) into the places it does not assess: per block of BxB pixels the
median of ln g over its sand pixels (>= MIN of them), then the median of those block values over
the (2R+1)^2 blocks around (a robust local median: Tukey 1977 running medians, here 2-D over
blocks), or a local plane fitted over those blocks (Cleveland 1979 local regression, degree 1,
unweighted; the depth trend carried past the last seen sand). A place is assessable where that
sand's green would pass the rule's own green gate (k_ratio g >= detect sigma_G); there a pixel
the rule leaves not assessable is seagrass when its green lies below that sand's by
detect sigma_G (the rule's margin), else sand. The rule's own calls where it assessed stay.

    python benchmarks/measured/sg36/proto.py PREPDIR VARIANT,... SEED...
variants: med-B-R, plane-B-R (B block px, R block radius), optional suffix -hole (only
not-assessed components that do not touch the image's border are filled).
"""
import sys
from pathlib import Path
import numpy as np
from scipy import ndimage

CTX = 10.0
MIN = 5


def load(d, seed):
    z = np.load(Path(d) / f"{seed}.npz")
    return {k: z[k] for k in z.files}


def block_stats(v, m, B):
    """per block: median of v over m (NaN if < MIN), and the block centres."""
    ny, nx = v.shape
    by, bx = -(-ny // B), -(-nx // B)
    med = np.full((by, bx), np.nan)
    for i in range(by):
        for j in range(bx):
            sl = (slice(i * B, (i + 1) * B), slice(j * B, (j + 1) * B))
            mm = m[sl]
            if mm.sum() >= MIN:
                med[i, j] = np.median(v[sl][mm])
    return med


def fill(med, R, kind):
    by, bx = med.shape
    out = np.full_like(med, np.nan)
    for i in range(by):
        for j in range(bx):
            win = med[max(0, i - R):i + R + 1, max(0, j - R):j + R + 1]
            ok = np.isfinite(win)
            if ok.sum() == 0:
                continue
            if kind == "med":
                out[i, j] = np.median(win[ok])
            else:
                ii, jj = np.nonzero(ok)
                ii = ii + max(0, i - R) - i; jj = jj + max(0, j - R) - j
                if ok.sum() >= 4 and np.ptp(ii) > 0 and np.ptp(jj) > 0:
                    A = np.c_[np.ones(ii.size), ii, jj]
                    coef, *_ = np.linalg.lstsq(A, win[ok], rcond=None)
                    out[i, j] = coef[0]
                else:
                    out[i, j] = np.median(win[ok])
    return out


def place(a, variant):
    kind, B, R, *rest = variant.split("-")
    B, R = int(B), int(R)
    s, g = a["score"], a["g"]
    sig = a["c_noise_g"] / a["c_k_ratio"]            # sigma_G, green units
    if "blue" in rest:   # the same on the blue bottom signal and its noise
        g, sig = a["b"], np.broadcast_to(a["c_noise_b"], g.shape)
    land = s == -CTX
    water = ~land & np.isfinite(g)
    assessed = water & np.isfinite(s)
    sand = assessed & (s < 0) & (g > 0)
    lg = np.where(sand, np.log(np.maximum(g, 1e-6)), np.nan)
    blk = fill(block_stats(lg, sand, B), R, kind)
    gs = np.exp(np.kron(blk, np.ones((B, B)))[:g.shape[0], :g.shape[1]])
    d = a["c_detect"]
    ok_place = np.isfinite(gs) & (gs >= d * sig)     # k_ratio*g_sand >= detect*noise_g
    todo = water & ~assessed & (ok_place if "any" not in rest and "noplace" not in rest else True)
    if "hole" in rest:
        lab, n = ndimage.label(water & ~assessed, np.ones((3, 3)) if "8" in rest else None)
        edge = np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]])
        todo &= ~np.isin(lab, edge[edge > 0])
    core = [x for x in rest if x.startswith("core")]
    if core:  # components of not-assessed water that reach D px from any assessed or land pixel: open water
        D = int(core[0][4:])
        na = water & ~assessed
        lab, n = ndimage.label(na)
        far = na & (ndimage.distance_transform_edt(na) >= D)
        todo &= ~np.isin(lab, np.unique(lab[far]))
    if "basin" in rest:  # a component whose median green is below that of a bottom albedo_ratio_green
        # (0.5) times sand's, with the sand just at the gate (detect sigma_G): a basin of deep water
        lab, n = ndimage.label(water & ~assessed)
        sig_f = np.broadcast_to(sig, g.shape)
        ids = np.unique(lab[todo]); ids = ids[ids > 0]
        if ids.size:
            med = np.asarray(ndimage.median(g, lab, ids)); sg_med = np.asarray(ndimage.median(sig_f, lab, ids))
            todo &= ~np.isin(lab, ids[med < 0.5 * d * sg_med])
    dark = todo & ((g < gs - d * sig) if "any" not in rest and "nodark" not in rest else True)
    if "neg" in rest:   # darker in blue than the open water by detect sigma_B (negative contrast)
        na = water & ~assessed
        dist = ndimage.distance_transform_edt(na)
        far = na & (dist >= np.quantile(dist[na], 0.8)) if na.any() else na
        if far.sum() >= 100:
            b_open = np.median(a["b"][far])
            neg = na & (a["b"] < b_open - d * a["c_noise_b"]) & (a["g"] > -d * a["c_noise_g"] / a["c_k_ratio"])
            dark = dark | neg
    return (s > 0) | dark, dark, todo


def main():
    d = sys.argv[1]; names = sys.argv[2].split(","); rows = {n: [] for n in names}
    for seed in map(int, sys.argv[3:]):
        a = load(d, seed); t = float(a["truth"]); site, hab, at = a["site"], a["hab"], a["assess_true"]
        main_ext = np.sum((a["score"] > 0) & site) * .01
        line = [f"{seed:5d} truth {t:6.1f} main {main_ext:6.1f}({main_ext / t - 1:+.2f}) |"]
        for n in names:
            sg, dark, todo = place(a, n)
            ext = np.sum(sg & site) * .01
            fa = np.sum(dark & site & ~hab) * .01; deep = np.sum(dark & site & ~at) * .01
            tp = np.sum(dark & site & hab & at) * .01
            rows[n].append((seed, t, main_ext, ext, fa, tp))
            line.append(f"{n} {ext:6.1f}({ext / t - 1:+.2f}) +false {fa:4.1f} +beyond_zvis {deep:4.1f} |")
        print(" ".join(line), flush=True)
    print()
    first = True
    for n in names:
        r = np.array(rows[n])
        if first:
            e = r[:, 2] / r[:, 1] - 1
            print(f"{'main':14s} within15 {np.sum(abs(e) <= .15):3d} under {np.sum(e < -.15):3d} over {np.sum(e > .15):3d} summed|err| {np.abs(r[:, 2] - r[:, 1]).sum():6.0f}")
            first = False
        e = r[:, 3] / r[:, 1] - 1
        worse = [int(s) for s, t, m, x, *_ in r if abs(x / t - 1) > .15 >= abs(m / t - 1)]
        better = [int(s) for s, t, m, x, *_ in r if abs(x / t - 1) <= .15 < abs(m / t - 1)]
        worse_err = [int(s) for s, t, m, x, *_ in r if abs(x - t) > abs(m - t) + 0.5]
        print(f"{n:14s} within15 {np.sum(abs(e) <= .15):3d} under {np.sum(e < -.15):3d} over {np.sum(e > .15):3d} summed|err| {np.abs(r[:, 3] - r[:, 1]).sum():6.0f} "
              f"added: false {r[:, 4].sum():5.0f} ha, true at assessable depth {r[:, 5].sum():5.0f} ha | gained_within15 {better} lost_within15 {worse} abs_err_worse_by>0.5ha {worse_err}")


if __name__ == "__main__":
    main()
