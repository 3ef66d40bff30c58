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

This module is the source (search, lazy load) and the renderer of a scene's clouds, noise and
digital numbers; the landscape and its truth are in :mod:`flows.sources.demo_land`, the spectra
and the scenario in :mod:`flows.sources.demo_world`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

import dask
import dask.array as da
import numba
import numpy as np
import xarray as xr

from aoi import Site
from flows.sources.base import BANDS, CHUNKS, SceneRef
from flows.sources.demo_land import DemoTruth, _Landscape, _SceneParams
from flows.sources.demo_world import MUDFLAT as MUDFLAT  # the covers' codes, as before the split
from flows.sources.demo_world import SPECTRA, DemoScenario, _seed_for, _smooth_field

__all__ = ["DemoScenario", "DemoSource", "DemoTruth", "SPECTRA", "BASELINE_04_00"]

#: Processing baseline 04.00 went live on this date; its products carry BOA_ADD_OFFSET -1000.
BASELINE_04_00 = dt.date(2022, 1, 25)


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
