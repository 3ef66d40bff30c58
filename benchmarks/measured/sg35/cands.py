# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg35 candidates for the plateau's deep water (variants.py VARIANTS), each a deep_plateau
replacement under the same plateau test (v5's, blue + green)."""
import numpy as np
import indices.water as W
from variants import run, rule, v5_plateau, mid

def _test(hist, noise, rule):
    total = hist.sum()
    avg = (mid[:, None] + mid[None, :]) / 2
    order = np.argsort(avg, axis=None); cum = np.cumsum(hist.ravel()[order])
    low = avg.ravel()[order][np.searchsorted(cum, rule.deep_fraction / 10 * total)]
    cut = avg.ravel()[order][np.searchsorted(cum, rule.deep_fraction * total)]
    return cut - low <= 1.5 * float(np.hypot(*noise))

def _median(c):
    return float(mid[np.searchsorted(np.cumsum(c), 0.5 * c.sum())])

def _kde_mode(c, bw):
    x = np.arange(0.0005, 0.05, 0.00002)
    d = (c[None, :] * np.exp(-0.5 * ((x[:, None] - mid[None, :]) / bw) ** 2)).sum(1)
    return float(x[np.argmax(d)])

def _lowmode(c, h):
    m = float(mid[np.searchsorted(np.cumsum(c), 0.005 * c.sum())])
    for _ in range(200):
        sel = np.abs(mid - m) <= h
        new = _median(c * sel)
        if new == m: break
        m = new
    return m

def _green_window(hist, noise, rule, sym):
    total = hist.sum(); cg = np.cumsum(hist.sum(axis=1))
    low_g = mid[np.searchsorted(cg, rule.deep_fraction / 10 * total)]
    rows = mid <= low_g + 3 * noise[1]
    if sym:  # one step of the symmetric window about the truncated median
        m = _median(hist[rows].sum(axis=1))
        rows = np.abs(mid - m) <= 3 * noise[1]
    return rows

def make(sym=False, blue="median"):
    def plateau(hist, noise, rule):
        if hist.sum() == 0 or not _test(hist, noise, rule):
            return None
        rows = _green_window(hist, noise, rule, sym)
        w = np.where(rows[:, None], hist, 0)
        bc = w.sum(axis=0)
        b = {"median": lambda: _median(bc), "mode": lambda: _kde_mode(bc, noise[0]),
             "lowmode": lambda: _lowmode(bc, 3 * noise[0])}[blue]()
        return b, _median(w.sum(axis=1))
    return plateau

VARIANTS = {n: (lambda p: lambda h, n_, rec: run(W.fit_water, h, n_, p))(make(s, b))
            for n, (s, b) in {"b6": (False, "median"), "mode": (False, "mode"),
                              "sym": (True, "median"), "symmode": (True, "mode"),
                              "lowmode": (False, "lowmode"), "symlow": (True, "lowmode")}.items()}

def make_ext(sym=True):
    """The plateau's green (symmetric window), blue extrapolated along green through it:
    fit_sand_line(g, b, (None, G)), r, C, B_deep free (B_deep at most the plateau's blue)."""
    plat = make(sym, "median")
    def fit(h, n_, rec):
        p = plat(h, n_, rule)
        if p is None:
            return W.fit_water(h, rule, n_)
        g, b = W.sand_points(h, rule)
        f = W.fit_sand_line(g, b, (None, p[1]))
        if f is None:
            return run(W.fit_water, h, n_, lambda *a: p)
        bd = min(f[0], p[0])
        from variants import with_deep
        return with_deep(h, bd, p[1]) or run(W.fit_water, h, n_, lambda *a: p)
    return fit

VARIANTS["symext"] = make_ext(True)
VARIANTS["b6ext"] = make_ext(False)

def make_branch(sym=True, blue_fixed_g=True):
    """fit_water's logic (the plateau test, _deep_in_blue), the plateau's green from the
    symmetric window; where deep in green only, the blue extrapolated along green through the
    plateau's green (G fixed) instead of the free extrapolations."""
    plat = make(sym, "median")
    def fit(h, n_, rec):
        p = plat(h, n_, rule) if all(np.isfinite(n_)) else None
        if p is None:
            return W.fit_water(h, rule, n_)
        g, b = W.sand_points(h, rule)
        f = W.fit_sand_line(g, b, p)
        if f is not None and W._deep_in_blue(g, b, f, n_, rule):
            return run(W.fit_water, h, n_, lambda *a: p)
        if not blue_fixed_g:
            return run(W.fit_water, h, n_, lambda *a: p)
        f2 = W.fit_sand_line(g, b, (None, p[1]))
        if f2 is None:
            return run(W.fit_water, h, n_, lambda *a: p)
        from variants import with_deep
        return with_deep(h, min(f2[0], p[0]), p[1]) or run(W.fit_water, h, n_, lambda *a: p)
    return fit

VARIANTS["symbr"] = make_branch(True)
VARIANTS["b6br"] = make_branch(False)

def make_mix(green_sym, blue_sym):
    """The plateau's green and blue each from the truncated window (v6b) or the symmetric one."""
    def plateau(hist, noise, rule):
        if hist.sum() == 0 or not _test(hist, noise, rule):
            return None
        out = []
        for sym in (blue_sym, green_sym):
            w = np.where(_green_window(hist, noise, rule, sym)[:, None], hist, 0)
            out.append(w)
        return _median(out[0].sum(axis=0)), _median(out[1].sum(axis=1))
    return plateau

VARIANTS["G6_B6b"] = (lambda p: lambda h, n_, rec: run(W.fit_water, h, n_, p))(make_mix(True, False))
VARIANTS["G6b_B6"] = (lambda p: lambda h, n_, rec: run(W.fit_water, h, n_, p))(make_mix(False, True))


def _censored_level(counts, sigma, start):
    """The deep water's green as the centre of a normal fitted to the water's lower side only
    (a right-censored normal, Cohen 1959: bottoms seen add only above the deep water):
    least squares of the cumulative counts at the bin edges below the centre."""
    from scipy.special import ndtr
    edges = np.sqrt(mid[:-1] * mid[1:])  # geometric bin edges (upper edge of bin i)
    cum = np.cumsum(counts)[:-1]
    best = None
    for mu in start + sigma * np.arange(-2.0, 2.0001, 0.05):
        sel = (edges <= mu) & (cum > 0)
        if sel.sum() < 5:
            continue
        x, c = edges[sel], cum[sel]
        for s in sigma * np.arange(0.5, 3.0001, 0.05):
            phi = ndtr((x - mu) / s)
            n = (c * phi).sum() / (phi * phi).sum()
            rss = ((c - n * phi) ** 2).sum() / sel.sum()
            if best is None or rss < best[0]:
                best = (rss, mu, s, n)
    return best


def make_cens():
    v6 = make(True, "median")
    def plateau(hist, noise, rule):
        p = v6(hist, noise, rule)
        if p is None:
            return None
        fit = _censored_level(hist.sum(axis=1), float(noise[1]), p[1])
        if fit is None:
            return p
        mu = fit[1]
        w = np.where((np.abs(mid - mu) <= 3 * noise[1])[:, None], hist, 0)
        return _median(w.sum(axis=0)), float(mu)
    return plateau

VARIANTS["cens"] = (lambda p: lambda h, n_, rec: run(W.fit_water, h, n_, p))(make_cens())
