"""A site's rule and evidence, computed once at the start of its run from its baseline.

:func:`site_evidence_of` computes the baseline's evidence (mangrove intertidal context,
seagrass water: :mod:`indices.evidence`) that every walk, the per-scene statistics and the
alerts then read, after fitting the site's thresholds to its calibration input when it has
one (site property ``calibration``, :func:`aoi.calibration_input`):

* labelled polygons (:func:`aoi.load_calibration_polygons`), rasterised on the site grid at
  pixel centres (:func:`aoi.geometry_ids`: each pixel's polygon, its sampling unit);
* or a reference raster in any CRS, e.g. a Global Mangrove Watch v3 tile, resampled onto
  the site grid by nearest neighbour: value 1 is habitat, anything else inside the raster's
  footprint (GMW writes 0, its nodata, where it found no mangrove) is not habitat, pixels
  outside the footprint are unlabelled.

Features at the labelled pixels come from the baseline composite; :func:`indices.calibration.
calibrate` fits the thresholds; a mangrove site's on its discriminant axis, given the site's
parameters under the default rule (:func:`indices.calibration_axis.calibrate_on_axis`), and
the fitted values replace the site's own parameters (:func:`indices.evidence.with_site_values`), which every
walk, the observation rows and the alerts then read. Bad calibration input raises
:class:`aoi.CalibrationError`, one line naming the site and the file; the flow records the
site as failed and goes on.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import dask
import dask.array as da
import numpy as np
import xarray as xr

from aoi import CalibrationError, Site, calibration_input, geometry_ids, load_calibration_polygons
from aoi.grid import SiteGrid
from flows.site.budget import FILL_BUILD_BYTES_PER_PIXEL, SiteTooLarge
from flows.sources import CHUNKS
from indices import calibration
from indices.bap import FillTooLarge, baseline_fill
from indices.calibration_axis import STRATA, gain_is_shown, map_strata
from indices.coast_maps import keep_codes, kept_codes
from indices.composite import composite
from indices.evidence import (
    SiteEvidence,
    baseline_composite,
    calibration_features,
    mangrove_final_context,
    mangrove_first_pass,
    site_evidence,
)
from indices.habitat import RULES, seagrass_constants
from indices.mangrove import MANGROVE_PARAMETERS
from indices.mangrove_axis import AXIS_BANDS
from indices.seagrass_place import place_inputs, place_map

__all__ = ["EvidenceOf", "calibration_grid", "calibration_record", "site_evidence_of"]


class EvidenceOf(NamedTuple):
    """What :func:`site_evidence_of` computes for a site."""

    evidence: SiteEvidence
    """The site's computed evidence, with its calibrated rule if it has one."""
    record: dict[str, Any]
    """What the run record keeps of it: ``{"rule": ..., "calibration": ...}`` (module doc)."""
    base: xr.Dataset | None
    """With ``keep_base`` (mangrove), the baseline composite computed in the same
    ``dask.compute`` (:func:`indices.evidence.baseline_composite`, numpy: the walks'
    ``monthly_inputs(..., base=...)`` then does not composite the baseline again); else
    None."""


