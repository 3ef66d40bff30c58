"""Error-adjusted areas and accuracies from a labelled stratified random sample.

The estimators of Olofsson et al. 2013 (Remote Sens. Environ. 129:122-131,
doi:10.1016/j.rse.2012.10.031) and 2014 (Remote Sens. Environ. 148:42-57,
doi:10.1016/j.rse.2014.02.015) for a stratified random sample whose strata are the map
classes (:mod:`indices.sampling`): the error matrix in area proportions, overall, user's and
producer's accuracies with their standard errors, the error-adjusted area of each class with a
95 % confidence interval, and the extent (stable habitat + gain) with its own interval.
Labels are checked first (:func:`validate_labels`); any problem is one :class:`LabelError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from indices.maps import NODATA
from indices.sampling import CLASS_CODES, CLASSES, Design

__all__ = ["EXTENT_CLASSES", "TABLE_COLUMNS", "Z95", "Assessment", "LabelError", "assess",
           "assess_extent", "estimate", "labels_from_codes", "reference_change", "stratified_proportion",
           "validate_labels"]

#: Two-sided 95 % normal quantile (Olofsson et al. 2014, section 4.4: CI = estimate +- 1.96 SE).
Z95 = 1.96
#: How a stratum whose sample holds none (or only) of an indicator enters the variance:
#: ``"agresti_coull"`` (default, see :func:`_var_share`) or ``"olofsson"`` (the published
#: estimator unchanged: such a stratum adds no variance).
SMALL_COUNT_RULE = "agresti_coull"
#: The reference classes whose union is the habitat extent now.
EXTENT_CLASSES = ("stable_habitat", "gain")
#: Columns of the ``accuracy/`` table (design.md, second round), then the standard errors.
TABLE_COLUMNS = ["site_id", "period", "class", "n_samples", "map_area_ha", "estimated_area_ha",
                 "ci_low_ha", "ci_high_ha", "users_accuracy", "producers_accuracy",
                 "overall_accuracy", "estimated_area_se_ha", "users_accuracy_se",
                 "producers_accuracy_se", "overall_accuracy_se"]


class LabelError(ValueError):
    """Labelled samples that cannot be assessed; the message is one line naming the problem."""


def _few(ids: Iterable) -> str:
    ids = [str(i) for i in ids]
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def validate_labels(labels: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The labelled samples checked against their design: ``sample_id, stratum,
    reference_class`` in design order (strata from the design, classes normalised).

    Refused, with one line: a missing ``sample_id``/``reference_class`` column; labels for
    another site or period (``site_id``/``period`` columns, or sample ids of another
    design); duplicate sample ids; ids the design does not hold; design samples without a row;
    unlabelled rows (empty ``reference_class``); classes other than :data:`CLASSES`; a row whose
    ``stratum`` or ``map_class`` contradicts the design.
    """
    where = f"{design.site_id} {design.period}"
    for col in ("sample_id", "reference_class"):
        if col not in labels.columns:
            raise LabelError(f"labels for {where}: no '{col}' column")
    for col, want in (("site_id", design.site_id), ("period", design.period)):
        if col in labels.columns:
            other = sorted({str(v) for v in labels[col].dropna()} - {want})
            if other:
                raise LabelError(f"labels for {where}: rows for {col} {_few(other)}")
    ids = labels["sample_id"].astype(str).str.strip()
    prefix = f"{design.site_id}_{design.period}_"
    foreign = ids[~ids.str.startswith(prefix)]
    if len(foreign):
        raise LabelError(f"labels for {where}: {len(foreign)} sample ids of another site or "
                         f"period ({_few(foreign)})")
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise LabelError(f"labels for {where}: duplicate sample ids {_few(dup)}")
    known = {s[0]: s[1] for s in design.samples}
    off = ids[~ids.isin(list(known))]
    if len(off):
        raise LabelError(f"labels for {where}: {len(off)} sample ids not in the design "
                         f"({_few(off)})")
    seen = set(ids)
    missing = [i for i in known if i not in seen]
    if missing:
        raise LabelError(f"labels for {where}: {len(missing)} design samples have no row "
                         f"({_few(missing)})")
    ref = labels["reference_class"].astype(object).where(labels["reference_class"].notna(), "")
    ref = ref.astype(str).str.strip().str.lower()
    empty = ids[ref.eq("").to_numpy()]
    if len(empty):
        raise LabelError(f"labels for {where}: {len(empty)} rows have no reference_class "
                         f"({_few(empty)})")
    unknown = sorted(set(ref) - set(CLASSES))
    if unknown:
        raise LabelError(f"labels for {where}: unknown reference_class {_few(unknown)} "
                         f"(expected one of {', '.join(CLASSES)})")
    for col in ("stratum", "map_class"):
        if col in labels.columns:
            given = labels[col].astype(str).str.strip().str.lower().to_numpy()
            bad = [i for i, g in zip(ids, given, strict=True) if known[i] != g]
            if bad:
                raise LabelError(f"labels for {where}: {col} differs from the design for "
                                 f"{len(bad)} samples ({_few(bad)})")
    out = pd.DataFrame({"sample_id": ids.to_numpy(), "reference_class": ref.to_numpy()})
    order = pd.DataFrame({"sample_id": list(known), "stratum": list(known.values())})
    return order.merge(out, on="sample_id", how="left", validate="one_to_one")


