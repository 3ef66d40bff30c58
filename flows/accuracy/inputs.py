"""What an accuracy command reads from a results folder: the site and its month's change map.

The site comes from ``--sites`` when given, else from the sites files of the folder's runs
(``<out>/runs/*.json``, ``parameters.sites``, newest run first; ``null`` is the bundled
sites), else from the bundled sites. The change map is the COG every run writes,
``<out>/maps/<site>/<YYYY-MM>_change.tif`` (:mod:`flows.results.maps`): codes 0 stable
other, 1 stable habitat, 2 gain, 3 loss, 255 no data, on the site's UTM grid
(:func:`aoi.site_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine

from aoi import DEFAULT_MAX_AREA_HA, Site, SitesError, load_sites, site_grid, site_mask
from flows.accuracy.folder import AccuracyError, parse_period
from flows.results.maps import MAPS_DIR, map_path
from flows.results.runs import recorded_runs
from flows.results.store import check_site_id
from indices.maps import NODATA

__all__ = ["ChangeMap", "find_site", "read_change_map"]


def find_site(out: str | Path, site_id: str, sites: str | Path | None = None) -> Site:
    """The site ``site_id``: from ``sites`` if given, else from the sites of the results
    folder's runs, else from the bundled sites. :class:`AccuracyError` (one line) if none
    holds it; a ``sites`` file that is refused raises its :class:`aoi.SitesError`."""
    check_site_id(site_id)
    if sites is not None:
        found = {s.id: s for s in load_sites(sites)}
        if site_id not in found:
            raise AccuracyError(f"site {site_id!r} is not in {sites} (sites there: "
                                f"{', '.join(sorted(found)) or 'none'})")
        return found[site_id]
    tried = []
    candidates = [(r.sites, r.max_area_ha) for r in recorded_runs(out)]
    if None not in [c[0] for c in candidates]:
        candidates.append((None, DEFAULT_MAX_AREA_HA))
    for path, max_area in candidates:
        tried.append(path or "the bundled sites")
        try:
            for site in load_sites(path, max_area_ha=max_area):
                if site.id == site_id:
                    return site
        except SitesError:
            continue  # a sites file moved or edited since the run: try the next
    raise AccuracyError(f"site {site_id!r} not found in {'; '.join(tried)}: pass --sites FILE")


@dataclass(frozen=True)
class ChangeMap:
    """A month's change map of a site, on the site's grid, and the site's mask."""

    site: Site
    period: str
    path: Path
    codes: np.ndarray
    """uint8 ``(y, x)``: 0 stable other, 1 stable habitat, 2 gain, 3 loss, 255 no data."""
    transform: tuple[float, float, float, float, float, float]
    crs: str
    """WKT."""
    mask: np.ndarray
    """True where the pixel centre lies in the site polygon (:func:`aoi.site_mask`)."""


def _months(out: Path, site_id: str) -> str:
    folder = out / MAPS_DIR / site_id
    months = sorted(p.name[:7] for p in folder.glob("*_change.tif")) if folder.is_dir() else []
    return (f"maps there: {months[0]} to {months[-1]}" if months
            else f"none of {site_id} yet: run `bluecarbon run --out {out}` first")


def read_change_map(out: str | Path, site: Site, period: str) -> ChangeMap:
    """The change COG of ``site`` and ``period``, checked: written for this site, uint8, and on
    the grid of the site's polygon (a polygon edited since the run has another grid, and its
    mask would not fit the map). :class:`AccuracyError` (one line) otherwise."""
    out = Path(out)
    period = parse_period(period)
    path = map_path(out, site.id, f"{period}-01", "change")
    if not path.is_file():
        raise AccuracyError(f"no change map of {site.id} for {period} ({path} not found; "
                            f"{_months(out, site.id)})")
    try:
        with rasterio.open(path) as src:
            codes = src.read(1)
            tags = src.tags()
            transform, crs = tuple(src.transform)[:6], src.crs
    except rasterio.errors.RasterioError as exc:
        raise AccuracyError(f"{path}: unreadable change map: {exc}") from None
    for key, want in (("site_id", site.id), ("product", "change"), ("period", period)):
        if key in tags and tags[key] != want:
            raise AccuracyError(f"{path}: tagged {key}={tags[key]!r}, expected {want!r}")
    if codes.dtype != np.uint8:
        raise AccuracyError(f"{path}: a change map is uint8, this one is {codes.dtype}")
    grid = site_grid(site)
    same_grid = (codes.shape == grid.shape and crs is not None
                 and crs.to_epsg() == grid.epsg
                 and Affine(*transform).almost_equals(Affine(*grid.transform)))
    if not same_grid:
        raise AccuracyError(f"{path} is not on the grid of {site.id}'s polygon (the site's "
                            "boundary changed since the run?): run `bluecarbon run --full` "
                            "with the current sites file first")
    mask = site_mask(site, grid)
    if not ((codes != NODATA) & mask).any():
        raise AccuracyError(f"{path}: no mapped pixel inside {site.id} in {period} (never seen "
                            "clear of cloud yet)")
    return ChangeMap(site=site, period=period, path=path, codes=codes,
                     transform=tuple(float(v) for v in transform), crs=crs.to_wkt(), mask=mask)
