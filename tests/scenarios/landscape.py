"""Shapes of the scenarios: shores, tidal creeks, plantations, bathymetry, meadows, and the
changes planted in them over the months.

Everything is drawn from one ``numpy.random.Generator`` in a canonical frame (sea towards
the bottom rows), then turned by a random multiple of 90 degrees, so the sea lies on any side.
Distances are in pixels of 10 m.

Mangrove site: an elevation field h (m above the lowest tide) falls towards the sea; the
intertidal zone 0 < h < tidal range holds mudflat (lower part) and mangrove (upper part, above
a noisy line near mid-tide, where mangroves grow); dendritic tidal creeks cut the mangrove;
above the high-water line lie plantation blocks (oil palm, rubber, forest, rice, grass, bare
soil, village), a few aquaculture ponds sit in the upper intertidal. Planted change: a
clearing of mangrove (loss) after the baseline, and a replanting on mudflat whose canopy
closes over months (gain when canopy cover reaches 0.5 of the pixel, the truth's rule).

Seagrass site: a beach and land strip; a shelving sea floor z = z_max (1 - exp(-d / L)) with
gullies and bars, to 35-60 m offshore; meadows (a thresholded smooth field within a depth band,
with sand patches); a loss patch (anchoring / dieback) after the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

# class codes of the truth maps
SEA, CREEK, POND, MUDFLAT, MANGROVE, REPLANT, CLEARED = 1, 2, 3, 4, 5, 6, 7
OIL_PALM, RUBBER, FOREST, RICE, GRASS, BARE_SOIL, URBAN, SAND, SHRUB = range(10, 19)
SAND_BOTTOM, SEAGRASS = 20, 21
CLASS_NAMES = {SEA: "sea", CREEK: "creek", POND: "pond", MUDFLAT: "mudflat",
               MANGROVE: "mangrove", REPLANT: "replanting", CLEARED: "cleared",
               OIL_PALM: "oil_palm", RUBBER: "rubber", FOREST: "forest", RICE: "rice",
               GRASS: "grass", BARE_SOIL: "bare_soil", URBAN: "urban", SAND: "sand",
               SHRUB: "shrub", SAND_BOTTOM: "sand_bottom", SEAGRASS: "seagrass"}
WATER_CLASSES = (SEA, CREEK, POND, SAND_BOTTOM, SEAGRASS)
CLOSED_CANOPY = 0.5
"""A replanted pixel is mangrove in the truth once its canopy covers half of it (majority)."""


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-sd Gaussian random field with correlation length ~``sigma`` px (for
    sigma > 4, filtered on a grid ``sigma / 2`` times coarser and interpolated back: the
    same field statistics at a fraction of the cost)."""
    step = int(sigma // 2) if sigma > 4 else 1
    if step > 1:
        coarse = (shape[0] // step + 3, shape[1] // step + 3)
        f = ndimage.gaussian_filter(rng.standard_normal(coarse), sigma / step, mode="wrap")
        f = ndimage.zoom(f, step, order=1)[step:step + shape[0], step:step + shape[1]]
    else:
        f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def _smooth_1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    f = ndimage.gaussian_filter1d(rng.standard_normal(n), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def blob(rng: np.random.Generator, allowed: np.ndarray, area_px: int, sigma: float = 6.0
         ) -> np.ndarray:
    """A compact, irregular patch of about ``area_px`` pixels inside ``allowed`` (8-connected
    to a random seed pixel of ``allowed``); empty if nothing is allowed."""
    best = np.zeros_like(allowed)
    if allowed.sum() < 20 or area_px < 1:
        return best
    ys, xs = np.nonzero(allowed)
    yy, xx = np.indices(allowed.shape)
    for _ in range(5):  # a seed in a narrow strip may grow a tiny patch: try a few
        k = rng.integers(len(ys))
        dist = np.hypot(yy - ys[k], xx - xs[k])
        score = dist / np.sqrt(area_px) - 0.35 * smooth_field(rng, allowed.shape, sigma)
        score = np.where(allowed, score, np.inf)
        order = np.sort(score[np.isfinite(score)])
        cut = order[min(area_px, len(order)) - 1]
        labels, _ = ndimage.label(allowed & (score <= cut), structure=np.ones((3, 3), bool))
        patch = labels == labels[ys[k], xs[k]]
        if patch.sum() > best.sum():
            best = patch
        if best.sum() >= area_px // 2:
            break
    return best


@dataclass
class Landscape:
    """One seed's terrain and its planted changes, after rotation."""

    kind: str
    classes: np.ndarray
    """uint8 (y, x) base class map (before the changes)."""
    parcel: np.ndarray
    """int32 (y, x) parcel id: blocks share a spectral offset and a crop calendar."""
    height: np.ndarray | None = None
    """Mangrove site: m above the lowest tide (negative in the sea)."""
    tidal_range: float = 0.0
    depth: np.ndarray | None = None
    """Seagrass site: water depth (m) at mean level, 0 on land."""
    bottom_mix: np.ndarray | None = None
    """Seagrass site: per-pixel mix parameter of the bottom albedo (see water.bottom_albedo)."""
    loss: np.ndarray | None = None
    loss_month: int = -1
    loss_to: int = CLEARED
    gain: np.ndarray | None = None
    gain_t50: np.ndarray | None = None
    """Replanted pixels: month index at which the canopy cover reaches 0.5 (inf: dies back)."""
    plant_month: int = -1
    params: dict = field(default_factory=dict)

    def classes_at(self, month: int) -> np.ndarray:
        """Class map in month index ``month`` (changes apply from their month on)."""
        c = self.classes.copy()
        if self.loss is not None and month >= self.loss_month:
            c[self.loss] = self.loss_to
        if self.gain is not None and month >= self.plant_month:
            c[self.gain] = REPLANT
        return c

    def cover_at(self, month: float) -> np.ndarray:
        """Canopy cover (0-1) of the replanting at a (fractional) month index; 0 elsewhere."""
        out = np.zeros(self.classes.shape, np.float32)
        if self.gain is None or month < self.plant_month:
            return out
        t50 = self.gain_t50[self.gain]
        cover = 0.04 + 0.96 / (1.0 + np.exp(-(month - t50) / 2.0))
        dying = ~np.isfinite(t50)
        cover[dying] = np.minimum(0.04 + 0.02 * (month - self.plant_month), 0.3)
        out[self.gain] = cover
        return out

    def habitat_at(self, month: int) -> np.ndarray:
        """The truth: habitat in month index ``month`` (boolean map)."""
        c = self.classes_at(month)
        if self.kind == "seagrass":
            return c == SEAGRASS
        return (c == MANGROVE) | ((c == REPLANT) & (self.cover_at(month) >= CLOSED_CANOPY))


def inner_square(size: int, margin: float = 0.15) -> np.ndarray:
    """The central square that every site polygon of :mod:`scenarios.scenario` contains
    (rotation-invariant): planted changes are drawn inside it, so the site sees them."""
    out = np.zeros((size, size), bool)
    m = int(np.ceil(margin * size))
    out[m:size - m, m:size - m] = True
    return out


def _rotate(land: Landscape, k: int) -> Landscape:
    for name in ("classes", "parcel", "height", "depth", "bottom_mix", "loss", "gain",
                 "gain_t50"):
        value = getattr(land, name)
        if value is not None:
            setattr(land, name, np.ascontiguousarray(np.rot90(value, k)))
    land.params["rotation_deg"] = 90 * k
    return land


def _parcels(rng: np.random.Generator, shape: tuple[int, int], lo: int, hi: int) -> np.ndarray:
    """Jittered rectangular blocks (plantations, fields) of lo..hi px a side, as ids."""
    h, w = shape
    rows = np.cumsum(rng.integers(lo, hi, size=h // lo + 2))
    cols = np.cumsum(rng.integers(lo, hi, size=w // lo + 2))
    ri = np.searchsorted(rows, np.arange(h), side="right")
    ci = np.searchsorted(cols, np.arange(w), side="right")
    return (ri[:, None] * (len(cols) + 1) + ci[None, :]).astype(np.int32) + 1


def _assign(rng: np.random.Generator, parcel: np.ndarray, mask: np.ndarray,
            choices: dict[int, float]) -> np.ndarray:
    out = np.zeros(parcel.shape, np.uint8)
    codes, probs = list(choices), np.array(list(choices.values()), float)
    ids = np.unique(parcel[mask])
    drawn = rng.choice(codes, size=len(ids), p=probs / probs.sum())
    lut = np.zeros(parcel.max() + 1, np.uint8)
    lut[ids] = drawn
    out[mask] = lut[parcel[mask]]
    return out


def _creek(rng, h, y0, x0, width, tidal_range, max_len):
    """A meandering channel walked landward from (y0, x0); returns its pixels."""
    H, W = h.shape
    path = np.zeros(h.shape, bool)
    y, x, drift = float(y0), float(x0), 0.0
    for step in range(max_len):
        iy, ix = int(round(y)), int(round(x))
        if not (0 <= iy < H and 0 <= ix < W) or h[iy, ix] > tidal_range * 1.02:
            break
        wid = max(1.0, width * (1.0 - step / max_len))
        r = int(np.ceil(wid / 2))
        path[max(iy - r, 0):iy + r + 1, max(ix - r, 0):ix + r + 1] = True
        drift = 0.8 * drift + rng.normal(0, 0.5)
        y -= 1.0
        x += drift
    return path


def mangrove_landscape(rng: np.random.Generator, size: int, n_months: int,
                       baseline_months: int) -> Landscape:
    H = W = size
    yy = np.arange(H)[:, None].astype(float)
    tidal_range = float(rng.uniform(1.5, 4.0))
    width_px = float(rng.uniform(40, 130))  # intertidal zone 0.4-1.3 km wide
    coast = H * rng.uniform(0.62, 0.78) + 0.06 * H * _smooth_1d(rng, W, W / 6)
    h = tidal_range * (coast[None, :] - yy) / width_px
    h += 0.12 * tidal_range * smooth_field(rng, (H, W), 6)
    mud_line = tidal_range * rng.uniform(0.25, 0.5) + 0.12 * tidal_range * smooth_field(
        rng, (H, W), 10)
    classes = np.zeros((H, W), np.uint8)
    classes[h <= 0] = SEA
    classes[(h > 0) & (h <= mud_line)] = MUDFLAT
    classes[(h > mud_line) & (h <= tidal_range * 1.05)] = MANGROVE
    land = h > tidal_range * 1.05
    # tidal creeks: main channels from the shore, with tributaries
    creeks = np.zeros((H, W), bool)
    for _ in range(rng.integers(2, 6)):
        x0 = rng.uniform(0.05, 0.95) * W
        y0 = coast[int(x0)]
        main = _creek(rng, h, y0, x0, rng.uniform(2, 4.5), tidal_range, int(3 * width_px))
        creeks |= main
        ys, xs = np.nonzero(main)
        for _ in range(rng.integers(0, 3) if len(ys) else 0):
            k = rng.integers(len(ys))
            creeks |= _creek(rng, h, ys[k], xs[k] + rng.choice([-3, 3]), 1.5, tidal_range,
                             int(1.5 * width_px))
    creeks &= ~land & (classes != SEA)
    classes[creeks] = CREEK
    h[creeks] = np.minimum(h[creeks], -0.3)
    # plantations and fields above high water
    parcel = _parcels(rng, (H, W), 16, 40)
    inland = _assign(rng, parcel, land, {OIL_PALM: 0.32, RUBBER: 0.12, FOREST: 0.16,
                                         RICE: 0.14, GRASS: 0.12, BARE_SOIL: 0.06, URBAN: 0.08})
    classes[land] = inland[land]
    # aquaculture ponds cut into the upper intertidal
    upper = (classes == MANGROVE) & (h > 0.75 * tidal_range)
    for _ in range(rng.integers(0, 3)):
        pond = blob(rng, upper, int(rng.uniform(150, 600)), sigma=30)
        r0, r1 = np.nonzero(pond.any(1))[0][[0, -1]] if pond.any() else (0, -1)
        c0, c1 = np.nonzero(pond.any(0))[0][[0, -1]] if pond.any() else (0, -1)
        box = np.zeros_like(pond)
        box[r0:r1 + 1, c0:c1 + 1] = True  # ponds are rectangular
        classes[box & upper] = POND
    land_ = Landscape("mangrove", classes, parcel, height=h, tidal_range=tidal_range)
    # loss: a clearing in dense mangrove after the baseline
    core = ndimage.binary_erosion(classes == MANGROVE, np.ones((3, 3), bool), iterations=2)
    inner = inner_square(size)
    land_.loss = blob(rng, core & inner, int(rng.uniform(300, 1200)))
    land_.loss_month = int(rng.integers(baseline_months + 1, max(baseline_months + 2,
                                                                 n_months - 3)))
    land_.loss_to = int(rng.choice([CLEARED, POND], p=[0.7, 0.3]))
    # gain: replanting on the mudflat next to the mangrove, canopy closing over months
    near = ndimage.binary_dilation(classes == MANGROVE, np.ones((3, 3), bool), iterations=8)
    seaward = (classes == MUDFLAT) & near & (h > 0.5 * mud_line)
    land_.gain = blob(rng, seaward & inner, int(rng.uniform(400, 1500)))
    land_.plant_month = int(rng.integers(max(baseline_months - 3, 0), baseline_months + 3))
    t50 = land_.plant_month + rng.uniform(6, 14) + 2.5 * smooth_field(rng, (H, W), 3)
    t50 = np.maximum(t50, baseline_months + 2)  # the baseline itself does not change
    t50[rng.random((H, W)) < rng.uniform(0.05, 0.2)] = np.inf  # seedlings that die back
    land_.gain_t50 = np.where(land_.gain, t50, np.nan)
    land_.params.update(tidal_range_m=tidal_range, intertidal_width_m=10 * width_px,
                        loss_to=CLASS_NAMES[land_.loss_to])
    return _rotate(land_, int(rng.integers(4)))


def seagrass_landscape(rng: np.random.Generator, size: int, n_months: int,
                       baseline_months: int) -> Landscape:
    H = W = size
    yy = np.arange(H)[:, None].astype(float)
    coast = H * rng.uniform(0.08, 0.2) + 0.04 * H * _smooth_1d(rng, W, W / 5)
    dist_m = (yy - coast[None, :]) * 10.0
    sea = dist_m > 0
    z_max, scale = rng.uniform(35, 60), rng.uniform(800, 2500)
    depth = z_max * (1 - np.exp(-np.maximum(dist_m, 0) / scale))
    depth *= 1 + 0.08 * smooth_field(rng, (H, W), 12)
    gullies = np.clip(smooth_field(rng, (H, W), 4) * np.array([1.0]), 0, None)
    depth += 2.0 * gullies * (depth > 3)
    depth = np.where(sea, np.maximum(depth, 0.3), 0.0)
    classes = np.zeros((H, W), np.uint8)
    beach = ~sea & (dist_m > -rng.uniform(20, 60))
    parcel = _parcels(rng, (H, W), 12, 30)
    inland = _assign(rng, parcel, ~sea, {URBAN: 0.35, SHRUB: 0.35, BARE_SOIL: 0.15,
                                         GRASS: 0.15})
    classes[~sea] = inland[~sea]
    classes[beach] = SAND
    z_top, z_bottom = rng.uniform(0.5, 3.0), rng.uniform(15, 28)
    cover = rng.uniform(0.55, 0.85)
    f = smooth_field(rng, (H, W), 12) + 0.5 * smooth_field(rng, (H, W), 3)
    fade = np.clip((z_bottom - depth) / 4.0, 0, 1) * np.clip((depth - z_top) / 1.0, 0, 1)
    inside = sea & (fade > 0)
    meadow = inside & (f + 3.0 * (fade - 1.0) > np.quantile(f[inside], 1 - cover))
    meadow = ndimage.binary_opening(meadow, np.ones((2, 2), bool))
    classes[sea] = SAND_BOTTOM
    classes[meadow] = SEAGRASS
    mix = np.where(meadow, rng.uniform(0.0, 0.4), rng.uniform(0.33, 1.0))
    mix = mix * (1 + 0.08 * smooth_field(rng, (H, W), 5))
    land_ = Landscape("seagrass", classes, parcel, depth=depth, bottom_mix=mix)
    core = ndimage.binary_erosion(meadow, np.ones((3, 3), bool), iterations=1)
    land_.loss = blob(rng, core & inner_square(size), int(rng.uniform(200, 800)))
    land_.loss_month = int(rng.integers(baseline_months + 1, max(baseline_months + 2,
                                                                 n_months - 3)))
    land_.loss_to = SAND_BOTTOM
    land_.params.update(z_max_m=z_max, shelf_scale_m=scale, meadow_depth_m=(z_top, z_bottom),
                        meadow_cover=cover)
    return _rotate(land_, int(rng.integers(4)))
