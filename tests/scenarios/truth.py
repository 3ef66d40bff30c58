"""The truth of a scenario: per-month habitat maps inside the site, and the figures bluecarbon
reports, computed from them with the project's definitions (design.md, "Parquet outputs"):

* ``baseline_extent_ha``: habitat of the baseline period (no change is planted in it);
* ``extent_ha``: habitat in the month;
* ``gain_ha`` / ``loss_ha``: habitat now and not in the baseline, and the reverse, cumulative
  since the baseline, after a minimum mapping unit (8-connected patches smaller than
  ``mmu_ha`` are dropped, as ``indices/change.py`` applies it; re-implemented here);
* seagrass only: ``assessable_ha`` / ``assessable_fraction`` (water where the bottom is
  optically visible, see :func:`scenarios.water.visibility_depth`) and the extents counted
  over assessable water only (``*_assessable_ha``).

The site mask is "pixel centre inside the site polygon" (shapely.contains_xy on the polygon
as the project reprojects it from the sites file), the project's rule, computed here without
its code.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import ndimage

from .landscape import Landscape


def site_mask(polygon_lonlat: shapely.Geometry, epsg: int, left: float, top: float, res: float,
              shape: tuple[int, int]) -> np.ndarray:
    """True where the pixel centre lies inside the site polygon (reprojected to the grid)."""
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    poly = shapely.transform(polygon_lonlat, lambda xy: np.column_stack(
        to_utm.transform(xy[:, 0], xy[:, 1])))
    xs = left + (np.arange(shape[1]) + 0.5) * res
    ys = top - (np.arange(shape[0]) + 0.5) * res
    return shapely.contains_xy(poly, xs[None, :], ys[:, None])


def mmu_pixels(mmu_ha: float, pixel_ha: float) -> int:
    return max(1, int(np.ceil(mmu_ha / pixel_ha - 1e-9)))


def drop_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    """Keep the 8-connected patches of at least ``min_px`` pixels."""
    if min_px <= 1 or not mask.any():
        return mask
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def truth_table(land: Landscape, site: np.ndarray, periods: list[dt.date], *,
                pixel_ha: float, mmu_ha: float = 0.1,
                assessable: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per month: the truth figures; and the (month, y, x) habitat maps in the site."""
    m_px = mmu_pixels(mmu_ha, pixel_ha)
    maps = np.stack([land.habitat_at(m) & site for m in range(len(periods))])
    base = maps[0]
    rows = []
    for m, period in enumerate(periods):
        hab = maps[m]
        gain = drop_small(hab & ~base, m_px)
        loss = drop_small(base & ~hab, m_px)
        row = {"period": period, "habitat": land.kind,
               "extent_ha": hab.sum() * pixel_ha,
               "baseline_extent_ha": base.sum() * pixel_ha,
               "gain_ha": gain.sum() * pixel_ha, "loss_ha": loss.sum() * pixel_ha,
               "extent_mmu_ha": ((base | gain) & ~loss).sum() * pixel_ha}
        row["net_change_ha"] = row["gain_ha"] - row["loss_ha"]
        if assessable is not None:
            a = assessable & site
            row.update(assessable_ha=a.sum() * pixel_ha,
                       assessable_fraction=a.sum() / max(site.sum(), 1),
                       extent_assessable_ha=(hab & a).sum() * pixel_ha,
                       baseline_extent_assessable_ha=(base & a).sum() * pixel_ha,
                       gain_assessable_ha=(gain & a).sum() * pixel_ha,
                       loss_assessable_ha=(loss & a).sum() * pixel_ha)
        rows.append(row)
    return pd.DataFrame(rows), maps