def stratified_proportion(weights: np.ndarray, y: np.ndarray, stratum: np.ndarray,
                          census: np.ndarray | None = None, *, rule: str = SMALL_COUNT_RULE
                          ) -> tuple[float, float]:
    """Stratified estimate of the share of the area where ``y`` holds, and its standard error.

    p = sum_h W_h ybar_h, V(p) = sum_h W_h^2 ybar_h (1 - ybar_h) / (n_h - 1) for a 0/1
    indicator: the stratified estimator of a proportion (Cochran 1977, Sampling Techniques,
    section 5.12; no finite population correction), which is Olofsson et al. 2014 eqs. 9-10 for
    y = [reference is class k] and eq. 5 for y = [map agrees with reference]. Any indicator
    works (Stehman 2014, Int. J. Remote Sens. 35:4923-4939), e.g. the union of two reference
    classes (:attr:`Assessment.extent_ha`). A stratum sampled whole (``census[h]``) adds no
    variance; one with W_h > 0, fewer than 2 units and not whole makes the SE NaN. A sampled
    stratum where y is all 0 or all 1 enters the variance by ``rule`` (:func:`_var_share`).
    """
    p, var = 0.0, 0.0
    for h, w in enumerate(weights):
        if w == 0:
            continue
        yh = y[stratum == h]
        if yh.size == 0:
            return np.nan, np.nan
        m = float(yh.mean())
        p += w * m
        mv = _var_share(m, yh.size, rule)
        var += w * w * mv * (1 - mv) * _inv_dof(yh.size, census is not None and census[h])
    return p, float(np.sqrt(var))


def _var_share(m: float | np.ndarray, n: int | np.ndarray, rule: str = SMALL_COUNT_RULE
               ) -> float | np.ndarray:
    """The share p at which a stratum's Bernoulli variance p (1 - p) is taken, for a sample
    share m of n units: m itself, except where m is exactly 0 or 1 and ``rule`` is
    ``"agresti_coull"``: then p~ = (n m + z^2 / 2) / (n + z^2), z = 1.96.

    A stratum whose sample holds none (or only) of a class would otherwise add no variance,
    although its mapped area may hold omission of the class that the sample missed: with a rare
    class spread thin over a large stratum the 95 % interval collapses to a point and misses the
    truth (the Wald interval's known failure at p near 0 or 1). p~ is the centre of the Wilson
    score interval and the Agresti-Coull share (Agresti & Coull 1998, Am. Stat. 52:119-126:
    about two successes and two failures added at 95 %; Brown, Cai & DasGupta 2001, Stat. Sci.
    16:101-133, who recommend Wilson for small n and Agresti-Coull for larger n over the Wald
    interval); it is used for the variance only, never for the estimate
    (Olofsson et al. 2014's point estimates are kept). Shares strictly between 0 and 1 are
    untouched (bit-identical to ``"olofsson"``, the published estimator); census strata add no
    variance whatever the rule (:func:`_inv_dof` is 0 there)."""
    if rule not in ("agresti_coull", "olofsson"):
        raise ValueError(f"unknown small-count rule {rule!r}")
    if rule == "olofsson":
        return m
    z2 = Z95 * Z95
    with np.errstate(invalid="ignore", divide="ignore"):
        pt = (np.asarray(m, float) * n + z2 / 2) / (np.asarray(n, float) + z2)
        out = np.where((m == 0) | (m == 1), pt, m)
    return out if np.ndim(out) else float(out)


