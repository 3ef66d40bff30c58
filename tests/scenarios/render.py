"""Rendering one scene: surface reflectance of every pixel, then what Sentinel-2 L2A makes of it.

Order: class spectra (per-seed means, per-parcel offsets, a fixed per-pixel texture, crop and
leaf phenology) and water (:mod:`scenarios.water`: depth at that scene's tide, bottom, plume)
-> sun glint on water -> an atmospheric-correction residual (per scene and band) -> the
sensor's blur (Gaussian PSF, sigma 0.5 px: mixed pixels at every edge) -> clouds, cirrus and
cloud shadows -> sensor noise -> swath-edge nodata -> digital numbers:
DN = round(rho * 10000) + 1000 from processing baseline 04.00 on (BOA_ADD_OFFSET -1000), else
round(rho * 10000); 0 is nodata, so valid DN are clipped to >= 1.

SCL: 0 nodata, 3 cloud shadow, 8/9 cloud medium/high probability, 10 thin cirrus, 6 water,
4 vegetation, 5 not vegetated. Cloud edges with opacity below 0.2 stay unflagged, as
Sen2Cor misses thin haze. B11, B12 and SCL are delivered at 20 m like real L2A.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import landscape as ls
from .spectra import CLASSES
from .tables import S2_BANDS
from .water import VIS, WaterType, bottom_albedo, noise_equivalent_rho, to_rho

NOISE = {b: noise_equivalent_rho(b) for b in S2_BANDS}
"""Per-pixel sensor noise (rho), from the MSI SNR requirements (see water.py)."""
ATMOS_SD = np.array([0.003, 0.002, 0.0015, 0.002, 0.002, 0.002])
"""Per-scene, per-band sd of the additive residual of atmospheric correction (rho);
approximate: L2A over dark targets is good to a few 0.001."""
CLOUD_RHO = np.array([0.45, 0.45, 0.46, 0.50, 0.38, 0.28])
NIR_ALBEDO = {"mud": 0.10, "sand": 0.35, "seagrass": 0.25}
"""Bottom NIR irradiance reflectance (approximate); it matters only in the top decimetres."""
A_NIR = 3.58
"""Pure-water absorption over B08 (/m), water.water_nir_absorption() (Hale & Querry 1973)."""
PLUME_LEVELS = np.array([0.0, 0.01, 0.02, 0.04, 0.08, 0.12, 0.2])
SPECTRUM_OF = {ls.MANGROVE: "mangrove", ls.OIL_PALM: "oil_palm", ls.FOREST: "forest",
               ls.GRASS: "grass", ls.URBAN: "urban", ls.BARE_SOIL: "bare_soil", ls.SAND: "sand",
               ls.SHRUB: "shrub", ls.MUDFLAT: "mud_wet", ls.CLEARED: "mud_dry",
               ls.RUBBER: "rubber", ls.REPLANT: "mud_wet", ls.RICE: "rice_grown"}
"""The land spectrum of each class code (rice and rubber vary with the calendar)."""


@dataclass(frozen=True)
class SceneSpec:
    """What varies between scenes."""

    month: int
    month_frac: float
    """Fractional month index of the acquisition (for the canopy growth)."""
    calendar_month: int
    tide: float
    glint: float
    cloud_fraction: float
    cirrus: bool
    swath_cut: bool
    plume: bool
    dn_offset: int
    seed: int


class Renderer:
    """Renders the scenes of one seed's landscape (static fields drawn once)."""

    def __init__(self, land: ls.Landscape, means: dict[str, np.ndarray], water: WaterType,
                 rng: np.random.Generator, *, southern: bool, plume_bb: float = 0.0):
        self.land, self.means, self.water = land, means, water
        self.southern = southern
        self.plume_bb = plume_bb
        shape = land.classes.shape
        common = ls.smooth_field(rng, shape, 1.0)
        self.texture = np.stack([0.8 * common + 0.6 * rng.standard_normal(shape)
                                 for _ in S2_BANDS])
        n_parcels = int(land.parcel.max()) + 1
        self.parcel_gain = 1.0 + 0.04 * rng.standard_normal((n_parcels, len(S2_BANDS)))
        self.rice_phase = rng.integers(0, 6, size=n_parcels)
        self.glint_texture = np.clip(1.0 + 0.6 * ls.smooth_field(rng, shape, 1.5), 0, None)
        # plume levels of this water type: Kd, deep R and NIR rho per level
        self.plume_table = [water.plume(b) for b in PLUME_LEVELS]
        self.bottom = self._bottom_albedo()

    # -- surfaces --------------------------------------------------------------------
    def _bottom_albedo(self) -> dict[str, np.ndarray]:
        land = self.land
        shape = land.classes.shape
        if land.kind == "mangrove":
            mud = bottom_albedo("mud", 0.2)
            return {b: np.full(shape, mud[b]) for b in VIS} | {"nir": np.full(shape, 0.10)}
        out = {b: np.zeros(shape) for b in VIS}
        nir = np.zeros(shape)
        for kind, code in (("sand", ls.SAND_BOTTOM), ("seagrass", ls.SEAGRASS)):
            sel = land.classes == code
            for mix in np.unique(np.round(land.bottom_mix[sel], 2)):
                px = sel & (np.round(land.bottom_mix, 2) == mix)
                alb = bottom_albedo(kind, float(mix))
                for b in VIS:
                    out[b][px] = alb[b]
            nir[sel] = NIR_ALBEDO[kind]
        out["nir"] = nir
        return out

    def _class_rho(self, classes: np.ndarray, spec: SceneSpec) -> np.ndarray:
        m = self.means
        lut = np.zeros((256, len(S2_BANDS)))
        sd = np.zeros(256)
        for code, name in SPECTRUM_OF.items():
            lut[code], sd[code] = m[name], CLASSES[name].pixel_sd
        # leaf fall of rubber ("wintering", Feb-Mar north of the equator, Aug-Sep south)
        winter = (8, 9) if self.southern else (2, 3)
        if spec.calendar_month in winter:
            lut[ls.RUBBER] = 0.55 * m["rubber"] + 0.45 * m["bare_soil"]
        dry = (7, 8, 9) if self.land.kind == "seagrass" else ((1, 2) if not self.southern
                                                             else (8, 9))
        if spec.calendar_month in dry:
            lut[ls.GRASS] = 0.7 * m["grass"] + 0.3 * m["mud_dry"]
        rho = lut[classes]
        rice = classes == ls.RICE
        if rice.any():
            stage = (spec.month + self.rice_phase[self.land.parcel]) % 6
            seq = [m["rice_flooded"], 0.6 * m["rice_flooded"] + 0.4 * m["rice_grown"],
                   m["rice_grown"], m["rice_grown"], 0.5 * m["rice_grown"] + 0.5 * m["mud_dry"],
                   m["mud_dry"]]
            rho[rice] = np.asarray(seq)[stage[rice]]
        rho *= self.parcel_gain[self.land.parcel]
        return rho * (1.0 + sd[classes][..., None] * np.moveaxis(self.texture, 0, -1))

    def _water_rho(self, depth: np.ndarray, bb_sed: np.ndarray) -> np.ndarray:
        """Water-leaving rho (y, x, band) of water ``depth`` m deep with plume ``bb_sed``."""
        out = np.zeros((*depth.shape, len(S2_BANDS)))
        levels = PLUME_LEVELS
        for i, b in enumerate(VIS):
            kd = np.interp(bb_sed, levels, [t[0][b] for t in self.plume_table])
            r_deep = np.interp(bb_sed, levels, [t[1][b] for t in self.plume_table])
            r = r_deep + (self.bottom[b] - r_deep) * np.exp(-2.0 * kd * depth)
            out[..., i] = to_rho(r)
        nir_water = np.interp(bb_sed, levels, [t[2] for t in self.plume_table])
        out[..., 3] = nir_water + to_rho(self.bottom["nir"]) * np.exp(-2.0 * A_NIR * depth)
        return out

    def surface(self, spec: SceneSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Surface reflectance (y, x, band) at this scene, and the water mask."""
        land = self.land
        classes = land.classes_at(spec.month)
        rho = self._class_rho(classes, spec)
        shape = classes.shape
        plume = np.full(shape, self.plume_bb)
        if spec.plume:
            plume += 0.03 * np.clip(ls.smooth_field(rng, shape, 25) - 0.5, 0, None)
        if land.kind == "mangrove":
            h = land.height
            depth = np.maximum(spec.tide - h, 0.0)
            depth[classes == ls.POND] = 1.0
            flooded = (depth > 0.02) & np.isin(classes, (ls.SEA, ls.CREEK, ls.POND,
                                                         ls.MUDFLAT, ls.REPLANT, ls.CLEARED))
            water = np.isin(classes, (ls.SEA, ls.CREEK, ls.POND)) | flooded
            wrho = self._water_rho(depth, plume)
            rho[water] = wrho[water]
            # canopies: dense mangrove stands above the water (5-6 m trees, roots submerged
            # at high tide); seedlings are covered in proportion to the tide over them
            cover = land.cover_at(spec.month_frac)
            young = classes == ls.REPLANT
            sub = np.clip(depth / 1.0, 0.0, 0.9)
            canopy = self.means["mangrove"] * (1 + 0.06 * np.moveaxis(self.texture, 0, -1))
            under = np.where(water[..., None], wrho, rho)
            c = (cover * (1.0 - sub))[..., None]
            rho[young] = (c * canopy + (1.0 - c) * under)[young]
            submerged = (classes == ls.MANGROVE) & (depth > 0)
            s = np.clip(depth / 6.0, 0, 0.3)[..., None]
            rho[submerged] = ((1 - s) * rho + s * wrho)[submerged]
        else:
            depth = np.where(land.depth > 0, land.depth + spec.tide, 0.0)
            water = land.depth > 0
            wrho = self._water_rho(depth, plume)
            rho[water] = wrho[water]
        if spec.glint > 0:
            rho[water] += (spec.glint * self.glint_texture[water])[:, None]
        return rho, water

    # -- sensor ------------------------------------------------------------------------
    def scene(self, spec: SceneSpec) -> tuple[dict[str, np.ndarray], float]:
        """Digital numbers of one scene: B02 B03 B04 B08 at 10 m, B11 B12 SCL at 20 m, and
        the share of the scene flagged cloud (SCL 8, 9, 10) in percent."""
        rng = np.random.default_rng(spec.seed)
        rho, water = self.surface(spec, rng)
        shape = water.shape
        rho = rho * rng.normal(1.0, 0.02, len(S2_BANDS)) + rng.normal(0, ATMOS_SD)
        for i in range(len(S2_BANDS)):
            rho[..., i] = ndimage.gaussian_filter(rho[..., i], 0.5, mode="nearest",
                                                  truncate=3.0)
        alpha = np.zeros(shape)
        if spec.cloud_fraction > 0:
            f = ls.smooth_field(rng, shape, 12) + 0.3 * ls.smooth_field(rng, shape, 3)
            q = np.quantile(f, 1 - spec.cloud_fraction)
            alpha = np.clip((f - q) / 0.6 + 0.2, 0, 1) * (f > q - 0.12)
        cloud_rho = CLOUD_RHO * rng.uniform(0.7, 1.2)
        rho = rho * (1 - alpha[..., None]) + alpha[..., None] * cloud_rho
        cirrus = np.zeros(shape)
        if spec.cirrus:
            cirrus = 0.15 * np.clip(ls.smooth_field(rng, shape, 20), 0, None) / 2.0
            rho += cirrus[..., None] * 0.3
        shadow = np.zeros(shape)
        if alpha.any():
            dy, dx = rng.integers(-25, 26, size=2)
            shadow = np.roll(alpha, (int(dy), int(dx)), axis=(0, 1)) * (alpha < 0.2)
            rho *= 1.0 - 0.7 * shadow[..., None]
        rho += rng.normal(0, 1, rho.shape) * np.array([NOISE[b] for b in S2_BANDS])
        valid = np.ones(shape, bool)
        if spec.swath_cut:
            yy, xx = np.indices(shape)
            a = rng.uniform(-0.6, 0.6)
            valid = (xx - a * yy) < rng.uniform(0.3, 0.8) * shape[1]
            if rng.random() < 0.5:
                valid = valid[:, ::-1]
        scl = _scene_classes(rho, alpha, cirrus, shadow, valid)
        dn = encode_dn(rho, spec.dn_offset, valid)
        out = {b: np.ascontiguousarray(dn[..., i]) for i, b in enumerate(S2_BANDS[:4])}
        for i, b in ((4, "B11"), (5, "B12")):
            out[b] = to_20m(dn[..., i])
        out["SCL"] = scl_20m(scl)
        cloudy = float(np.isin(out["SCL"], (8, 9, 10)).mean() * 100.0)
        return out, cloudy


def encode_dn(rho: np.ndarray, dn_offset: int, valid: np.ndarray | bool = True) -> np.ndarray:
    """L2A digital numbers: round(rho x 10000) + ``dn_offset`` (1000 from processing baseline
    04.00 on, 0 before), clipped to 1..65535 (0 is nodata: a reflectance below what the
    baseline can encode becomes 1, as ESA clamps it); 0 where not ``valid``."""
    dn = np.clip(np.rint(np.asarray(rho) * 10000.0) + dn_offset, 1, 65535).astype(np.uint16)
    valid = np.asarray(valid, bool)
    if valid.ndim and valid.ndim < dn.ndim:  # a (y, x) mask for (y, x, band) numbers
        valid = valid[..., None]
    return np.where(valid, dn, np.uint16(0))


def _scene_classes(rho, alpha, cirrus, shadow, valid) -> np.ndarray:
    g, r, n = rho[..., 1], rho[..., 2], rho[..., 3]
    ndvi = (n - r) / np.maximum(n + r, 1e-6)
    ndwi = (g - n) / np.maximum(g + n, 1e-6)
    scl = np.where(ndvi > 0.3, 4, 5).astype(np.uint8)
    scl[(ndwi > 0.0) & (n < 0.08)] = 6
    scl[shadow > 0.3] = 3
    scl[cirrus > 0.05] = 10
    scl[alpha > 0.2] = 8
    scl[alpha > 0.5] = 9
    scl[~valid] = 0
    return scl


def _blocks(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    return a[:h - h % 2, :w - w % 2].reshape(h // 2, 2, w // 2, 2)


def to_20m(dn: np.ndarray) -> np.ndarray:
    """A 10 m band as L2A delivers it at 20 m: 2x2 means, nodata if any of the four is."""
    blocks = _blocks(dn)
    mean = np.rint(blocks.astype(np.float64).mean(axis=(1, 3)))
    return np.where((blocks != 0).all(axis=(1, 3)), mean, 0).astype(dn.dtype)


def scl_20m(scl: np.ndarray) -> np.ndarray:
    """SCL at 20 m: nodata, then cloud high, medium, cirrus, shadow win over a block; else
    the class of its top-left 10 m pixel."""
    blocks = _blocks(scl)
    out = blocks[:, 0, :, 0].copy()
    for code in (3, 10, 8, 9, 0):
        out[(blocks == code).any(axis=(1, 3))] = code
    return out
