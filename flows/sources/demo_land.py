"""The demo source's landscape: one site's covers, planted change and cloud-free reflectance.

:class:`_Landscape` lays a coastal landscape across a site polygon (mangrove: sea, mudflat,
mangrove belt, inland vegetation, a pond; seagrass: land, beach, a sea floor deepening offshore
with meadows), plants the scenario's events (clearing, replanting, seagrass loss) and renders
the surface reflectance of one scene's conditions (:class:`_SceneParams`: tide, turbidity,
plume). :class:`DemoTruth` is what the pipeline should find. The spectra and the scenario are
in :mod:`flows.sources.demo_world`; scenes, clouds and digital numbers in
:mod:`flows.sources.demo`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage

from aoi import Site
from aoi.grid import SiteGrid, site_grid, site_mask
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
    TERRESTRIAL,
    DemoScenario,
    _blob,
    _seed_for,
    _smooth_field,
)

__all__ = ["DemoTruth"]


@dataclass(frozen=True)
class _SceneParams:
    """One scene's conditions, drawn per site and date (``DemoSource._params``)."""

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
