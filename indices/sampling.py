"""The sampling design of an accuracy assessment: strata, sample size, allocation, the draw.

A month's change map (codes of :data:`indices.maps.CHANGE_CODES`) is the stratification:
the strata are the map classes ``stable_other, stable_habitat, gain, loss`` (codes 0-3), as
in the stratified random design that Olofsson et al. 2014 (Remote Sens. Environ. 148:42-57,
doi:10.1016/j.rse.2014.02.015, with the worked example of their section 5) recommend for
change maps. The design
record (:class:`Design`) holds everything the estimator needs (stratum areas and weights, the
sample's pixels), so an assessment reads nothing else.

Pure numpy; pyproj only to compute ellipsoidal pixel areas and WGS84 coordinates.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from indices.maps import NODATA

__all__ = ["CLASSES", "CLASS_CODES", "Design", "Stratum", "USERS_ACCURACY_ASSUMED",
           "allocate", "draw_sample", "field_sheet", "geographic_row_areas_ha", "map_digest",
           "pixel_areas_ha", "sample_id_parts", "sample_size", "stratum_pixels", "to_lonlat"]

#: The change classes, in the order of their codes in :data:`indices.maps.CHANGE_CODES`.
CLASSES: tuple[str, ...] = ("stable_other", "stable_habitat", "gain", "loss")
CLASS_CODES: dict[str, int] = {name: code for code, name in enumerate(CLASSES)}

#: Anticipated user's accuracies for the sample size (Olofsson et al. 2014's example: 0.95
#: stable non-forest, 0.9 stable forest, 0.6 forest gain, 0.7 deforestation), carried to
#: the classes they correspond to. Global Mangrove Watch v3 measured gain and loss accuracies
#: of 58.1 % and 60.6 % (Bunting et al. 2022, Remote Sens. 14:3657): the same order.
USERS_ACCURACY_ASSUMED: dict[str, float] = {
    "stable_other": 0.95, "stable_habitat": 0.90, "gain": 0.60, "loss": 0.70}

#: Fewest samples in a non-empty stratum: its variance (Olofsson 2014 eqs. 5-7, 10) divides
#: by n_h - 1.
MIN_PER_STRATUM = 2


@dataclass(frozen=True)
class Stratum:
    """One stratum (= one map class) of a design."""

    name: str
    """Class name, one of :data:`CLASSES`."""
    code: int
    """Its code in the change map."""
    pixels: int
    """Pixels of the map in this class, inside the site mask."""
    area_ha: float
    """Their area in hectares (nominal on a projected grid, ellipsoidal on a geographic one)."""
    weight: float
    """W_h: the stratum's share of the mapped area."""
    n: int
    """Sample units drawn from it (n_h)."""