def site_evidence_of(site: Site, cube: xr.Dataset, grid: SiteGrid, mask: xr.DataArray, *,
                     keep_base: bool = False, max_fill: int | None = None,
                     lean: bool = False) -> EvidenceOf:
    """The site's computed evidence, its run-record entry and (``keep_base``, mangrove) its
    computed baseline composite: :class:`EvidenceOf`. ``max_fill``: the most never-clear
    baseline pixels the run's memory allows to fill (:func:`flows.site.budget.fill_pixels`;
    None: unbounded); a fill beyond it fails the site (:class:`flows.site.budget.SiteTooLarge`,
    one line), before any row: a site's rows are never of a baseline the machine's memory
    left unfilled (review of rule v16, session 36). ``lean`` (the strips walk's sites,
    whose composite is not to be held whole): a seagrass site larger than a block computes
    its water, then its place map, in two passes over its scenes
    (:func:`_place_and_water`); else in one, each scene read once."""
    if keep_base and site.habitat != "mangrove":
        raise ValueError("keep_base: a seagrass site's months composite another baseline")
    baseline = (site.baseline_start, site.baseline_end)
    fill = kept = None
    if site.habitat == "mangrove":
        inside = np.asarray(mask.transpose("y", "x").values, bool)
        try:
            base, fill, kept = _filled_baseline(cube, baseline, computed=keep_base,
                                                inside=inside, max_pixels=max_fill,
                                                min_views=RULES[site.habitat].min_views)
        except FillTooLarge as exc:
            need, room = (n * FILL_BUILD_BYTES_PER_PIXEL / 2**30
                          for n in (exc.unseen, exc.max_pixels))
            raise SiteTooLarge(
                f"the baseline fill of {site.id} needs ~{need:.2f} GiB for its {exc.unseen} "
                f"never-clear pixels and {room:.2f} GiB may be used beside its walk: no rows "
                f"written, the next run retries; raise BLUECARBON_MEMORY_GB or split the site"
            ) from exc
    else:
        base = baseline_composite(cube, site.habitat, baseline)
    rule, record, replaces = RULES[site.habitat], {}, None
    source = calibration_input(site)
    if source is not None:
        inside = mask.transpose("y", "x").values
        labels, units = calibration_grid(site, source, grid)
        labels = np.where(inside, labels, np.int8(-1))
        cal = _calibrate(site, source.path, base, labels, inside, units)
        rule, replaces = cal.rule, cal.replaces
        record["calibration"] = calibration_record(site, source, cal)
    one_block = keep_base and _one_block(base)
    if one_block:
        # a site of one block: its composite computed first (it is, for the fill), then its
        # evidence in numpy, with no graph to build, optimise and schedule (~200 tasks at
        # 400²), the same values (each step is the same numpy on the one block)
        base = kept
    evidence = site_evidence(base, site.habitat, rule, replaces, fill=fill)
    if one_block:
        arrays = evidence.arrays
    elif keep_base:  # mangrove: its composite computed already, for the fill
        base, arrays = kept, dask.compute(*evidence.arrays)
    elif site.habitat == "mangrove" and isinstance(evidence.params.data, da.Array):
        arrays, base = _two_passes(base, evidence, replaces), None
    elif evidence.place is not None:
        lean = lean and _pixels(base) > ONE_BLOCK_PIXELS
        arrays, base = _place_and_water(base, evidence, lean=lean), None
    else:
        arrays, base = dask.compute(*evidence.arrays), None
    evidence = evidence.with_arrays(arrays)
    record["rule"] = evidence.summary()
    return EvidenceOf(evidence, record, base)


ONE_BLOCK_PIXELS = CHUNKS**2
"""The largest site (pixels) whose evidence :func:`site_evidence_of` computes in numpy once
its composite is computed, when the composite is one block: a site of the default chunks'
one block (:data:`flows.sources.CHUNKS` 1024²). Its whole-site temporaries are then at most
the size of the one block dask's graph would hold them in (a larger ``--chunks`` keeps the
graph, block by block)."""


def _pixels(base: xr.Dataset) -> int:
    return base.sizes["y"] * base.sizes["x"]


def _place_and_water(base: xr.Dataset, evidence, *, lean: bool) -> tuple:
    """A seagrass site's ``(water, place)`` (rule v6). By default from one pass over its
    scenes: the composite's bands the map reads and the water computed together (array graphs
    alike, so each scene is read once: the map's whole-site task computed beside the water
    read the scenes three times over, its graph optimised apart from theirs), then the map in
    numpy. ``lean``: two passes over the lazy composite, the water, then the map strip by
    strip (:func:`indices.seagrass_place.place_map` of a lazy composite), so that neither
    holds the composite whole (~18 B a pixel, 2.2 GB on a 10980² tile; issue 22)."""
    needed = place_inputs(base)
    if lean:
        (water,) = dask.compute(evidence.water)
    else:
        needed, water = dask.compute(needed, evidence.water)
    return water, place_map(needed, evidence.rule, water)