def _inv_dof(n: int | np.ndarray, census: bool | np.ndarray) -> float | np.ndarray:
    """1 / (n_h - 1), the variance factor of the estimators; 0 for a stratum sampled whole
    (its mean is known exactly: the finite population correction 1 - n_h / N_h is 0), NaN
    below 2 units. Olofsson et al. 2014 drop the correction elsewhere (sampling fractions
    are tiny); so do we, which overstates the variance of a stratum sampled in large part."""
    n = np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(census, 0.0, np.where(n > 1, 1 / (n - 1), np.nan))
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class Assessment:
    """Accuracy and error-adjusted areas of one map (rows: map classes = strata; columns:
    reference classes; both in :data:`CLASSES` order). Areas in hectares."""

    site_id: str
    period: str
    counts: np.ndarray
    """n_ij: samples mapped as i and labelled j."""
    stratum_area_ha: np.ndarray
    """A_i: mapped area of each class (the strata)."""
    proportions: np.ndarray
    """p_ij = W_i n_ij / n_i. (Olofsson et al. 2014): the error matrix in area proportions."""
    overall: float
    overall_se: float
    users: np.ndarray
    users_se: np.ndarray
    producers: np.ndarray
    producers_se: np.ndarray
    area_ha: np.ndarray
    area_se_ha: np.ndarray
    extent_ha: float
    """Estimated area whose reference class is stable habitat or gain: habitat now."""
    extent_se_ha: float
    census: np.ndarray
    """Strata sampled whole (no variance)."""

    @property
    def total_area_ha(self) -> float:
        return float(self.stratum_area_ha.sum())

    def ci_ha(self, estimate: float | np.ndarray, se: float | np.ndarray):
        """95 % interval, clipped to [0, total area]: the true area lies there, so the
        clipping can only shorten an interval, never uncover the truth."""
        return (np.clip(estimate - Z95 * se, 0, self.total_area_ha),
                np.clip(estimate + Z95 * se, 0, self.total_area_ha))

    def error_matrix(self) -> pd.DataFrame:
        """p_ij as a frame: rows ``map_<class>``, columns reference classes."""
        return pd.DataFrame(self.proportions, index=[f"map_{c}" for c in CLASSES],
                            columns=list(CLASSES))

    def table(self, *, extent: bool = True) -> pd.DataFrame:
        """One row per class in the columns of :data:`TABLE_COLUMNS`; ``period`` is the first
        day of the month (as in ``change/``). With ``extent``, a last row ``class='extent'``:
        the estimated habitat extent (stable habitat + gain) and its interval; its
        ``map_area_ha`` and ``n_samples`` are those of the two strata, its user's and
        producer's accuracies those of the map's extent (ratio estimators, Stehman 2014)."""
        lo, hi = self.ci_ha(self.area_ha, self.area_se_ha)
        n_i = self.counts.sum(axis=1)
        rows = {"class": list(CLASSES), "n_samples": n_i.astype(np.int64),
                "map_area_ha": self.stratum_area_ha, "estimated_area_ha": self.area_ha,
                "ci_low_ha": lo, "ci_high_ha": hi, "users_accuracy": self.users,
                "producers_accuracy": self.producers, "estimated_area_se_ha": self.area_se_ha,
                "users_accuracy_se": self.users_se, "producers_accuracy_se": self.producers_se}
        out = pd.DataFrame(rows)
        if extent:
            e_lo, e_hi = self.ci_ha(self.extent_ha, self.extent_se_ha)
            idx = [CLASS_CODES[c] for c in EXTENT_CLASSES]
            ua, ua_se, pa, pa_se = _extent_accuracies(self.counts, self.stratum_area_ha, idx,
                                                      self.census)
            out.loc[len(out)] = {
                "class": "extent", "n_samples": int(n_i[idx].sum()),
                "map_area_ha": float(self.stratum_area_ha[idx].sum()),
                "estimated_area_ha": self.extent_ha, "ci_low_ha": float(e_lo),
                "ci_high_ha": float(e_hi), "users_accuracy": ua, "producers_accuracy": pa,
                "estimated_area_se_ha": self.extent_se_ha, "users_accuracy_se": ua_se,
                "producers_accuracy_se": pa_se}
        out.insert(0, "period", dt.date.fromisoformat(f"{self.period}-01"))
        out.insert(0, "site_id", self.site_id)
        out["overall_accuracy"] = self.overall
        out["overall_accuracy_se"] = self.overall_se
        return out[TABLE_COLUMNS]


