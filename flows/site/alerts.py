"""Habitat-loss alerts of one site: per-pixel state from its scene cube, then table rows.

:func:`alert_pixels` is lazy and computed with the rest of the site's tables; :func:`alert_rows`
turns the computed state into rows of the ``alerts/`` table (:mod:`flows.results.alerts`):
patch polygons in WGS84, centroids and stable ids. ``alert_id`` = ``<first_seen YYYYMMDD>-<12
hex>``, the hex a digest of site id, first_seen and the patch's seed pixel (see
:func:`indices.alerts.flagged_patches`): stable from night to night while a patch grows.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from pyproj import Transformer
from rasterio import features
from rasterio.transform import Affine

from aoi import Site, site_grid, site_mask
from aoi.grid import SiteGrid
from flows import PROCESSING_VERSION
from flows.results.alerts import ALERT_SCHEMA, SiteAlerts
from flows.results.store import check_site_id
from indices.alerts import (
    DEFAULT_RULE,
    AlertRule,
    FlaggedPixels,
    flagged_patches,
    loss_evidence,
    scan_evidence,
)
from indices.evidence import SiteEvidence

__all__ = ["alert_pixels", "alert_rows", "site_alerts"]



def alert_pixels(site: Site, cube: xr.Dataset, mask: xr.DataArray | None = None, *,
                 rule: AlertRule = DEFAULT_RULE, evidence: SiteEvidence | None = None
                 ) -> xr.Dataset:
    """Lazy per-pixel alert state of ``site`` from its scene cube (compute it with the rest);
    ``evidence``: the site's rule and evidence, as the change table's
    (:mod:`flows.site.evidence`).

    ``attrs['window']`` holds the first and last scene after the baseline (ISO strings)."""
    if mask is None:
        grid = site_grid(site)
        mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                            coords={"y": grid.y_coords(), "x": grid.x_coords()})
    ev = loss_evidence(cube, site.habitat, mask, baseline=(site.baseline_start, site.baseline_end),
                       rule=rule, evidence=evidence)
    pixels = scan_evidence(ev, confirm=rule.confirm)
    times = cube["time"].values
    after = times[times >= np.datetime64(site.baseline_end) + np.timedelta64(1, "D")]
    pixels.attrs["window"] = ((str(after.min()), str(after.max())) if after.size else ())
    return pixels


def _utc(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="datetime64[ns]")).dt.tz_localize("UTC") \
        .dt.as_unit("us")


def alert_rows(site: Site, pixels: xr.Dataset, *, run_id: str, grid: SiteGrid | None = None,
               mmu_ha: float | None = None, rule: AlertRule = DEFAULT_RULE) -> SiteAlerts:
    """Table rows (polygons, WGS84 centroids, stable ids) from *computed* :func:`alert_pixels`.
    ``mmu_ha`` (the run's minimum mapping unit) overrides ``rule.mmu_ha``."""
    site_id = check_site_id(site.id)
    grid = grid or site_grid(site)
    if mmu_ha is not None:
        rule = dataclasses.replace(rule, mmu_ha=float(mmu_ha))
    if not isinstance(pixels, FlaggedPixels):
        pixels = FlaggedPixels.of(pixels)
    members, patches = flagged_patches(pixels, pixel_area_ha=grid.pixel_area_ha, rule=rule)
    window = tuple(pd.Timestamp(t, tz="UTC") for t in pixels.attrs.get("window", ()))
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    left, top, res = grid.left, grid.top, grid.res
    cx, cy = left + (patches["col"] + 0.5) * res, top - (patches["row"] + 0.5) * res
    lon, lat = to_lonlat.transform(cx.to_numpy(), cy.to_numpy())
    seed_x = left + (patches["seed_col"] + 0.5) * res
    seed_y = top - (patches["seed_row"] + 0.5) * res
    first = _utc(patches["first_seen"])
    ids = [_alert_id(site_id, t, x, y) for t, x, y in zip(first, seed_x, seed_y, strict=True)]
    rows = pd.DataFrame({
        "site_id": site_id, "alert_id": ids, "habitat": site.habitat,
        "status": patches["status"].astype(str), "score": patches["score"].astype(np.int32),
        "first_seen": first, "last_seen": _utc(patches["last_seen"]),
        "confirmed_at": _utc(patches["confirmed_at"]),
        "area_ha": patches["area_ha"].round(6), "confirmed_ha": patches["confirmed_ha"].round(6),
        "centroid_lon": np.round(lon, 7), "centroid_lat": np.round(lat, 7),
        "confirm_threshold": np.int32(rule.confirm),
        "geometry": _polygons(members, pixels.shape[1], grid, to_lonlat),
        "processing_version": PROCESSING_VERSION, "run_id": run_id,
    }, columns=ALERT_SCHEMA.names)
    return SiteAlerts(site_id, rows.sort_values(["first_seen", "alert_id"]).reset_index(drop=True),
                      window if window else None)


def site_alerts(site: Site, cube: xr.Dataset, *, run_id: str, mask: xr.DataArray | None = None,
                rule: AlertRule = DEFAULT_RULE) -> SiteAlerts:
    """One call for notebooks and tests: :func:`alert_pixels`, computed, then :func:`alert_rows`.
    The flow instead computes ``alert_pixels`` in its one ``dask.compute`` with the tables."""
    return alert_rows(site, alert_pixels(site, cube, mask, rule=rule).compute(), run_id=run_id,
                      rule=rule)


def _alert_id(site_id: str, first_seen: pd.Timestamp, x: float, y: float) -> str:
    key = f"{site_id}|{first_seen.isoformat()}|{x:.1f}|{y:.1f}".encode()
    return f"{first_seen:%Y%m%d}-{hashlib.blake2b(key, digest_size=6).hexdigest()}"


def _polygons(members: list[np.ndarray], width: int, grid: SiteGrid,
              to_lonlat: Transformer) -> list[bytes]:
    """WKB (WGS84) of each patch, given its pixels' flat raster indices: pixel outlines
    (4-connected pieces unioned per patch), traced in the patch's bounding box."""
    transform = Affine(*grid.transform)

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1]))

    out = []
    for flat in members:
        rows, cols = flat // width, flat % width
        r0, c0 = int(rows.min()), int(cols.min())
        box = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), np.uint8)
        box[rows - r0, cols - c0] = 1
        pieces = [shapely.geometry.shape(geom) for geom, _ in features.shapes(
            box, mask=box > 0, connectivity=4,
            transform=transform * Affine.translation(c0, r0))]
        out.append(shapely.to_wkb(shapely.transform(shapely.union_all(pieces), project)))
    return out
