"""Map-to-map agreement in hectares: a map against a reference map on the same grid.

Not a sample-based estimate: every pixel of the two maps is compared, so there is no
sampling error, only the reference's own. Areas come from per-pixel areas
(:func:`indices.sampling.pixel_areas_ha`: nominal on a projected grid, ellipsoidal on a
geographic one), so GMW v3 (EPSG:4326) can be compared on its own grid as well as after
reprojection onto a site's UTM grid. The area matrix is the error matrix of Olofsson et
al. 2014 in hectares over the whole population; F1 = 2 TP / (2 TP + FP + FN) with areas
for counts, commission = FP / (TP + FP), omission = FN / (TP + FN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Agreement", "area_matrix", "compare_maps"]


def _areas_by_code(codes: np.ndarray, n_codes: int, pixel_area_ha: np.ndarray | float,
                   mask: np.ndarray | None) -> np.ndarray:
    """Area in hectares of each code 0..n_codes-1 of ``codes`` inside ``mask``."""
    area = np.asarray(pixel_area_ha, float)
    if mask is not None:
        codes = np.where(mask, codes, n_codes)
    if area.ndim == 0 or area.size == 1:
        return np.bincount(codes.ravel(), minlength=n_codes + 1)[:n_codes] * float(area.ravel()[0])
    if area.ndim == 2 and area.shape[1] == 1 and area.shape[0] == codes.shape[0]:
        # one area per row (a geographic grid): count per row, then weight the rows
        out = np.zeros(n_codes)
        for k in range(n_codes):
            out[k] = (codes == k).sum(axis=1) @ area[:, 0]
        return out
    area = np.broadcast_to(area, codes.shape)
    return np.bincount(codes.ravel(), weights=area.ravel(), minlength=n_codes + 1)[:n_codes]


def area_matrix(map_codes: np.ndarray, reference_codes: np.ndarray, classes: Sequence[int],
                pixel_area_ha: np.ndarray | float, mask: np.ndarray | None = None
                ) -> pd.DataFrame:
    """Hectares of each (map class, reference class) pair inside ``mask``: rows map, columns
    reference, over ``classes`` (codes). Pixels whose code in either map is not in
    ``classes`` (nodata) are left out, like those outside ``mask``."""
    map_codes, reference_codes = np.asarray(map_codes), np.asarray(reference_codes)
    if map_codes.shape != reference_codes.shape:
        raise ValueError(f"maps differ in shape: {map_codes.shape} vs {reference_codes.shape}")
    if mask is not None and mask.shape != map_codes.shape:
        raise ValueError(f"mask {mask.shape} and maps {map_codes.shape} differ in shape")
    lut = np.full(256, len(classes), np.int64)
    lut[list(classes)] = np.arange(len(classes))
    mi, ri = lut[map_codes.astype(np.uint8)], lut[reference_codes.astype(np.uint8)]
    k = len(classes)
    ok = (mi < k) & (ri < k)
    if mask is not None:
        ok &= mask.astype(bool)
    pair = np.where(ok, mi * k + ri, k * k)
    ha = _areas_by_code(pair, k * k, pixel_area_ha, None).reshape(k, k)
    return pd.DataFrame(ha, index=list(classes), columns=list(classes))


@dataclass(frozen=True)
class Agreement:
    """Habitat agreement between a map and a reference, in hectares."""

    both_ha: float
    """Habitat in both (true positives)."""
    map_only_ha: float
    """Habitat in the map only (commission, false positives)."""
    reference_only_ha: float
    """Habitat in the reference only (omission, false negatives)."""
    neither_ha: float

    @property
    def total_ha(self) -> float:
        return self.both_ha + self.map_only_ha + self.reference_only_ha + self.neither_ha

    @property
    def map_ha(self) -> float:
        return self.both_ha + self.map_only_ha

    @property
    def reference_ha(self) -> float:
        return self.both_ha + self.reference_only_ha

    @property
    def overall_agreement(self) -> float:
        """Share of the area where the two maps agree."""
        return (self.both_ha + self.neither_ha) / self.total_ha if self.total_ha else np.nan

    @property
    def commission(self) -> float:
        """Share of the map's habitat that the reference does not hold (1 - user's)."""
        return self.map_only_ha / self.map_ha if self.map_ha else np.nan

    @property
    def omission(self) -> float:
        """Share of the reference's habitat that the map misses (1 - producer's)."""
        return self.reference_only_ha / self.reference_ha if self.reference_ha else np.nan

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN), areas for counts."""
        den = 2 * self.both_ha + self.map_only_ha + self.reference_only_ha
        return 2 * self.both_ha / den if den else np.nan

    def as_dict(self) -> dict[str, float]:
        return {"both_ha": self.both_ha, "map_only_ha": self.map_only_ha,
                "reference_only_ha": self.reference_only_ha, "neither_ha": self.neither_ha,
                "map_ha": self.map_ha, "reference_ha": self.reference_ha,
                "total_ha": self.total_ha, "overall_agreement": self.overall_agreement,
                "f1": self.f1, "commission": self.commission, "omission": self.omission}


def compare_maps(map_habitat: np.ndarray, reference_habitat: np.ndarray,
                 pixel_area_ha: np.ndarray | float, mask: np.ndarray | None = None
                 ) -> Agreement:
    """Agreement of two habitat maps (booleans, or 0/1; same grid) inside ``mask``.

    ``pixel_area_ha``: a scalar, one value per row ``(height, 1)`` or per pixel. Nodata in
    either map must be excluded through ``mask`` (e.g. the change map's 255).
    """
    m = area_matrix(np.asarray(map_habitat).astype(np.uint8),
                    np.asarray(reference_habitat).astype(np.uint8), [0, 1], pixel_area_ha, mask)
    return Agreement(both_ha=float(m.loc[1, 1]), map_only_ha=float(m.loc[1, 0]),
                     reference_only_ha=float(m.loc[0, 1]), neither_ha=float(m.loc[0, 0]))