def _unit_level(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stratum, reference class) of every sample unit behind an error matrix of counts."""
    i, j = np.nonzero(counts)
    reps = counts[i, j].astype(np.int64)
    return np.repeat(i, reps), np.repeat(j, reps)


def _ratio(area: np.ndarray, stratum: np.ndarray, y: np.ndarray, x: np.ndarray,
           census: np.ndarray | None = None) -> tuple[float, float]:
    """R = Y / X of two stratified totals and its linearised standard error (the combined
    ratio estimator: Cochran 1977, chapter 6; Stehman 2014 for accuracies with strata other
    than the classes assessed), without finite population correction."""
    ybar = np.array([y[stratum == h].mean() if (stratum == h).any() else 0.0
                     for h in range(area.size)])
    xbar = np.array([x[stratum == h].mean() if (stratum == h).any() else 0.0
                     for h in range(area.size)])
    big_x = float(area @ xbar)
    if big_x == 0:
        return np.nan, np.nan
    r = float(area @ ybar) / big_x
    var = 0.0
    for h in np.flatnonzero(area):
        if census is not None and census[h]:
            continue
        d = (y - r * x)[stratum == h]
        if d.size < 2:
            return r, np.nan
        var += area[h] ** 2 * d.var(ddof=1) / d.size
    return r, float(np.sqrt(var)) / big_x


def _extent_accuracies(counts: np.ndarray, area: np.ndarray, idx: list[int],
                       census: np.ndarray) -> tuple[float, float, float, float]:
    """User's and producer's accuracy (and SEs) of the map's habitat-now extent."""
    stratum, ref = _unit_level(counts)
    map_in = np.isin(stratum, idx).astype(float)
    ref_in = np.isin(ref, idx).astype(float)
    ua, ua_se = _ratio(area, stratum, map_in * ref_in, map_in, census)
    pa, pa_se = _ratio(area, stratum, map_in * ref_in, ref_in, census)
    return ua, ua_se, pa, pa_se


