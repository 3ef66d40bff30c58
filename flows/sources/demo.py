"""The demo source: simulated Sentinel-2 L2A scenes over any site, with planted truth.

It lets the whole pipeline run offline and be *scored*: every scene is rendered from a known
landscape, so the tests compare what bluecarbon measured with what was planted.

What is simulated, per site and scene (surface reflectance, then L2A digital numbers):

* a coastal landscape laid across the site polygon along a shore direction drawn from the
  seed: for mangrove sites turbid sea, an intertidal mudflat, a mangrove belt, terrestrial
  vegetation (oil palm / forest) and an aquaculture pond; for seagrass sites dry land, a beach
  and a sea floor deepening offshore to ~40 m with seagrass meadows between 2 and 14 m;
* water over the bottom by Beer-Lambert attenuation,
  ``R = R_deep + (A_bottom - R_deep) * exp(-2 k z)``, with a per-scene turbidity;
* tides flooding the lower mudflat (spring-neap cycle sampled at the overpass time);
* clouds (SCL 8/9), cirrus (SCL 10), their shadows (SCL 3), unflagged cloud-edge haze,
  sun glint on water, swath-edge nodata (all bands and SCL 0), sensor noise and per-scene
  radiometric residuals;
* the processing-baseline story: DN = 10000 * rho + 1000 for baseline 04.00 and later (from
  25 Jan 2022, and for part of the reprocessed older archive), DN = 10000 * rho before;
* planted change: a mangrove clearing, a replanting whose canopy closes over ~18 months, and a
  seagrass loss patch (anchor scar).

Deterministic by ``seed``: the same seed, site and dates give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import dask
import dask.array as da
import numba
import numpy as np
import xarray as xr
from scipy import ndimage

from aoi import Site
from aoi.grid import SiteGrid, site_grid, site_mask
from flows.sources.base import BANDS, CHUNKS, SceneRef
from flows.sources.demo_world import (
    _INLAND_MIX,
    _LAND_SPECTRA,
    _SCL_OF,
    BEACH,
    BOTTOM_ALBEDO,
    MANGROVE,
    MUDFLAT,
    POND,
    RICE,
    RICE_FLOODED_DAYS,
    SCRUB,
    SEA,
    SEDIMENT,
    SHALLOW,
    SPECTRA,
    TERRESTRIAL,
    DemoScenario,
    _blob,
    _seed_for,
    _smooth_field,
)

__all__ = ["DemoScenario", "DemoSource", "DemoTruth", "SPECTRA", "BASELINE_04_00"]

#: Processing baseline 04.00 went live on this date; its products carry BOA_ADD_OFFSET -1000.
BASELINE_04_00 = dt.date(2022, 1, 25)

@dataclass(frozen=True)
class _SceneParams:
    satellite: str
    datetime: dt.datetime
    baseline: str
    boa_offset: int
    cloud: float
    cirrus: bool
    glint: float
    swath_edge: float
    turbidity: float
    tide: float
    plume: float


class DemoTruth:
    """Planted truth of one site: what the pipeline should find."""

    def __init__(self, land: _Landscape):
        self._land = land
        self.site_id = land.site.id
        self.habitat = land.site.habitat
        self.grid = land.grid
        self.site_mask = land.mask

    def habitat_at(self, when: dt.date | dt.datetime) -> np.ndarray:
        """Boolean (y, x) habitat map at a date, inside and outside the site polygon."""
        return self._land.habitat_at(_as_date(when))

    def extent_ha(self, when: dt.date | dt.datetime) -> float:
        return float((self.habitat_at(when) & self.site_mask).sum() * self.grid.pixel_area_ha)

    @property
    def baseline(self) -> np.ndarray:
        return self.habitat_at(self._land.site.baseline_end)

    def final(self, end: dt.date | None = None) -> np.ndarray:
        return self.habitat_at(end or self._land.scenario.end)

    def gain_loss_ha(self, when: dt.date | dt.datetime) -> tuple[float, float]:
        now, base = self.habitat_at(when) & self.site_mask, self.baseline & self.site_mask
        px = self.grid.pixel_area_ha
        return float((now & ~base).sum() * px), float((base & ~now).sum() * px)

    @property
    def events(self) -> dict[str, dt.date]:
        return dict(self._land.events)


def _as_date(when: dt.date | dt.datetime) -> dt.date:
    return when.date() if isinstance(when, dt.datetime) else when


def _months_between(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 30.4375


class _Landscape:
    """The static landscape of one site and the planted events, in grid coordinates."""

    def __init__(self, site: Site, scenario: DemoScenario, seed: int):
        self.site, self.scenario, self.seed = site, scenario, seed
        self.grid: SiteGrid = site_grid(site)
        self.mask = site_mask(site, self.grid)
        rng = np.random.default_rng(_seed_for("landscape", seed, site.id))
        shape = (self.grid.height, self.grid.width)
        self.shape = shape
        angle = np.deg2rad(scenario.shore_angle_deg if scenario.shore_angle_deg is not None
                           else rng.uniform(0, 360))
        yy, xx = np.indices(shape, dtype=np.float32)
        # u: across-shore position in pixels, growing landward; v: along-shore.
        u = xx * np.cos(angle) - yy * np.sin(angle)
        v = xx * np.sin(angle) + yy * np.cos(angle)
        span = float(np.ptp(u[self.mask]))
        wiggle = 0.04 * span * np.sin(2 * np.pi * v / max(span, 1) * 1.5 + rng.uniform(0, 6.3))
        u = u + wiggle + 0.015 * span * _smooth_field(rng, shape, 6)
        q = np.quantile(u[self.mask], np.linspace(0, 1, 101))
        self.u, self.q = u, q
        self.brightness = 1 + 0.06 * _smooth_field(rng, shape, 3)
        self.events: dict[str, dt.date] = {}
        base_end = site.baseline_end
        # reference sites (intact habitat a restoration is compared with) get no planted change
        self.is_reference = site.properties.get("role") == "reference"
        if site.habitat == "mangrove":
            self._mangrove_layout(rng, base_end)
        else:
            self._seagrass_layout(rng, base_end)

    def __dask_tokenize__(self) -> tuple:
        # cheap and stable: the landscape is a pure function of these
        return ("bluecarbon-demo-landscape", self.seed, self.site.id,
                self.site.geometry.wkb_hex, repr(self.scenario))

    # -- layouts -------------------------------------------------------------------------
    def _pick_center(self, zone: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
        dist = ndimage.distance_transform_edt(zone & self.mask)
        far = np.argwhere(dist >= 0.8 * dist.max())
        r, c = far[rng.integers(len(far))]
        return int(r), int(c)

    def _mangrove_layout(self, rng: np.random.Generator, base_end: dt.date) -> None:
        u, q = self.u, self.q
        cover = np.full(self.shape, TERRESTRIAL, np.uint8)
        cover[u < q[78]] = MANGROVE
        cover[u < q[38]] = MUDFLAT
        cover[u < q[18]] = SEA
        # intertidal elevation: 0 at the low-water line, 1 at the mangrove fringe
        self.elevation = np.clip((u - q[18]) / (q[38] - q[18]), 0, 1).astype(np.float32)
        px_ha = self.grid.pixel_area_ha
        pond_zone = (cover == TERRESTRIAL) & (u > q[85])
        if pond_zone.any():
            pond = _blob(self._pick_center(pond_zone, rng), 2.0 / px_ha, self.shape, rng)
            cover[pond & pond_zone] = POND
        # inland vegetation in patches (its own random stream: the layout above is unchanged)
        vrng = np.random.default_rng(_seed_for("vegetation", self.seed, self.site.id))
        patches = _smooth_field(vrng, self.shape, 10)
        inland = cover == TERRESTRIAL
        if inland.any():
            cuts = np.quantile(patches[inland], np.cumsum([0] + [f for _, f in _INLAND_MIX]))
            for (code, _), lo, hi in zip(_INLAND_MIX, cuts[:-1], cuts[1:], strict=True):
                cover[inland & (patches >= lo) & (patches < hi)] = code
        self.cover = cover
        area = 0.0 if self.is_reference else self.scenario.clearing_ha
        self.clearing = _blob(self._pick_center(cover == MANGROVE, rng), area / px_ha,
                              self.shape, rng)
        self.clearing &= cover == MANGROVE
        upper_flat = (cover == MUDFLAT) & (self.elevation > 0.45)
        area = 0.0 if self.is_reference else self.scenario.replant_ha
        self.replant = _blob(self._pick_center(upper_flat, rng), area / px_ha, self.shape,
                             rng) & upper_flat
        self.events = {"replanting": base_end + dt.timedelta(days=95),
                       "clearing": base_end + dt.timedelta(days=280)}
        # seedlings establish unevenly: 0-4 months of delay, patchy in space
        delay = 2 + 2 * np.tanh(_smooth_field(rng, self.shape, 4))
        self.replant_delay_months = delay.astype(np.float32)

    def _seagrass_layout(self, rng: np.random.Generator, base_end: dt.date) -> None:
        u, q = self.u, self.q
        cover = np.full(self.shape, SHALLOW, np.uint8)
        cover[u > q[82]] = BEACH
        cover[u > q[88]] = SCRUB
        # depth grows offshore from the waterline to ~40 m (optically deep) at the far edge
        depth = (q[82] - u) / max(q[82] - q[0], 1) * 40.0
        self.depth = np.clip(depth, 0.3, None).astype(np.float32)
        patches = _smooth_field(rng, self.shape, 5)
        self.seagrass = (cover == SHALLOW) & (self.depth >= 2) & (self.depth <= 14) & (patches > -0.8)
        self.cover = cover
        px_ha = self.grid.pixel_area_ha
        area = 0.0 if self.is_reference else self.scenario.seagrass_loss_ha
        self.loss = _blob(self._pick_center(self.seagrass, rng), area / px_ha, self.shape,
                          rng) & self.seagrass
        self.events = {"seagrass_loss": base_end + dt.timedelta(days=240)}

    # -- truth ---------------------------------------------------------------------------
    def canopy_fraction(self, when: dt.date) -> np.ndarray:
        """Replanted canopy cover (0-1), growing linearly to closure."""
        months = _months_between(self.events["replanting"], when) - self.replant_delay_months
        f = np.clip(months / self.scenario.canopy_closure_months, 0, 1)
        return np.where(self.replant, f, 0).astype(np.float32)

    def habitat_at(self, when: dt.date) -> np.ndarray:
        if self.site.habitat == "mangrove":
            mangrove = self.cover == MANGROVE
            if when >= self.events["clearing"]:
                mangrove = mangrove & ~self.clearing
            return mangrove | (self.canopy_fraction(when) >= 0.5)
        seagrass = self.seagrass
        if when >= self.events["seagrass_loss"]:
            seagrass = seagrass & ~self.loss
        return seagrass

    # -- rendering -----------------------------------------------------------------------
    @cached_property
    def static_surface(self) -> np.ndarray:
        """Reflectance (6, y, x) of the unchanging covers, brightness texture applied."""
        refl = np.zeros((6, *self.shape), np.float32)
        for code, name in _LAND_SPECTRA.items():
            sel = self.cover == code
            if sel.any():
                refl[:, sel] = self.scenario.spectrum(name)[:, None]
        land = ~np.isin(self.cover, (SEA, POND, SHALLOW))
        refl[:, land] *= self.brightness[land]
        return refl

    @cached_property
    def scl_base(self) -> np.ndarray:
        """SCL of each pixel's cover when nothing hides it (water is set per scene: tides)."""
        return _SCL_OF[self.cover]

    @cached_property
    def noise_bank(self) -> np.ndarray:
        """Gaussian noise (6, y + 64, x + 64): each scene adds a randomly offset window of it
        (drawing 400k normals per scene would cost more than everything else in a render)."""
        rng = np.random.default_rng(_seed_for("noise", self.seed, self.site.id))
        return rng.standard_normal((6, self.shape[0] + 64, self.shape[1] + 64), dtype=np.float32)

    @cached_property
    def water(self) -> np.ndarray:
        return np.isin(self.cover, (SEA, POND, SHALLOW))

    def surface(self, p: _SceneParams) -> tuple[np.ndarray, np.ndarray]:
        """Cloud-free surface reflectance (6, y, x) and the water mask for one scene."""
        sc, when = self.scenario, p.datetime.date()
        refl = self.static_surface.copy()
        if self.site.habitat == "mangrove":
            flooded = (self.cover == MUDFLAT) & (self.elevation < p.tide)
            flood_spectrum = 0.7 * sc.spectrum("turbid_water") + 0.3 * sc.spectrum("mudflat")
            refl[:, flooded] = flood_spectrum[:, None]
            if when >= self.events["clearing"]:
                refl[:, self.clearing] = sc.spectrum("cleared")[:, None] * self.brightness[self.clearing]
            f = self.canopy_fraction(when)
            grown = f > 0
            if grown.any():
                fg = f[grown]
                refl[:, grown] = (fg * sc.spectrum("mangrove")[:, None] * self.brightness[grown]
                                  + (1 - fg) * refl[:, grown])
            # terrestrial phenology: a mild seasonal NIR cycle
            day = when.timetuple().tm_yday
            season = 1 + 0.04 * np.sin(2 * np.pi * day / 365.25)
            refl[3, self.cover == TERRESTRIAL] *= np.float32(season)
            paddy = self.cover == RICE
            if paddy.any() and any(a <= day < b for a, b in RICE_FLOODED_DAYS):
                refl[:, paddy] = (0.7 * sc.spectrum("pond") + 0.3 * sc.spectrum("mudflat"))[:, None]
                flooded = flooded | paddy
            return refl, self.water | flooded
        water = self.water
        bottom = self.seagrass[water]
        if when >= self.events["seagrass_loss"]:
            bottom = bottom & ~self.loss[water]
        deep = sc.spectrum("deep_water")
        k = np.asarray(sc.attenuation, np.float32) * np.float32(p.turbidity * (1 + 2 * p.plume))
        if p.plume:  # suspended sediment: a bright, reddish water body hiding the bottom
            deep = deep + np.float32(p.plume) * np.array(SEDIMENT, np.float32)
        depth = self.depth[water]
        for band in range(3):
            albedo = np.where(bottom, np.float32(BOTTOM_ALBEDO["seagrass"][band]),
                              np.float32(BOTTOM_ALBEDO["sand"][band]))
            refl[band, water] = deep[band] + (albedo - deep[band]) * np.exp(-2 * k[band] * depth)
        refl[3:, water] = deep[3:, None]
        return refl, water