def _one_block(base: xr.Dataset) -> bool:
    """Whether the lazy composite ``base`` is one block of at most :data:`ONE_BLOCK_PIXELS`."""
    first = base[next(iter(base.data_vars))].data
    if not isinstance(first, da.Array):
        return False
    return all(n == 1 for n in first.numblocks) and first.size <= ONE_BLOCK_PIXELS


def _filled_baseline(cube: xr.Dataset, baseline, *, computed: bool, inside=None,
                     min_views: int | None = None, max_pixels: int | None = None):
    """A mangrove site's baseline composite with its never-clear pixels filled, and the fill
    (:func:`indices.bap.baseline_fill`, ``inside`` the site's polygon, ``min_views`` its
    rule's, ``max_pixels`` its bound). ``computed`` (the walks that keep the
    composite): the composite is computed first, so that counting its never-clear pixels
    costs no pass of its own, and given back as dask in its own chunks, so that the
    evidence's graphs stay block by block as on the lazy composite (the same values); else
    it stays lazy and the count is one pass over the baseline's scenes
    (:func:`indices.bap.baseline_fill`). Returns ``(base, fill, computed base or None)``."""
    base = composite(cube, *baseline)
    bound = {"inside": inside, "min_views": min_views, "max_pixels": max_pixels}
    if not computed:
        fill = baseline_fill(base, cube, baseline, **bound)
        return fill.apply(base), fill, None
    chunks = base["n_clear"].chunksizes
    (base,) = dask.compute(base)
    fill = baseline_fill(base, cube, baseline, **bound)
    base = fill.apply(base)
    return (base.chunk(dict(chunks)) if chunks else base), fill, base


def calibration_record(site: Site, source, cal: calibration.Calibration) -> dict[str, Any]:
    """The run record's ``calibration`` of a site (module doc): the labels' source, the fitted
    and default thresholds and accuracies, the labels the threshold search scored of all
    (``search``: a stratified draw above :data:`indices.calibration.MAX_SEARCH_PIXELS`,
    seeded by the labels' digest) and the warnings, one line each naming site and file."""
    out = {
        "source": str(source.path), "kind": source.kind,
        "habitat_pixels": cal.n_habitat, "not_habitat_pixels": cal.n_other,
        "parameters": dict(cal.parameters),
        "default_parameters": dict(cal.default_parameters),
        "balanced_accuracy": round(cal.balanced_accuracy, 4),
        "default_balanced_accuracy": round(cal.default_balanced_accuracy, 4),
        "rule_id": cal.rule_id,
        "method": cal.method,
        "search": {"pixels": sum(cal.search_pixels or (cal.n_habitat, cal.n_other)),
                   "of_pixels": cal.n_habitat + cal.n_other,
                   "subsampled": cal.subsampled, "seed": cal.search_seed},
    }
    if cal.candidates is not None:  # the axis-aware fit: what it compared, area-weighted
        out["accuracy"] = round(cal.accuracy, 4)
        out["default_accuracy"] = round(cal.default_accuracy, 4)
        out["candidates"] = {m: round(v, 4) for m, v in cal.candidates.items()}
        if cal.replaces:
            out["replaces"] = dict(cal.replaces)
    if cal.gains:  # why a better-scoring fit was or was not taken (the default's guard)
        out["gains"] = {m: {"gain": round(g, 4), "se": round(se, 4) if math.isfinite(se) else None,
                            "df": int(df), "shown": bool(gain_is_shown(g, se, df))}
                        for m, (g, se, df) in cal.gains.items()}
    if cal.warnings:  # what the labels could not teach: said with the run, and recorded
        out["warnings"] = [f"site {site.id!r}: calibration {source.path.name}: {w}"
                           for w in cal.warnings]
    return out


