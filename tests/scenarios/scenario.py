"""``make_scenario``: one seed's site, scenes, catalog and truth, written to a folder.

Each seed draws, independently of the project's code: a location from a short list, the
shore shape (:mod:`scenarios.landscape`), every class's mean spectrum within its published
box (:mod:`scenarios.spectra`), the water type (Kd(490), :mod:`scenarios.water`), and per
scene the date, tide, glint, clouds, cirrus, plume and swath edge. Sub-generators take their
own child seeds, so changing one part of the generator does not reshuffle the others.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from . import landscape as ls
from .catalog import CatalogWriter, SceneRecord, lonlat_polygon, utm_epsg, write_sites
from .render import ATMOS_SD, NOISE, Renderer, SceneSpec
from .spectra import draw_means
from .truth import site_mask, truth_table
from .water import KD490_RANGE, WaterType, bottom_albedo, visibility_depth

LOCATIONS = {
    "mangrove": [("kuala-selangor", "MY", 101.24, 3.36), ("braganca", "BR", -46.70, -0.86),
                 ("mida-creek", "KE", 39.98, -3.35), ("marismas-nacionales", "MX", -105.55,
                                                                       22.15)],
    "seagrass": [("cabo-de-gata", "ES", -2.11, 36.74), ("bahia-de-palma", "ES", 2.70, 39.49),
                 ("gokova", "TR", 28.10, 36.96), ("elounda", "GR", 25.72, 35.27)],
}
"""Places where the habitat occurs (the scene itself is synthetic, not their geography)."""
GLINT_SD = 0.002
"""sd of the glint residual assumed in the assessable-water criterion (rho, approximate)."""


@dataclass(frozen=True)
class Scenario:
    """A generated scenario: where its files are, what was drawn, and the truth."""

    seed: int
    kind: str
    root: Path
    catalog: Path
    sites: Path
    site_id: str
    location: str
    epsg: int
    left: float
    top: float
    shape: tuple[int, int]
    start: dt.date
    end: dt.date
    baseline: tuple[dt.date, dt.date]
    periods: list[dt.date]
    scenes: list[SceneRecord]
    truth: pd.DataFrame
    """One row per month (see :mod:`scenarios.truth`)."""
    habitat: np.ndarray
    """(month, y, x) truth habitat inside the site."""
    site: np.ndarray
    assessable: np.ndarray | None
    classes: np.ndarray
    """Base class map (codes of :mod:`scenarios.landscape`)."""
    depth: np.ndarray | None
    """Seagrass site: water depth (m) at mean level; mangrove site: None."""
    height: np.ndarray | None
    """Mangrove site: m above the lowest tide; seagrass site: None."""
    params: dict = field(default_factory=dict)
    dn: list[dict[str, np.ndarray]] | None = None
    """The written digital numbers per scene (only with ``keep_dn=True``)."""

    @property
    def pixel_ha(self) -> float:
        return 0.01


def _month_add(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def _baseline_version(day: dt.date) -> str:
    """The processing baseline a scene of that day was delivered with: 03.01 before
    25 Jan 2022, 04.00 in 2022, 05.09 from 2023 (all >= 04.00 carry the -1000 offset)."""
    if day < dt.date(2022, 1, 25):
        return "03.01"
    return "04.00" if day.year == 2022 else "05.09"


def _site_polygon(rng: np.random.Generator, n: int, left: float, top: float) -> shapely.Polygon:
    """A jittered octagon-ish polygon inside the grid, at least 8 px from its edges."""
    m = max(8.0, 0.06 * n)
    j = 0.04 * n
    pts = [(m, m), (n / 2, m), (n - m, m), (n - m, n / 2), (n - m, n - m), (n / 2, n - m),
           (m, n - m), (m, n / 2)]
    pts = [(min(max(x + rng.uniform(-j, j), 8), n - 8), min(max(y + rng.uniform(-j, j), 8),
                                                            n - 8)) for x, y in pts]
    return shapely.Polygon([(left + 10 * x, top - 10 * y) for x, y in pts])


def make_scenario(seed: int, kind: str = "mangrove", size: int = 300, n_months: int = 24,
                  out_dir: str | Path = "scenario", *, baseline_months: int = 6,
                  extra_scene_prob: float = 0.25, mmu_ha: float = 0.1,
                  keep_dn: bool = False) -> Scenario:
    """Generate one scenario under ``out_dir``: ``catalog/catalog.json`` (static STAC),
    ``sites.geojson``, ``truth.csv``, ``truth_maps.npz`` and ``scenario.json``.

    ``size``: the scene grid in 10 m pixels a side (rounded up to a multiple of 6, so 20 and
    60 m pixels nest); ``n_months``: months of scenes from the start (one scene a month, and a
    second with probability ``extra_scene_prob``); the first ``baseline_months`` are the
    site's baseline period, and no change is planted in them."""
    if kind not in LOCATIONS:
        raise ValueError(f"kind must be one of {sorted(LOCATIONS)}, got {kind!r}")
    if n_months < baseline_months + 2:
        raise ValueError("n_months must leave at least two months after the baseline")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    size = int(np.ceil(size / 6) * 6)
    seq = np.random.SeedSequence([seed, 0 if kind == "mangrove" else 1])
    r_place, r_land, r_spec, r_water, r_scenes, r_render = (np.random.default_rng(s)
                                                             for s in seq.spawn(6))
    name, country, lon, lat = LOCATIONS[kind][r_place.integers(len(LOCATIONS[kind]))]
    lon += r_place.uniform(-0.05, 0.05)
    lat += r_place.uniform(-0.05, 0.05)
    epsg = utm_epsg(lon, lat)
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    left = float(np.floor((x - 5 * size) / 60.0) * 60.0)
    top = float(np.ceil((y + 5 * size) / 60.0) * 60.0)
    make = ls.mangrove_landscape if kind == "mangrove" else ls.seagrass_landscape
    land = make(r_land, size, n_months, baseline_months)
    means = draw_means(r_spec)
    if kind == "mangrove":  # mangrove coasts are turbid: Kd(490) at the top of the range
        kd490 = float(r_water.uniform(0.10, KD490_RANGE[1]))
        plume_bb = float(r_water.uniform(0.01, 0.06))
    else:  # log-uniform over Jerlov oceanic I to coastal
        kd490 = float(np.exp(r_water.uniform(*np.log(KD490_RANGE))))
        plume_bb = 0.0
    water = WaterType.from_kd490(kd490)
    renderer = Renderer(land, means, water, r_render, southern=lat < 0, plume_bb=plume_bb)

    start = dt.date(2021, int(r_scenes.integers(6, 11)), 1)
    periods = [_month_add(start, m) for m in range(n_months)]
    end_month = periods[-1]
    end = end_month.replace(day=calendar.monthrange(end_month.year, end_month.month)[1])
    b_last = periods[baseline_months - 1]
    baseline = (start, b_last.replace(day=calendar.monthrange(b_last.year, b_last.month)[1]))
    site_id = f"{kind}-{name}-s{seed}"
    poly = lonlat_polygon(_site_polygon(r_scenes, size, left, top), epsg)
    sites = write_sites(root / "sites.geojson", site_id, f"Scenario {kind} seed {seed} ({name})",
                        kind, poly, baseline, country,
                        "Synthetic scenario (tests/scenarios); not real geography.")
    zone = epsg % 100
    band = "CDEFGHJKLMNPQRSTUVWX"[int((lat + 80) // 8)]
    writer = CatalogWriter(root / "catalog", epsg, left, top, (size, size),
                           f"{zone:02d}{band}{'ABCDEFGH'[seed % 8]}{'JKLMNP'[seed % 6]}")
    records, dns = [], []
    index = 0
    tidal = getattr(land, "tidal_range", 0.0)
    cloud_clear = 0.2 if kind == "mangrove" else 0.45
    for m, period in enumerate(periods):
        n_scenes = 1 + int(r_scenes.random() < extra_scene_prob)
        days = sorted(r_scenes.choice(np.arange(1, 29), size=n_scenes, replace=False))
        for day in days:
            date = period.replace(day=int(day))
            when = dt.datetime.combine(date, dt.time(10, 30), dt.UTC) - dt.timedelta(
                hours=lon / 15.0)
            when = when.replace(microsecond=0, second=int(r_scenes.integers(0, 60)))
            version = _baseline_version(date)
            spec = SceneSpec(
                month=m, month_frac=m + (day - 1) / 30.0, calendar_month=date.month,
                tide=float(r_scenes.uniform(0, tidal)) if kind == "mangrove"
                else float(r_scenes.uniform(-0.15, 0.15)),
                glint=float(r_scenes.uniform(0.002, 0.03)) if r_scenes.random() < 0.4 else 0.0,
                cloud_fraction=0.0 if r_scenes.random() < cloud_clear
                else float(r_scenes.uniform(0.03, 0.7)),
                cirrus=bool(r_scenes.random() < 0.15), swath_cut=bool(r_scenes.random() < 0.15),
                plume=bool(r_scenes.random() < 0.3),
                dn_offset=1000 if version >= "04.00" else 0,
                seed=int(r_scenes.integers(2**31)))
            arrays, cloudy = renderer.scene(spec)
            records.append(writer.add(index, when, version, arrays, cloudy,
                                      platform="AB"[index % 2]))
            if keep_dn:
                dns.append(arrays)
            index += 1
    catalog = writer.save()

    site = site_mask(poly, epsg, left, top, 10.0, (size, size))
    assessable = None
    params = {"location": name, "country": country, "lon": lon, "lat": lat, "kd490": kd490,
              "chl_mg_m3": water.chl, "kd": water.kd, "r_deep": water.r_deep,
              "plume_bb": plume_bb, "class_means": {k: v.round(4).tolist()
                                                    for k, v in means.items()},
              **{k: (list(v) if isinstance(v, tuple) else v) for k, v in land.params.items()}}
    if kind == "seagrass":
        sand = bottom_albedo("sand", float(np.median(land.bottom_mix[land.classes
                                                                     == ls.SAND_BOTTOM])))
        grass = bottom_albedo("seagrass", float(np.median(land.bottom_mix[land.classes
                                                                          == ls.SEAGRASS])))
        noise = {b: float(np.sqrt(NOISE[b] ** 2 + ATMOS_SD[i] ** 2 + GLINT_SD ** 2))
                 for i, b in enumerate(("B02", "B03"))}
        z_vis = visibility_depth(water, sand, grass, noise)
        assessable = (land.depth > 0) & (land.depth <= z_vis)
        params.update(visibility_depth_m=z_vis, noise_equivalent_rho=noise)
    table, maps = truth_table(land, site, periods, pixel_ha=0.01, mmu_ha=mmu_ha,
                              assessable=assessable)
    table.insert(0, "site_id", site_id)
    table.to_csv(root / "truth.csv", index=False)
    np.savez_compressed(root / "truth_maps.npz", habitat=maps, site=site, classes=land.classes,
                        assessable=assessable if assessable is not None else np.zeros(0),
                        depth=land.depth if land.depth is not None else np.zeros(0),
                        height=land.height if land.height is not None else np.zeros(0))
    scenario = Scenario(
        seed=seed, kind=kind, root=root, catalog=catalog, sites=sites, site_id=site_id,
        location=name, epsg=epsg, left=left, top=top, shape=(size, size), start=start, end=end,
        baseline=baseline, periods=periods, scenes=records, truth=table, habitat=maps,
        site=site, assessable=assessable, classes=land.classes, depth=land.depth,
        height=land.height, params=params,
        dn=dns if keep_dn else None)
    (root / "scenario.json").write_text(json.dumps(
        {"seed": seed, "kind": kind, "site_id": site_id, "epsg": epsg, "left": left,
         "top": top, "size": size, "start": start.isoformat(), "end": end.isoformat(),
         "baseline": [d.isoformat() for d in baseline],
         "scenes": [{"item_id": r.item_id, "datetime": r.datetime.isoformat(),
                     "baseline": r.baseline, "cloud_cover": r.cloud_cover, "style": r.style}
                    for r in records], "params": params}, indent=1, default=float))
    return scenario