@dataclass(frozen=True)
class Design:
    """A stratified random sample drawn from one change map, and all an estimate needs.

    Saved as ``design.json`` (:meth:`to_dict` / :meth:`from_dict` are exact round trips).
    """

    site_id: str
    period: str
    """The map's month, ``YYYY-MM``."""
    seed: int
    strata: tuple[Stratum, ...]
    crs: str
    """The map grid's CRS as WKT."""
    transform: tuple[float, float, float, float, float, float]
    """Affine of the map grid, (a, b, c, d, e, f) as in ``affine.Affine``."""
    shape: tuple[int, int]
    map_digest: str
    """SHA-256 of the change map inside the site (see :func:`map_digest`)."""
    target_se: float | None
    """Target standard error of overall accuracy the sample size was chosen for (None: given n)."""
    floor: int
    """Requested floor of the rare strata; ``floor_applied`` what the total allowed."""
    floor_applied: int
    users_accuracy_assumed: dict[str, float] = field(default_factory=dict)
    jitter: bool = False
    samples: tuple[tuple[str, str, int, int, float, float], ...] = ()
    """(sample_id, stratum, row, col, x, y) of each unit, in the map CRS."""

    @property
    def n(self) -> int:
        return sum(s.n for s in self.strata)

    @property
    def total_area_ha(self) -> float:
        return sum(s.area_ha for s in self.strata)

    def stratum(self, name: str) -> Stratum:
        return self.strata[CLASS_CODES[name]]

    def sample_frame(self) -> pd.DataFrame:
        """The sample as a frame: ``sample_id, stratum, map_class, reference_class`` (empty),
        ``x, y`` (map CRS), ``row, col`` (map pixel)."""
        ids, strata, rows, cols, xs, ys = (list(c) for c in zip(*self.samples, strict=True)) \
            if self.samples else ([], [], [], [], [], [])
        return pd.DataFrame({
            "sample_id": pd.Series(ids, dtype=object), "stratum": pd.Series(strata, dtype=object),
            "map_class": pd.Series(strata, dtype=object),
            "reference_class": pd.Series([""] * len(ids), dtype=object),
            "x": np.asarray(xs, float), "y": np.asarray(ys, float),
            "row": np.asarray(rows, np.int64), "col": np.asarray(cols, np.int64)})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["strata"] = [asdict(s) for s in self.strata]
        d["transform"] = list(self.transform)
        d["shape"] = list(self.shape)
        d["samples"] = [dict(zip(("sample_id", "stratum", "row", "col", "x", "y"), s, strict=True))
                        for s in self.samples]
        d["n"] = self.n
        d["total_area_ha"] = self.total_area_ha
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Design:
        kw = {k: d[k] for k in ("site_id", "period", "seed", "crs", "map_digest", "target_se",
                                "floor", "floor_applied", "jitter")}
        return cls(**kw,
                   strata=tuple(Stratum(**s) for s in d["strata"]),
                   transform=tuple(float(v) for v in d["transform"]),
                   shape=(int(d["shape"][0]), int(d["shape"][1])),
                   users_accuracy_assumed=dict(d.get("users_accuracy_assumed", {})),
                   samples=tuple((s["sample_id"], s["stratum"], int(s["row"]), int(s["col"]),
                                  float(s["x"]), float(s["y"])) for s in d["samples"]))


def sample_size(weights: Sequence[float], users_accuracy: Sequence[float],
                target_se: float = 0.01) -> int:
    """Total sample size for a target standard error of overall accuracy.

    Olofsson et al. 2014 eq. 13 (Cochran 1977 eq. 5.25):
    n = (sum_i W_i S_i / S(O))^2 with S_i = sqrt(U_i (1 - U_i)), U_i the anticipated user's
    accuracy of stratum i. Their example (W = 0.02, 0.015, 0.32, 0.645; U = 0.7, 0.6, 0.9,
    0.95; S(O) = 0.01) gives 641. Rounded up.
    """
    w = np.asarray(weights, float)
    u = np.asarray(users_accuracy, float)
    if not 0 < target_se < 1:
        raise ValueError(f"target standard error must be in (0, 1), got {target_se}")
    return int(math.ceil((np.sum(w * np.sqrt(u * (1 - u))) / target_se) ** 2 - 1e-9))


def _proportional(total: int, sizes: np.ndarray, caps: np.ndarray, mins: np.ndarray) -> np.ndarray:
    """``total`` units over strata proportionally to ``sizes`` (largest remainders), each
    between its minimum and its cap; the excess of a capped stratum goes to the others."""
    sizes = np.asarray(sizes, float)
    fixed = np.full(sizes.shape, -1.0)          # -1: still proportional
    fixed[sizes <= 0] = mins[sizes <= 0]
    while True:                                  # bounded quotas (Hamilton with bounds)
        free = fixed < 0
        left = total - fixed[~free].sum()
        quota = np.where(free, left * sizes / max(np.sum(sizes[free]), 1e-300), fixed)
        low, high = free & (quota < mins), free & (quota > caps)
        if not (low.any() or high.any()):
            break
        fixed[low], fixed[high] = mins[low], caps[high]
    out = np.minimum(np.floor(quota + 1e-9).astype(np.int64), caps)
    left = total - int(out.sum())
    for i in np.argsort(-(quota - out), kind="stable"):  # largest remainders first
        if left <= 0:
            break
        if out[i] < caps[i] and sizes[i] > 0:
            out[i] += 1
            left -= 1
    return out