def estimate(counts: np.ndarray, stratum_area_ha: np.ndarray, *,
             stratum_pixels: np.ndarray | None = None, site_id: str = "",
             period: str = "1970-01", rule: str = SMALL_COUNT_RULE) -> Assessment:
    """Olofsson et al. 2014 estimators from an error matrix of sample counts.

    ``counts[i, j]``: samples of stratum (map class) i whose reference class is j;
    ``stratum_area_ha[i]``: mapped area of class i. With W_i = A_i / A and n_i. the row sums:

    * p_ij = W_i n_ij / n_i.; O = sum_j p_jj, U_i = p_ii / p_i., P_j = p_jj / p_.j;
    * V(O) = sum_i W_i^2 U_i (1 - U_i) / (n_i. - 1) (eq. 5);
      V(U_i) = U_i (1 - U_i) / (n_i. - 1) (eq. 6);
      V(P_j) = [N_.j^2 (1 - P_j)^2 U_j (1 - U_j) / (n_j. - 1) + P_j^2 sum_{i != j} N_i.^2
      (n_ij / n_i.)(1 - n_ij / n_i.) / (n_i. - 1)] / N_.j^2 with N_.j = sum_i N_i. n_ij / n_i.
      (eq. 7; here N_i. = A_i, any unit cancels);
    * area of class k: A_k = A sum_i W_i n_ik / n_i. (eq. 9), SE(A_k) = A sqrt(sum_i W_i^2
      (n_ik / n_i.)(1 - n_ik / n_i.) / (n_i. - 1)) (eq. 10);
    * extent = area whose reference class is stable habitat or gain: the stratified estimate of
      the indicator y = [reference in {stable_habitat, gain}] (:func:`stratified_proportion`).
      Its SE is not the root of the two classes' variances summed: within a stratum the two
      shares are negatively correlated (cov = -p_a p_b / (n_h - 1)); the indicator accounts
      for it, SE = A sqrt(sum_i W_i^2 q_i (1 - q_i) / (n_i. - 1)), q_i = (n_i,sh + n_i,gain) / n_i.

    ``stratum_pixels`` (optional): N_h; a stratum whose every pixel was sampled adds no
    variance (see :func:`_inv_dof`). Accuracies of a class with no sample (or no reference
    area) are NaN, as is any SE whose stratum holds fewer than 2 samples and is not whole.

    ``rule``: every p (1 - p) above (n_ik / n_i., U_i, and the extent's q_i) of a stratum
    whose count is 0 or n_i. is taken at the Agresti-Coull proportion (:func:`_var_share`), so
    that no interval claims a certainty the sample does not have; ``"olofsson"`` gives the
    published estimator. The ratio SEs of the extent's accuracies (:func:`_ratio`) are not
    adjusted: their residuals y - R x are not a binomial share.
    """
    counts = np.asarray(counts, np.int64)
    area = np.asarray(stratum_area_ha, float)
    k = len(CLASSES)
    if counts.shape != (k, k) or area.shape != (k,):
        raise ValueError(f"expected a {k}x{k} error matrix and {k} stratum areas")
    empty = (area > 0) & (counts.sum(axis=1) == 0)
    if empty.any():
        raise ValueError(f"strata {[CLASSES[i] for i in np.flatnonzero(empty)]} have area but no "
                         "sample: the estimate needs every mapped stratum sampled")
    total = float(area.sum())
    w = area / total
    n_i = counts.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n_i[:, None] > 0, counts / n_i[:, None], 0.0)   # n_ij / n_i.
        p = w[:, None] * frac
        p_i, p_j = p.sum(axis=1), p.sum(axis=0)
        users = np.where(n_i > 0, np.diag(p) / p_i, np.nan)
        producers = np.where(p_j > 0, np.diag(p) / p_j, np.nan)
        census = (np.zeros(k, bool) if stratum_pixels is None
                  else n_i >= np.asarray(stratum_pixels, float))
        inv = _inv_dof(n_i, census)
        sampled = w > 0
        fv = _var_share(frac, n_i[:, None], rule)   # = frac, = users but at counts 0 or n_i.
        uv = _var_share(users, n_i, rule)
        cell_var = np.where(sampled[:, None], w[:, None] ** 2 * fv * (1 - fv) * inv[:, None], 0)
        users_se = np.sqrt(uv * (1 - uv) * inv)
        overall_var = np.sum(np.where(sampled, w ** 2 * uv * (1 - uv) * inv, 0))
        # eq. 7 in areas (N_i. = A_i): N_.j = sum_i A_i n_ij / n_i.
        n_j = area @ frac
        producers_se = np.full(k, np.nan)
        for j in range(k):
            if not n_j[j] > 0:
                continue
            others = sum(area[i] ** 2 * fv[i, j] * (1 - fv[i, j]) * inv[i]
                         for i in range(k) if i != j and sampled[i])
            own = (area[j] ** 2 * (1 - producers[j]) ** 2 * uv[j] * (1 - uv[j]) * inv[j]
                   if sampled[j] else 0.0)
            producers_se[j] = np.sqrt(own + producers[j] ** 2 * others) / n_j[j]
    stratum, ref = _unit_level(counts)
    ext = np.isin(ref, [CLASS_CODES[c] for c in EXTENT_CLASSES]).astype(float)
    ext_p, ext_se = stratified_proportion(w, ext, stratum, census, rule=rule)
    return Assessment(
        site_id=site_id, period=period, counts=counts, stratum_area_ha=area, proportions=p,
        overall=float(np.trace(p)), overall_se=float(np.sqrt(overall_var)), users=users,
        users_se=users_se, producers=producers, producers_se=producers_se,
        area_ha=total * p_j, area_se_ha=total * np.sqrt(cell_var.sum(axis=0)),
        extent_ha=total * ext_p, extent_se_ha=total * ext_se, census=census)


def assess(design: Design, labels: pd.DataFrame) -> Assessment:
    """Validate ``labels`` against ``design`` (:func:`validate_labels`) and estimate."""
    checked = validate_labels(labels, design)
    counts = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    np.add.at(counts, (checked["stratum"].map(CLASS_CODES).to_numpy(),
                       checked["reference_class"].map(CLASS_CODES).to_numpy()), 1)
    return estimate(counts, np.array([s.area_ha for s in design.strata]),
                    stratum_pixels=np.array([s.pixels for s in design.strata]),
                    site_id=design.site_id, period=design.period)