def _two_passes(base: xr.Dataset, evidence: SiteEvidence, replaces=None) -> tuple:
    """A mangrove site's ``(context, params)`` computed in two passes over its lazy baseline
    composite ``base``, the composite computed twice, so that no pass holds it whole: the
    final context reads the site's parameters, a reduction over the whole site (histograms,
    :func:`indices.mangrove.mangrove_parameters`), so in one ``dask.compute`` every block of
    the composite (its bands and view counts) waited in memory for the last block's
    histograms: RSS 3.9-4.0 GiB on the benchmarks' whole synthetic tile (10980², 1024²
    chunks) against 1.9 GiB in two passes, measured (issue 22; the second pass costs the
    baseline's reads and composite again: ~45 s of ~850 s there, under load). For the walks
    that never hold a whole composite (strips); the others keep the composite
    (``keep_base``) in one pass. ``evidence``: the site's lazy evidence of ``base``.

    The first pass also keeps the coast's water and tidal flat its maps came from, packed
    four pixels to a byte (:func:`indices.coast_maps.keep_codes`: 30 MB a whole tile), so that
    the second computes only the final context's reach from them
    (:func:`indices.evidence.mangrove_final_context`, the same levels): not the coast's water
    again, with less overlap between blocks (307 px instead of 478 with the published reach
    at 10 m: :func:`indices.coast_maps.context_of_coast`)."""
    params, codes = mangrove_first_pass(base, evidence.rule, replaces)
    chunks = codes.transpose("y", "x").chunks
    params, packed = dask.compute(params, keep_codes(codes))
    del codes
    codes = kept_codes(packed, chunks, base["n_clear"])
    (context,) = dask.compute(mangrove_final_context(base, evidence.rule, params, codes))
    return context, params


def _calibrate(site: Site, path, base: xr.Dataset, labels: np.ndarray, inside: np.ndarray,
               units: np.ndarray | None):
    """:func:`indices.calibration.calibrate` at the labelled pixels (1 habitat, 0 not, -1
    unlabelled) of the baseline composite; its refusals as one line naming site and file.
    A mangrove site is calibrated on its discriminant axis
    (:func:`indices.calibration_axis.calibrate_on_axis`): its parameters under the default
    rule (a first pass of its evidence, :func:`indices.evidence.mangrove_first_pass`) and its
    pixels ``inside`` the site in each stratum of the default's map (:func:`_strata_pixels`)
    weigh the labels: two more passes over the baseline composite than an uncalibrated
    site's, each holding a block at a time (the features are taken at the labels only);
    each label's sampling unit is its polygon (``units``, :func:`calibration_grid`)."""
    picked = labels >= 0
    units = None if units is None else units[picked]
    water, start, lazy = None, RULES[site.habitat], []
    if site.habitat == "seagrass":  # the offset needs the site's water, fitted with defaults
        (water,) = dask.compute(site_evidence(base, "seagrass").water)
        threshold = seagrass_constants(water, start)["threshold"]
        start = dataclasses.replace(start, dii_max=float(threshold))  # the fit starts there
    features = calibration_features(base, site.habitat, water=water)
    if site.habitat == "mangrove":
        features |= {b: base[b] for b in AXIS_BANDS}
        lazy = [mangrove_first_pass(base, start)[0]]
    names = sorted(features)
    maps = [features[n].transpose("y", "x").data for n in names]
    values = dask.compute(*(m[picked] for m in maps), *lazy)
    columns = {n: np.asarray(v) for n, v in zip(names, values[:len(names)], strict=True)}
    extra = {}
    if lazy:
        own = dict(zip(MANGROVE_PARAMETERS, np.asarray(values[-1], np.float64), strict=True))
        extra = {"site": own, "strata_pixels": _strata_pixels(names, maps, inside, start, own),
                 "units": units}
    try:
        return calibration.calibrate(site.habitat, labels[picked] == 1, columns, rule=start,
                                     source=path.name, **extra)
    except calibration.CalibrationError as exc:
        raise CalibrationError(f"site {site.id!r}: calibration {path}: {exc}") from None