def allocate(pixels: Mapping[str, int], n: int, *, floor: int = 50) -> tuple[dict[str, int], int]:
    """Sample units per stratum: a floor for the rare strata, the rest proportional to area.

    Olofsson et al. 2014 section 5.1.3 and Stehman 2012 (Remote Sens. Lett. 3:111-120):
    proportional allocation leaves rare classes (the change classes) a handful of units and
    their user's accuracies imprecise; giving each rare stratum a floor of 50-100 units and
    the rest proportionally to area balances user's accuracy against area precision.

    A stratum is *rare* when its proportional share ``n * W_h`` is below the floor: gain and
    loss in practice, and stable habitat on a site being replanted, whose extent (stable
    habitat + gain) needs it too. Rare strata get the floor, the others ``n`` minus the rare
    strata's units, proportionally to pixels (largest remainders, Hamilton's method with
    bounds).

    Edge cases: the floor is at most an equal share ``n // (non-empty strata)`` (returned as
    the second value), so a small total tends to equal allocation instead of starving the
    large strata that hold the omission errors; an empty stratum gets 0; a stratum never gets
    more units than pixels, nor (when it has pixels) fewer than ``min(2, pixels)`` (its
    variance needs 2); units a full stratum cannot take go to the others; ``n`` at least the
    map's pixels takes every pixel (a census). ValueError when ``n`` is below 2 a non-empty
    stratum.

    Returns ``({class: n_h}, floor applied)``.
    """
    if floor < MIN_PER_STRATUM:
        raise ValueError(f"floor must be at least {MIN_PER_STRATUM}, got {floor}")
    names = list(pixels)
    caps = np.array([int(pixels[k]) for k in names], np.int64)
    if (caps < 0).any():
        raise ValueError("pixel counts must be non-negative")
    if caps.sum() == 0:
        raise ValueError("the map has no pixel in any stratum inside the site")
    if n >= caps.sum():
        return dict(zip(names, caps.tolist(), strict=True)), floor
    mins = np.minimum(caps, MIN_PER_STRATUM)
    if n < mins.sum():
        raise ValueError(f"n={n} is below {MIN_PER_STRATUM} sample units for each of the "
                         f"{int((caps > 0).sum())} non-empty strata")
    share = n * caps / caps.sum()
    f = max(MIN_PER_STRATUM, min(floor, n // int((caps > 0).sum())))
    while True:
        rare = (caps > 0) & (share < f)
        fixed = np.where(rare, np.minimum(caps, f), 0).astype(np.int64)
        if fixed.sum() + np.where(rare, 0, mins).sum() <= n or f == MIN_PER_STRATUM:
            break
        f -= 1  # unreachable when n >= 2 a stratum (kept as a guard)
    rest = _proportional(n - int(fixed.sum()), np.where(rare, 0, caps), np.where(rare, 0, caps),
                         np.where(rare, 0, mins))
    out = fixed + rest
    if out.sum() < n:  # the proportional strata are all full: the rare ones take the rest
        out = _proportional(n, caps.astype(float), caps, out)
    return dict(zip(names, out.tolist(), strict=True)), f


def stratum_pixels(change: np.ndarray, site: np.ndarray | None = None) -> dict[str, int]:
    """Pixels of each class of a change map inside the site (nodata 255 excluded)."""
    valid = change != NODATA if site is None else (change != NODATA) & site.astype(bool)
    counts = np.bincount(change[valid].ravel(), minlength=len(CLASSES))
    if counts.size > len(CLASSES):
        raise ValueError(f"change map holds codes other than 0-3 and {NODATA}: "
                         f"{sorted(set(np.flatnonzero(counts[len(CLASSES):]) + len(CLASSES)))}")
    return {name: int(counts[code]) for code, name in enumerate(CLASSES)}


def map_digest(change: np.ndarray, site: np.ndarray | None = None) -> str:
    """SHA-256 of the change map as the design saw it (nodata outside the site), so an
    assessment can tell the map was replaced since (a re-run of the month)."""
    codes = change if site is None else np.where(site.astype(bool), change, NODATA)
    h = hashlib.sha256(np.ascontiguousarray(codes, dtype=np.uint8).tobytes())
    h.update(repr(codes.shape).encode())
    return h.hexdigest()


def geographic_row_areas_ha(transform: Sequence[float], height: int,
                            crs: CRS | str = "EPSG:4326") -> np.ndarray:
    """Area in hectares of one cell of each row of a north-up lat/lon grid, on the ellipsoid.

    Closed form of the area of a quadrangle between parallels phi1, phi2 and meridians
    dlambda apart on an ellipsoid of revolution (semi-minor axis b, eccentricity e):
    A = dlambda * b^2 / 2 * [g(phi2) - g(phi1)], g(phi) = sin(phi) / (1 - e^2 sin^2(phi)) +
    atanh(e sin(phi)) / e, i.e. q / (1 - e^2) with q the authalic-latitude function (Snyder
    1987, USGS Prof. Paper 1395, eq. 3-12). Exact up to float rounding; checked against
    Karney's geodesic polygon areas (pyproj.Geod) in the tests.
    """
    a_, b_, c_, d_, e_, f_ = (float(v) for v in tuple(transform)[:6])
    if b_ != 0 or d_ != 0:
        raise ValueError("a rotated geographic grid has no per-row pixel area")
    ell = CRS.from_user_input(crs).ellipsoid
    a = ell.semi_major_metre
    inv_f = ell.inverse_flattening
    f = 1 / inv_f if inv_f else 0.0
    b = a * (1 - f)
    e = math.sqrt(f * (2 - f))
    lat = np.radians(f_ + e_ * np.arange(height + 1))
    s = np.sin(lat)
    g = s / (1 - e * e * s * s) + (np.arctanh(e * s) / e if e > 0 else s)
    return np.abs(np.radians(a_) * b * b / 2 * np.diff(g)) / 1e4


def pixel_areas_ha(transform: Sequence[float], shape: tuple[int, int],
                   crs: CRS | str) -> np.ndarray:
    """Pixel areas in hectares, broadcastable to ``shape``: ``(height, 1)`` on a geographic
    grid (ellipsoidal, :func:`geographic_row_areas_ha`), ``(1, 1)`` on a projected one.

    On a projected grid (the sites' UTM grids) the area is the nominal one, |a e - b d| in
    the CRS unit squared: UTM's scale factor (0.9996 on the central meridian to about 1.001
    at the zone's edge) makes true ground areas differ from it by -0.2 to +0.08 %.
    """
    c = CRS.from_user_input(crs)
    if c.is_geographic:
        return geographic_row_areas_ha(transform, shape[0], c)[:, None]
    a, b, _, d, e, _ = (float(v) for v in tuple(transform)[:6])
    unit = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
    return np.full((1, 1), abs(a * e - b * d) * unit * unit / 1e4)


def _rank_to_pixel(mask: np.ndarray, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the ``ranks``-th True pixels of ``mask`` in row-major order, without
    materialising the index of every True pixel (memory O(rows), not O(pixels))."""
    per_row = np.cumsum(mask.sum(axis=1, dtype=np.int64))
    rows = np.searchsorted(per_row, ranks, side="right")
    before = np.where(rows > 0, per_row[np.maximum(rows - 1, 0)], 0)
    cols = np.empty_like(ranks)
    for r in np.unique(rows):
        pick = rows == r
        cols[pick] = np.flatnonzero(mask[r])[ranks[pick] - before[pick]]
    return rows, cols


def draw_sample(change: np.ndarray, *, transform: Sequence[float], crs: CRS | str,
                site_id: str, period: str, seed: int, site: np.ndarray | None = None,
                n: int | None = None, floor: int = 50, target_se: float = 0.01,
                users_accuracy: Mapping[str, float] | None = None,
                jitter: bool = False) -> Design:
    """A stratified random sample of a change map's pixels (strata = map classes).

    ``change``: uint8 ``(y, x)`` codes 0-3, 255 nodata; ``site``: boolean mask (pixels outside
    are not sampled); ``n``: total sample size, by default :func:`sample_size` for
    ``target_se`` with ``users_accuracy`` (default :data:`USERS_ACCURACY_ASSUMED`);
    allocation :func:`allocate`. Within each stratum, pixels are drawn at random without
    replacement (no pixel twice), strata in code order from one ``numpy.random.default_rng(seed)``:
    the same inputs and seed give the same sample. Points are pixel centres, or uniform within
    the pixel with ``jitter``. Sample ids are ``<site_id>_<period>_<k:04d>``.
    """
    change = np.asarray(change)
    if change.ndim != 2:
        raise ValueError(f"change map must be 2-D, got shape {change.shape}")
    if site is not None and site.shape != change.shape:
        raise ValueError(f"site mask {site.shape} and change map {change.shape} differ in shape")
    crs_obj = CRS.from_user_input(crs)
    counts = stratum_pixels(change, site)
    areas = pixel_areas_ha(transform, change.shape, crs_obj)
    valid = (change != NODATA) if site is None else (change != NODATA) & site.astype(bool)
    if areas.shape[0] == 1:
        area_ha = {k: counts[k] * float(areas[0, 0]) for k in CLASSES}
    else:
        area_ha = {k: float(np.sum((valid & (change == CLASS_CODES[k])).sum(axis=1) * areas[:, 0]))
                   for k in CLASSES}
    total = sum(area_ha.values())
    if total <= 0:
        raise ValueError(f"site {site_id!r} has no mapped pixel in {period}")
    weights = {k: area_ha[k] / total for k in CLASSES}
    users = dict(USERS_ACCURACY_ASSUMED if users_accuracy is None else users_accuracy)
    if n is None:
        n = sample_size([weights[k] for k in CLASSES], [users[k] for k in CLASSES], target_se)
        chosen_se: float | None = target_se
    else:
        chosen_se = None
    n_h, floor_applied = allocate(counts, int(n), floor=floor)
    rng = np.random.default_rng(seed)
    a, b, c, d, e, f = (float(v) for v in tuple(transform)[:6])
    samples = []
    for name in CLASSES:
        if n_h[name] == 0:
            continue
        mask = valid & (change == CLASS_CODES[name])
        ranks = np.sort(rng.choice(counts[name], size=n_h[name], replace=False))
        rows, cols = _rank_to_pixel(mask, ranks)
        du, dv = (rng.random(rows.size), rng.random(rows.size)) if jitter else (0.5, 0.5)
        xs = c + (cols + du) * a + (rows + dv) * b
        ys = f + (cols + du) * d + (rows + dv) * e
        samples += [(name, int(r), int(q), float(x), float(y))
                    for r, q, x, y in zip(rows, cols, np.broadcast_to(xs, rows.shape),
                                          np.broadcast_to(ys, rows.shape), strict=True)]
    samples = [(f"{site_id}_{period}_{k:04d}", *s) for k, s in enumerate(samples, start=1)]
    strata = tuple(Stratum(name=k, code=CLASS_CODES[k], pixels=counts[k], area_ha=area_ha[k],
                           weight=weights[k], n=n_h[k]) for k in CLASSES)
    return Design(site_id=site_id, period=period, seed=int(seed), strata=strata,
                  crs=crs_obj.to_wkt(), transform=(a, b, c, d, e, f),
                  shape=(int(change.shape[0]), int(change.shape[1])),
                  map_digest=map_digest(change, site), target_se=chosen_se, floor=floor,
                  floor_applied=floor_applied, users_accuracy_assumed=users, jitter=jitter,
                  samples=tuple(samples))


def to_lonlat(x: np.ndarray, y: np.ndarray, crs: CRS | str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude and latitude (degrees) of points in ``crs``."""
    t = Transformer.from_crs(CRS.from_user_input(crs), CRS.from_epsg(4326), always_xy=True)
    lon, lat = t.transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def field_sheet(design: Design) -> pd.DataFrame:
    """The sample for a field team or a photo-interpreter: ``sample_id, stratum, map_class,
    reference_class`` (empty), ``lon, lat`` (WGS84 degrees), ``x, y`` (map CRS). The rows of
    ``samples.csv``; ``samples.geojson`` holds the same as Point features at (lon, lat)."""
    frame = design.sample_frame()
    lon, lat = to_lonlat(frame["x"].to_numpy(), frame["y"].to_numpy(), design.crs)
    out = frame[["sample_id", "stratum", "map_class", "reference_class"]].copy()
    out["lon"], out["lat"] = lon, lat
    out["x"], out["y"] = frame["x"], frame["y"]
    return out


def sample_id_parts(sample_id: str) -> tuple[str, str]:
    """``(site_id, period)`` of a sample id ``<site_id>_<YYYY-MM>_<k>`` (site ids are slugs
    without underscores), so a labels file finds its design. ValueError if it is not one."""
    parts = str(sample_id).strip().split("_")
    if len(parts) != 3 or len(parts[1]) != 7 or parts[1][4] != "-" or not parts[2].isdigit():
        raise ValueError(f"{sample_id!r} is not a sample id of the form <site>_<YYYY-MM>_<k>")
    return parts[0], parts[1]
