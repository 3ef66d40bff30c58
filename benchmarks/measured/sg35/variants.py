# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg35: score water-fit variants on the captured seeds (capture.py): baseline extent, false
seagrass (truth used only to score), deep water fitted against the generator's rho_deep.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg35/variants.py CAPDIR VARIANT,... SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
import indices.water as W
from indices.habitat import RULES
from indices.seagrass_rule import seagrass_score

rule = RULES["seagrass"]
mid = W.centres()


def v5_plateau(hist, noise, rule):
    total = hist.sum()
    avg = (mid[:, None] + mid[None, :]) / 2
    order = np.argsort(avg, axis=None); cum = np.cumsum(hist.ravel()[order])
    low = avg.ravel()[order][np.searchsorted(cum, rule.deep_fraction / 10 * total)]
    cut = avg.ravel()[order][np.searchsorted(cum, rule.deep_fraction * total)]
    sigma = 0.5 * float(np.hypot(*noise))
    if cut - low > 3 * sigma:
        return None
    wts = np.where(avg <= low + 3 * sigma, hist, 0)
    med = lambda c: float(mid[np.searchsorted(np.cumsum(c), 0.5 * c.sum())])
    return med(wts.sum(axis=0)), med(wts.sum(axis=1))


def run(fit_fn, hist, noise, plateau_fn=None):
    orig = W.deep_plateau
    if plateau_fn is not None:
        W.deep_plateau = plateau_fn
    try:
        return fit_fn(hist, rule, noise)
    finally:
        W.deep_plateau = orig


def with_deep(h, bd, gd):
    """The sand line refitted through a given deep water (r, C), as fit_water does."""
    g, b = W.sand_points(h, rule)
    f = W.fit_sand_line(g, b, (bd, gd))
    if f is None:
        return None
    bd, gd, r, _ = f
    ok = (b > bd) & (g > gd)
    return bd, gd, r, float(np.median(np.log(b[ok] - bd) - r * np.log(g[ok] - gd))), 1.0


VARIANTS = {"tree": lambda h, n, rec: run(W.fit_water, h, n),
            "v5": lambda h, n, rec: run(W.fit_water, h, n, v5_plateau),
            # diagnosis only: the generator's deep water
            "oracle": lambda h, n, rec: with_deep(h, rec["rho_deep"]["B02"], rec["rho_deep"]["B03"])}


def score(rec, fit):
    w = rec["w"].copy()
    for name, v in zip(("deep_blue", "deep_green", "k_ratio", "dii_sand", "estimated"), fit):
        w.loc[name] = v
    s = seagrass_score(rec["base"], rule, w).values
    sg = (s > 0) & rec["site"]
    return sg.sum() * 0.01, np.sum(sg & ~rec["hab"]) * 0.01, np.isfinite(s[rec["site"]]).mean()


def hits(rec, fit):
    w = rec["w"].copy()
    for name, v in zip(("deep_blue", "deep_green", "k_ratio", "dii_sand", "estimated"), fit):
        w.loc[name] = v
    s = seagrass_score(rec["base"], rule, w).values
    return np.sum((s > 0) & rec["site"] & rec["hab"]) * 0.01


if __name__ == "__main__":
    cap = Path(sys.argv[1]); names = sys.argv[2].split(",")
    import importlib.util
    if len(sys.argv) > 3 and sys.argv[3].endswith(".py"):
        spec = importlib.util.spec_from_file_location("extra", sys.argv[3]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
        VARIANTS.update(m.VARIANTS); seeds = sys.argv[4:]
    else:
        seeds = sys.argv[3:]
    tot = {n: [0, 0, 0.0, 0.0] for n in names}
    for seed in map(int, seeds):
        rec = pickle.loads((cap / f"{seed}.pkl").read_bytes())
        t = rec["truth"]; rd = rec["rho_deep"]
        line = [f"{seed:5d} truth {t:6.1f} rho_deep {rd['B02']:.4f},{rd['B03']:.4f} |"]
        for n in names:
            fit = VARIANTS[n](rec["hist"], rec["noise"], rec)
            ext, false, ass = score(rec, fit)
            err = ext / t - 1 if t > 0 else np.nan
            tot[n][0] += abs(ext - t); tot[n][1] += abs(err) <= 0.15; tot[n][2] += false; tot[n][3] += ext - false
            line.append(f"{n} {fit[0]:.4f},{fit[1]:.4f} r{fit[2]:.2f} {ext:6.1f} ({err:+.2f}) f{false:5.1f} |")
        print(" ".join(line), flush=True)
    for n in names:
        print(f"{n}: summed |err| {tot[n][0]:.0f} ha, within 15 % {tot[n][1]}, false {tot[n][2]:.0f} ha, true seagrass found {tot[n][3]:.0f} ha")