def reference_change(then: np.ndarray, now: np.ndarray, valid: np.ndarray | None = None
                     ) -> np.ndarray:
    """Change codes of :data:`indices.maps.CHANGE_CODES` from two reference habitat maps
    (booleans, e.g. GMW v3 of the baseline year and of the month's year, 1 = mangrove):
    0 neither, 1 both, 2 only now (gain), 3 only then (loss); 255 where not ``valid``."""
    then, now = np.asarray(then, bool), np.asarray(now, bool)
    code = np.where(then, np.where(now, 1, 3), np.where(now, 2, 0)).astype(np.uint8)
    return code if valid is None else np.where(valid, code, NODATA).astype(np.uint8)


def labels_from_codes(design: Design, codes: np.ndarray) -> pd.DataFrame:
    """Label a design's samples from a reference change map on the design's grid
    (:func:`reference_change`, after reprojection): ``sample_id, stratum, map_class,
    reference_class``. Samples on the reference's nodata are refused (:class:`LabelError`)."""
    if codes.shape != design.shape:
        raise LabelError(f"reference {codes.shape} is not on the design's grid {design.shape}")
    frame = design.sample_frame()
    got = codes[frame["row"].to_numpy(), frame["col"].to_numpy()]
    off = frame["sample_id"][got >= len(CLASSES)]
    if len(off):
        raise LabelError(f"reference has no data at {len(off)} samples of {design.site_id} "
                         f"{design.period} ({_few(off)})")
    frame["reference_class"] = [CLASSES[c] for c in got]
    return frame[["sample_id", "stratum", "map_class", "reference_class"]]


def assess_extent(design: Design, habitat_now: np.ndarray, valid: np.ndarray | None = None
                  ) -> pd.DataFrame:
    """The extent alone, labelled from one reference habitat map on the design's grid (e.g.
    GMW v3 of the month's year, 1 = mangrove, reprojected): a one-row table, ``class='extent'``.

    The change strata stay the strata; y = [reference is habitat] is estimated with the
    stratified estimator (:func:`stratified_proportion`), the map extent's user's and
    producer's accuracies with ratio estimators (Stehman 2014, strata differing from the
    classes assessed). Equal to the ``extent`` row of :meth:`Assessment.table` when the
    four classes are labelled, except ``overall_accuracy``, here that of the two-class
    habitat / not-habitat map. Samples where ``valid`` is False are refused.
    """
    if habitat_now.shape != design.shape:
        raise LabelError(f"reference {habitat_now.shape} is not on the design's grid {design.shape}")
    frame = design.sample_frame()
    r, c = frame["row"].to_numpy(), frame["col"].to_numpy()
    if valid is not None:
        off = frame["sample_id"][~np.asarray(valid, bool)[r, c]]
        if len(off):
            raise LabelError(f"reference has no data at {len(off)} samples of {design.site_id} "
                             f"{design.period} ({_few(off)})")
    y = np.asarray(habitat_now, bool)[r, c].astype(float)
    stratum = frame["stratum"].map(CLASS_CODES).to_numpy()
    area = np.array([s.area_ha for s in design.strata])
    total = float(area.sum())
    idx = [CLASS_CODES[k] for k in EXTENT_CLASSES]
    map_in = np.isin(stratum, idx).astype(float)
    n_h = np.bincount(stratum, minlength=len(CLASSES))
    census = n_h >= np.array([s.pixels for s in design.strata])
    p, se = stratified_proportion(area / total, y, stratum, census)
    o, o_se = stratified_proportion(area / total, (map_in == y).astype(float), stratum, census)
    ua, ua_se = _ratio(area, stratum, map_in * y, map_in, census)
    pa, pa_se = _ratio(area, stratum, map_in * y, y, census)
    est, est_se = total * p, total * se
    row = {"site_id": design.site_id, "period": dt.date.fromisoformat(f"{design.period}-01"),
           "class": "extent", "n_samples": int(map_in.sum()),
           "map_area_ha": float(area[idx].sum()), "estimated_area_ha": est,
           "ci_low_ha": float(np.clip(est - Z95 * est_se, 0, total)),
           "ci_high_ha": float(np.clip(est + Z95 * est_se, 0, total)),
           "users_accuracy": ua, "producers_accuracy": pa, "overall_accuracy": o,
           "estimated_area_se_ha": est_se, "users_accuracy_se": ua_se,
           "producers_accuracy_se": pa_se, "overall_accuracy_se": o_se}
    return pd.DataFrame([row])[TABLE_COLUMNS]