def _strata_pixels(names, maps, inside: np.ndarray, rule, own) -> np.ndarray:
    """The site's pixels (``inside``) in each stratum of its default's map
    (:func:`indices.calibration_axis.map_strata`, :data:`indices.calibration_axis.STRATA`),
    counted block by block where the feature ``maps`` (``(y, x)``, named ``names``) are
    dask."""
    def count(mask, *arrays):
        strata = map_strata({n: np.asarray(a)[mask] for n, a in zip(names, arrays,
                                                                   strict=True)}, rule, own)
        return np.bincount(strata, minlength=len(STRATA))[None, None, :]

    if not any(isinstance(m, da.Array) for m in maps):
        return count(inside, *maps)[0, 0]
    chunks = next(m for m in maps if isinstance(m, da.Array)).chunks
    arrays = [da.asarray(m).rechunk(chunks) for m in (inside, *maps)]
    ny, nx = arrays[0].numblocks
    parts = da.map_blocks(count, *arrays, new_axis=2, dtype=np.int64,
                          chunks=((1,) * ny, (1,) * nx, (len(STRATA),)))
    (counts,) = dask.compute(parts.sum(axis=(0, 1)))
    return counts


def calibration_grid(site: Site, source, grid: SiteGrid) -> tuple[np.ndarray, np.ndarray | None]:
    """``(labels, units)`` on the site grid: int8 labels, 1 habitat, 0 not habitat, -1
    unlabelled, and, for labelled polygons, int64 each labelled pixel's sampling unit, the
    index of its polygon in the file (:func:`aoi.geometry_ids`; -1 unlabelled), which the
    default's guard counts (:func:`indices.calibration_axis.gain_evidence`): a survey's
    polygon is one unit whether it touches another or has several parts. Where the classes
    overlap (slivers the loader lets pass, :data:`aoi.calibration.OVERLAP_TOLERANCE_M2`) the
    habitat polygon holds the pixel. A pixel centre exactly on an edge two polygons share is
    inside neither (it was inside their union). A reference raster's units are None: a map
    of its footprint, each pixel its own."""
    if source.kind != "polygons":
        return _raster_labels(site, source.path, grid), None
    polygons = load_calibration_polygons(source.path, site).polygons
    order = sorted(range(len(polygons)), key=lambda k: polygons[k].habitat)  # habitat last
    drawn = geometry_ids([polygons[k].geometry for k in order], grid)
    units = np.where(drawn >= 0, np.asarray(order + [-1], np.int64)[drawn], -1)
    habitat = np.array([p.habitat for p in polygons] + [False], bool)  # [-1]: unlabelled
    labels = np.where(units >= 0, habitat[units].astype(np.int8), np.int8(-1))
    return labels, units


def _raster_labels(site: Site, path, grid: SiteGrid) -> np.ndarray:
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.transform import Affine
    from rasterio.warp import Resampling, reproject

    def fail(problem: str) -> CalibrationError:
        return CalibrationError(f"site {site.id!r}: calibration {path}: {problem}")

    if not path.exists():
        raise fail("no such file")
    if not path.is_file():  # a FIFO would block the open, a device never end
        raise fail("not a regular file")
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise fail("the raster has no CRS (a reference raster needs one)")
            values = np.full(grid.shape, 255, np.uint8)
            footprint = np.zeros(grid.shape, np.uint8)
            dst = {"dst_transform": Affine(*grid.transform), "dst_crs": grid.crs,
                   "resampling": Resampling.nearest}
            reproject(rasterio.band(src, 1), values, dst_nodata=255, **dst)
            # the raster's footprint: its nodata counts as inside (GMW's 0 is nodata)
            reproject(np.ones(src.shape, np.uint8), footprint, src_transform=src.transform,
                      src_crs=src.crs, src_nodata=None, dst_nodata=0, **dst)
    except RasterioIOError as exc:
        raise fail(f"not a readable raster ({str(exc).splitlines()[0]})") from None
    labels = np.where(footprint == 1, np.where(values == 1, 1, 0), -1).astype(np.int8)
    if not (labels >= 0).any():
        raise fail("the raster does not overlap the site (another place, or a wrong CRS?)")
    return labels