_LANDSCAPES_KEPT = 16
"""Landscapes a source keeps (least recently used dropped; they are rebuilt identically on
demand): a nightly run over hundreds of sites would otherwise hold every site's, ~1 MB each,
until it ends (tests/test_load.py)."""


class DemoSource:
    """Simulated Sentinel-2 L2A over any site; ``truth(site)`` returns what was planted."""

    name = "demo"

    def __init__(self, seed: int = 0, scenario: DemoScenario | None = None):
        self.seed = int(seed)
        self.scenario = scenario or DemoScenario()
        self._landscapes: OrderedDict[str, _Landscape] = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # sent to dask workers: no lock, no cache
        return {"seed": self.seed, "scenario": self.scenario}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["seed"], state["scenario"])

    # -- public API ----------------------------------------------------------------------
    def landscape(self, site: Site) -> _Landscape:
        with self._lock:  # sites are processed concurrently (flows.monitor.SITE_WORKERS)
            land = self._landscapes.get(site.id)
            if land is None:
                land = self._landscapes[site.id] = _Landscape(site, self.scenario, self.seed)
                while len(self._landscapes) > _LANDSCAPES_KEPT:
                    self._landscapes.popitem(last=False)
            else:
                self._landscapes.move_to_end(site.id)
            return land

    def truth(self, site: Site) -> DemoTruth:
        return DemoTruth(self.landscape(site))

    def search(self, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
        end = min(end, self.scenario.end)
        refs = []
        for when in self._pass_dates(site, start, end):
            p = self._params(site, when)
            refs.append(SceneRef(
                datetime=p.datetime, scene_id=self._scene_id(site, p), boa_offset=p.boa_offset,
                cloud_cover=round(100 * p.cloud, 2), source=self.name,
                properties={"s2:processing_baseline": p.baseline[1:3] + "." + p.baseline[3:]}))
        return refs

    def load(self, site: Site, scenes: list[SceneRef], chunks: int | None = CHUNKS) -> xr.Dataset:
        land = self.landscape(site)
        ny, nx = land.shape
        # scenes rendered in batches of ~4 Mpx (at least 4 batches, for the threads): one
        # task per scene would make thousands of tiny tasks on a small site, whose scheduling
        # costs more than their compute (the pipeline batches them anyway)
        batch = max(1, min(_BATCH_PIXELS // (ny * nx), -(-len(scenes) // 4)))
        render = dask.delayed(_render_scenes, pure=True)
        params = [self._params(site, s.datetime.date()) for s in scenes]
        stack = da.concatenate([
            da.from_delayed(render(land, params[i:i + batch]),
                            shape=(len(params[i:i + batch]), 7, ny, nx), dtype=np.uint16)
            for i in range(0, len(params), batch)
        ]) if scenes else da.zeros((0, 7, ny, nx), dtype=np.uint16)
        chunks = chunks or max(ny, nx)
        data = {b: stack[:, i].rechunk({1: chunks, 2: chunks}) for i, b in enumerate(BANDS)}
        data["SCL"] = stack[:, 6].astype(np.uint8).rechunk({1: chunks, 2: chunks})
        times = np.array([np.datetime64(s.datetime.replace(tzinfo=None), "ns") for s in scenes],
                         dtype="datetime64[ns]")
        grid = land.grid
        coords = {
            "time": times,
            "y": grid.y_coords(), "x": grid.x_coords(),
            "boa_offset": ("time", np.array([s.boa_offset for s in scenes], np.int16)),
            "scene_id": ("time", np.array([s.scene_id for s in scenes], dtype=object)),
        }
        ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()}, coords=coords)
        ds.attrs.update(crs=f"EPSG:{grid.epsg}", transform=grid.transform, res=grid.res,
                        site_id=site.id, source=self.name)
        return ds

    # -- internals -----------------------------------------------------------------------
    def _pass_dates(self, site: Site, start: dt.date, end: dt.date) -> list[dt.date]:
        # a fixed orbit phase per site so that sites do not all share pass dates
        phase = _seed_for("orbit", site.id) % self.scenario.revisit_days
        first = dt.date(2015, 7, 4) + dt.timedelta(days=int(phase))
        step = self.scenario.revisit_days
        k0 = max(0, -(-(start - first).days // step))
        dates, when = [], first + dt.timedelta(days=k0 * step)
        while when <= end:
            dates.append(when)
            when += dt.timedelta(days=step)
        return dates

    def _params(self, site: Site, when: dt.date) -> _SceneParams:
        rng = np.random.default_rng(_seed_for("scene", self.seed, site.id, when.isoformat()))
        lon, _ = site.centroid_lonlat
        utc_hours = 10.5 - lon / 15.0  # ~10:30 local solar time, Sentinel-2's descending node
        t = dt.datetime.combine(when, dt.time(0), dt.UTC) + dt.timedelta(hours=utc_hours % 24)
        t = t.replace(microsecond=0)
        if when >= BASELINE_04_00:
            baseline = "N0400" if when < dt.date(2022, 12, 6) else "N0509"
        else:  # the older archive, partly reprocessed at baseline 05.00 (with the offset)
            baseline = "N0500" if rng.random() < 0.3 else "N0213"
        offset = -1000 if baseline >= "N0400" else 0
        mean = self.scenario.cloud_mean.get(site.habitat, 0.3)
        # a U-shaped distribution: many near-clear and many near-overcast scenes
        cloud = float(np.clip(rng.beta(0.45, 0.45 * (1 - mean) / max(mean, 1e-3)), 0, 1))
        days = (when - dt.date(2020, 1, 1)).days
        tide = float(0.6 * np.sin(2 * np.pi * days / 14.765) + 0.25 * rng.standard_normal())
        return _SceneParams(
            satellite="S2A" if days % 2 else "S2B", datetime=t, baseline=baseline,
            boa_offset=offset, cloud=cloud, cirrus=bool(rng.random() < 0.1),
            glint=float(rng.uniform(0.01, 0.05)) if rng.random() < self.scenario.glint_probability else 0.0,
            swath_edge=float(rng.uniform(0.1, 0.4)) if rng.random() < self.scenario.swath_edge_probability else 0.0,
            turbidity=float(np.clip(rng.lognormal(0, 0.12), 0.7, 1.5)), tide=tide,
            plume=(float(rng.uniform(0.5, 1.0))
                   if (rng.random() < self.scenario.plume_probability
                       or when.strftime("%Y-%m") in self.scenario.plume_months) else 0.0),
        )

    def _scene_id(self, site: Site, p: _SceneParams) -> str:
        epsg = self.landscape(site).grid.epsg
        tile = f"{epsg % 100:02d}{'N' if epsg < 32700 else 'M'}DM"
        stamp = p.datetime.strftime("%Y%m%dT%H%M%S")
        relorbit = _seed_for("relorbit", site.id) % 143 + 1
        return f"{p.satellite}_MSIL2A_{stamp}_{p.baseline}_R{relorbit:03d}_T{tile}_{stamp}"


_BATCH_PIXELS = 4 * 2**20


def _render_scenes(land: _Landscape, params: list[_SceneParams]) -> np.ndarray:
    """Scenes as a (n, 7, y, x) uint16 stack (see :func:`_render_scene`)."""
    out = np.empty((len(params), 7, *land.shape), np.uint16)
    for k, p in enumerate(params):
        out[k] = _render_scene(land, p)
    return out


def _render_scene(land: _Landscape, p: _SceneParams) -> np.ndarray:
    """One L2A scene as a (7, y, x) uint16 stack: six bands of DN, then SCL.

    The random fields (glint, cirrus, clouds) are drawn here; putting them together with the
    surface is one pass of :func:`_compose` (masked numpy assignments cost 5x more)."""
    sc = land.scenario
    rng = np.random.default_rng(_seed_for("render", land.seed, land.site.id, p.datetime))
    shape = land.shape
    refl, water = land.surface(p)
    # per-scene radiometric residuals (imperfect atmospheric correction)
    gain = rng.normal(1.0, 0.02, size=6).astype(np.float32)
    bias = np.float32(rng.normal(0, 0.002))
    none = np.zeros((1, 1), np.float32)
    glint = none
    if p.glint > 0:  # sun glint: nearly flat in spectrum, strongest across a band of the site
        glint = np.float32(p.glint) * np.maximum(0.6 + 0.4 * _smooth_field(rng, shape, 12), 0)
    oy, ox = (int(v) for v in rng.integers(0, 64, size=2))
    perm = rng.permutation(6)
    cirrus = none
    if p.cirrus:
        cirrus = _smooth_field(rng, shape, 15)
    cloud, thin_cut, thick_cut, dy, dx = none, np.inf, np.inf, 0, 0
    if p.cloud > 0.01:
        cloud = _smooth_field(rng, shape, 8)
        thin_cut, thick_cut = np.quantile(cloud, [1 - p.cloud, 1 - p.cloud / 2])
        dy, dx = (int(v) for v in rng.integers(3, 10, size=2))
    out = np.empty((7, *shape), np.uint16)
    _compose(refl, water, land.scl_base, gain, bias, glint, land.noise_bank, perm, oy, ox,
             np.float32(sc.noise), cirrus, cloud, np.float32(thin_cut), np.float32(thick_cut),
             dy, dx, sc.spectrum("cloud"), np.float32(p.boa_offset), float(p.swath_edge), out)
    return out


_GLINT_SPECTRUM = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.9], np.float32)


@numba.njit(cache=True, nogil=True)
def _compose(refl, water, scl_base, gain, bias, glint, noise_bank, perm, oy, ox, noise,
             cirrus, cloud, thin_cut, thick_cut, dy, dx, cloud_spectrum, offset, swath_edge,
             out):  # pragma: no cover - compiled
    """Surface + residuals + glint + noise + cirrus + cloud, shadow and halo, to DN and SCL.

    A pixel is cloud where ``cloud`` > ``thin_cut`` (SCL 9 above ``thick_cut``, else 8), shadow
    where the cloud field shifted by (dy, dx) is cloud, halo where a 4-neighbour is cloud;
    the order of the effects is that of the physics: surface, glint, cirrus, shadow, halo,
    cloud top. Swath-edge nodata (DN 0, SCL 0) is the corner left of a slanted line."""
    ny, nx = out.shape[1], out.shape[2]
    has_glint = glint.shape[0] == ny
    has_cirrus = cirrus.shape[0] == ny
    has_cloud = cloud.shape[0] == ny
    edge_cut = swath_edge * (nx + 0.3 * ny)
    v = np.empty(6, np.float32)
    for i in range(ny):
        for j in range(nx):
            if swath_edge > 0 and (j + 0.3 * i) < edge_cut:
                for b in range(7):
                    out[b, i, j] = 0
                continue
            wet = water[i, j]
            scl = 6 if wet else scl_base[i, j]
            for b in range(6):
                x = refl[b, i, j] * gain[b]
                if b == 0:
                    x += bias
                if has_glint and wet:
                    x += _GLINT_SPECTRUM[b] * glint[i, j]
                x += noise * noise_bank[perm[b], oy + i, ox + j]
                v[b] = x
            if has_cirrus and cirrus[i, j] > 0.5:
                for b in range(6):
                    v[b] += np.float32(0.03)
                scl = 10
            if has_cloud:
                c = cloud[i, j]
                if c > thin_cut:
                    for b in range(6):
                        v[b] = cloud_spectrum[b] * (np.float32(1) + np.float32(0.05) * c)
                    scl = 9 if c > thick_cut else 8
                else:
                    if cloud[(i - dy) % ny, (j - dx) % nx] > thin_cut:  # shadow
                        for b in range(6):
                            v[b] *= np.float32(0.35)
                        scl = 3
                    if ((i > 0 and cloud[i - 1, j] > thin_cut)
                            or (i < ny - 1 and cloud[i + 1, j] > thin_cut)
                            or (j > 0 and cloud[i, j - 1] > thin_cut)
                            or (j < nx - 1 and cloud[i, j + 1] > thin_cut)):  # halo
                        for b in range(6):
                            v[b] = (np.float32(0.85) * v[b]
                                    + np.float32(0.15) * cloud_spectrum[b])
            for b in range(6):
                d = np.rint(v[b] * np.float32(10000) - offset)
                out[b, i, j] = 1 if d < 1 else (65535 if d > 65535 else np.uint16(d))
            out[6, i, j] = scl
