"""``bluecarbon accuracy compare``: a month's habitat map against a reference map, in hectares.

Every mapped pixel of the site is compared (no sample, so no sampling error; the reference
has its own errors): the month's habitat is stable habitat or gain in the change map, the
reference's is its value 1, brought onto the site grid by nearest neighbour
(:mod:`flows.accuracy.reference`). Pixels either map leaves without data are left out and
counted apart. Areas: :func:`indices.agreement.compare_maps` with the grid's pixel areas;
F1 and overall agreement with areas for counts. The reference's habitat inside the site
polygon is also measured on its own grid (ellipsoidal areas on a geographic grid), a check
of the reprojection. Written to ``<out>/accuracy/<site>/<YYYY-MM>/compare.json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flows import PROCESSING_VERSION
from flows.accuracy.folder import write_json
from flows.accuracy.inputs import find_site, read_change_map
from flows.accuracy.reference import native_habitat_ha, reference_on_grid
from indices.agreement import Agreement, compare_maps
from indices.maps import NODATA
from indices.sampling import CLASS_CODES, map_digest, pixel_areas_ha

__all__ = ["Compared", "compare_reference"]

HABITAT_NOW = (CLASS_CODES["stable_habitat"], CLASS_CODES["gain"])


@dataclass(frozen=True)
class Compared:
    site_id: str
    period: str
    reference: Path
    agreement: Agreement
    site_ha: float
    """Area of the site's pixels (centre inside the polygon)."""
    unmapped_ha: float
    """Of which the change map has no data (never seen clear)."""
    uncovered_ha: float
    """Of which the reference has no data."""
    native_habitat_ha: float
    native_covered_ha: float
    path: Path

    def as_dict(self) -> dict:
        return {"site_id": self.site_id, "period": self.period,
                "reference": self.reference.name, "compared_on": dt.date.today().isoformat(),
                "resampling": "nearest neighbour onto the site grid",
                **self.agreement.as_dict(), "site_ha": self.site_ha,
                "unmapped_ha": self.unmapped_ha, "reference_uncovered_ha": self.uncovered_ha,
                "reference_habitat_native_grid_ha": self.native_habitat_ha,
                "reference_covered_native_grid_ha": self.native_covered_ha,
                "processing_version": PROCESSING_VERSION}

    def lines(self) -> list[str]:
        a = self.agreement
        total = a.total_ha or np.nan

        def row(label: str, value: float) -> str:
            return f"  {label:<30}{value:>12,.2f}{value / total:>9.1%}"

        out = [f"{self.site_id} {self.period}: the map against {self.reference.name} "
               "(nearest neighbour onto the site's grid)",
               f"  {'':<30}{'ha':>12}{'share':>9}",
               row("habitat in both", a.both_ha), row("habitat in the map only", a.map_only_ha),
               row("habitat in the reference only", a.reference_only_ha),
               row("habitat in neither", a.neither_ha),
               f"  {'compared':<30}{a.total_ha:>12,.2f}",
               f"  F1 {a.f1:.3f}   overall agreement {a.overall_agreement:.1%}   map habitat "
               f"{a.map_ha:,.2f} ha, reference habitat {a.reference_ha:,.2f} ha"]
        if self.unmapped_ha or self.uncovered_ha:
            out.append(f"  left out: {self.unmapped_ha:,.2f} ha the map has not seen, "
                       f"{self.uncovered_ha:,.2f} ha the reference does not cover (of "
                       f"{self.site_ha:,.2f} ha in the site)")
        out.append(f"  reference habitat in the site on its own grid: "
                   f"{self.native_habitat_ha:,.2f} ha (of {self.native_covered_ha:,.2f} ha "
                   "it covers)")
        out.append(f"written: {self.path}")
        return out


def compare_reference(out: str | Path, site_id: str, period: str, reference: str | Path, *,
                      sites: str | Path | None = None) -> Compared:
    """Compare ``site_id``'s habitat of ``period`` with a reference map and write
    ``compare.json``. :class:`flows.accuracy.folder.AccuracyError` (one line) on bad input."""
    site = find_site(out, site_id, sites)
    change = read_change_map(out, site, period)
    ref = reference_on_grid(reference, change.transform, change.codes.shape, change.crs)
    area = np.broadcast_to(pixel_areas_ha(change.transform, change.codes.shape, change.crs),
                           change.codes.shape)
    mapped = change.codes != NODATA
    agreement = compare_maps(np.isin(change.codes, HABITAT_NOW), ref.habitat, area,
                             change.mask & mapped & ref.valid)
    native, covered = native_habitat_ha(reference, site.geometry)
    result = Compared(
        site_id=site.id, period=change.period, reference=Path(reference), agreement=agreement,
        site_ha=float(area[change.mask].sum()),
        unmapped_ha=float(area[change.mask & ~mapped].sum()),
        uncovered_ha=float(area[change.mask & mapped & ~ref.valid].sum()),
        native_habitat_ha=native, native_covered_ha=covered, path=Path())
    data = {**result.as_dict(), "map_digest": map_digest(change.codes, change.mask)}
    path = write_json(out, site.id, change.period, "compare.json", data)
    return Compared(**{**result.__dict__, "path": path})
