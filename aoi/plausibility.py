"""Plausibility of a valid site: warnings (never errors) when its habitat is unlikely where it lies.

``plausibility(site)`` returns one-line warnings; ``load_sites(path, warnings=[])`` adds them
for every site, prefixed with the file and feature. Checks, each with its source:

- **Mangrove latitude**: mangroves grow between about 39 S and 32.5 N. The northern limit is
  Bermuda, 32.3 N ("the northern latitudinal limit for mangroves", Ellison 1996, Global Ecol.
  Biogeogr. Lett. 5:315-326); the southern limit is Corner Inlet, Victoria, Australia,
  ~38.8-38.9 S (Avicennia marina; the latitude is from secondary sources, not verified in a
  primary paper here). Giri et al. (2011, Global Ecol. Biogeogr. 20:154-159) confine mangroves
  to "the tropical and subtropical regions" (abstract; no limits in degrees there).
- **Posidonia oceanica** is endemic to the Mediterranean (Telesca et al. 2015, Sci. Rep.
  5:12505: "the most important endemic seagrass species of the Mediterranean Sea"); a site that
  names it (``species``, ``name`` or ``notes``) must touch the Mediterranean (``aoi.land``).
  Other Posidonia species grow in southern Australia, so "Posidonia" alone is not checked.
- **Open ocean / inland**: both habitats are coastal. A site entirely at sea more than
  :data:`OPEN_OCEAN_KM` from the bundled coastline, or entirely on land more than
  :data:`INLAND_KM` from it, is implausible. The distances are generous on purpose: the
  coastline is Natural Earth 1:10m (good to ~5 km, and without narrow estuaries and lagoons);
  mangroves follow tidal rivers tens of km inland (the Gambia river at 15.0 W, 13.7 N is 38 km
  from this layer's coast, the Sundarbans' interior 23 km; a stand at Mandora Marsh, Western
  Australia, is described as ~60 km from the coast in secondary sources, unverified here);
  seagrass grows on banks ~25 km from the nearest mapped island (Great Bahama Bank, Belize
  cays, measured on this layer) and, rarely, on remote banks (Saya de Malha, ~480 km from
  land: such a site warns and the warning says why). Coordinate mistakes put sites hundreds
  of km off (bundled sites swapped or sign-flipped, measured: 263-1,042 km).
- **Swapped coordinates**: when swapping longitude and latitude turns an implausible site
  into a plausible one, the warning says so and where the swapped site would lie.
- **Dates**: a baseline that starts before Sentinel-2A's launch (23 June 2015, ESA) has no
  scenes before that day.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from aoi.land import in_mediterranean, shore

if TYPE_CHECKING:
    from aoi.sites import Site

__all__ = [
    "INLAND_KM",
    "MANGROVE_MAX_LAT",
    "MANGROVE_MIN_LAT",
    "OPEN_OCEAN_KM",
    "SENTINEL2_FIRST_DAY",
    "plausibility",
]

SENTINEL2_FIRST_DAY: dt.date = dt.date(2015, 6, 23)
"""Launch of Sentinel-2A (ESA: 23 June 2015, 01:52 UTC); no Sentinel-2 scene is older."""
MANGROVE_MAX_LAT: float = 32.5
"""Northernmost latitude of mangroves, deg (Bermuda, 32.3 N; Ellison 1996), rounded up."""
MANGROVE_MIN_LAT: float = -39.0
"""Southernmost latitude of mangroves, deg (Corner Inlet, Victoria, ~38.9 S), rounded down."""
OPEN_OCEAN_KM: float = 100.0
"""A site entirely at sea farther than this from the bundled coastline is implausible."""
INLAND_KM: float = 100.0
"""A site entirely on land farther than this from the bundled coastline is implausible."""

_POSIDONIA_OCEANICA = re.compile(r"\b(posidonia|p\.)\s+oceanica\b", re.IGNORECASE)


def plausibility(site: Site) -> list[str]:
    """One-line warnings about where and when ``site`` is; empty when nothing looks wrong.

    Messages name the problem and its source; they do not repeat the file or the feature
    (``load_sites(..., warnings=[])`` prefixes those).
    """
    out: list[str] = []
    posidonia = _names_posidonia_oceanica(site)
    problems = _place_problems(site.habitat, site.geometry, posidonia)
    if problems:
        what = "Posidonia oceanica" if posidonia else site.habitat
        line = f"{what} site at {_where(site.geometry)} is implausible: " + "; ".join(problems)
        swapped = _swapped(site.geometry)
        if swapped is not None and not _place_problems(site.habitat, swapped, posidonia):
            line += (
                "; did you swap latitude and longitude? Swapped, it would lie at "
                f"{_where(swapped)}, where it is plausible"
            )
        out.append(line)
    if site.baseline_start < SENTINEL2_FIRST_DAY:
        out.append(
            f"baseline_start {site.baseline_start} is before Sentinel-2A's launch "
            f"({SENTINEL2_FIRST_DAY}): the baseline only has scenes from then on"
        )
    return out


def _place_problems(habitat: str, geometry: BaseGeometry, posidonia: bool) -> list[str]:
    problems: list[str] = []
    _, south, _, north = geometry.bounds
    if habitat == "mangrove" and (south > MANGROVE_MAX_LAT or north < MANGROVE_MIN_LAT):
        problems.append(
            "mangroves grow only between about 39 S and 32.5 N "
            "(Corner Inlet, Australia, to Bermuda; Ellison 1996)"
        )
    if posidonia and not in_mediterranean(geometry):
        problems.append(
            "Posidonia oceanica grows only in the Mediterranean (Telesca et al. 2015); "
            "for another seagrass, name its species instead"
        )
    where = shore(geometry, radius_km=max(OPEN_OCEAN_KM, INLAND_KM))
    if where.side == "sea" and where.distance_km > OPEN_OCEAN_KM:
        problems.append(
            f"it lies over open ocean, about {where.distance_km:,.0f} km from the nearest "
            f"coast (more than {OPEN_OCEAN_KM:.0f} km; unless it is a remote shallow bank)"
        )
    elif where.side == "land" and where.distance_km > INLAND_KM:
        problems.append(
            f"it lies inland, about {where.distance_km:,.0f} km from the nearest coast "
            f"(more than {INLAND_KM:.0f} km)"
        )
    return problems


def _names_posidonia_oceanica(site: Site) -> bool:
    texts = [site.name, site.notes, site.properties.get("species")]
    return any(isinstance(t, str) and _POSIDONIA_OCEANICA.search(t) for t in texts)


def _swapped(geometry: BaseGeometry) -> BaseGeometry | None:
    """The geometry with x and y exchanged, or None when a longitude is beyond +-90 deg."""
    coords = shapely.get_coordinates(geometry)
    if np.abs(coords[:, 0]).max() > 90.0:
        return None
    return shapely.transform(geometry, lambda xy: xy[:, ::-1])


def _where(geometry: BaseGeometry) -> str:
    lon, lat = geometry.centroid.coords[0]
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.2f} {ns}, {abs(lon):.2f} {ew}"
