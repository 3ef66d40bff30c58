"""The maps a mangrove site's evidence reads, computed together (issue 22): the published
rule's context, the floor rule's context and the shore band of :mod:`indices.context` in one
pass over the baseline composite's blocks (the coast's water once a block, not once a map),
and the coast's codes that pass leaves for the site's final context (kept four to a byte
between the two passes of a walk in strips). Each part is the same integers as its own
function of :mod:`indices.context` (``tests/test_evidence_maps.py``); split out of that
module with rule v7 (tidal ground), which grew it past ~500 lines."""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr
from scipy import ndimage

from indices.context import (
    COAST,
    INTERTIDAL,
    SEA_HALF_WIDTH_M,
    SHORE,
    coast_water,
    context_depth,
    context_levels,
    intertidal_zone,
    pixel_size,
    pixels_of,
    reach,
    shore_edge,
    tidal_wet,
)
from indices.neighbourhood import neighbourhood

__all__ = ["FLOOR_BIT", "WET_BIT", "coast_codes", "context_of_coast", "context_of_coast_kernel",
           "evidence_kernel", "evidence_maps", "keep_codes", "kept_codes", "pack_codes",
           "unpack_codes", "unpack_evidence"]


FLOOR_BIT, WET_BIT = 4, 5
"""Bits of :func:`evidence_kernel`'s packed map holding the floor rule's context (nonzero)
and the ground seen wet in ``min_views`` views off the coast's water
(:func:`indices.context.tidal_wet`: where :data:`indices.context.TIDAL` ground may be); the
context's levels are in bits 0-1, the shore band's in bits 2-3."""


def evidence_kernel(n_wet: np.ndarray, n_clear: np.ndarray, candidates: np.ndarray,
                    floor_candidates: np.ndarray | None = None, *, min_views: int, gap_px: int,
                    reach_px: int, band_px: int, sea_px: int = 10) -> np.ndarray:
    """The maps a mangrove site's parameters read, of one block of numpy maps, from one
    computation of the coast's water (step 3 of the module doc, the costly part; it does not
    depend on the candidates): uint8 ``(y, x)``, packed: bits 0-1 :func:`context_kernel` of
    ``candidates``; bits 2-3 :func:`shore_kernel` with ``band_px``; bit :data:`FLOOR_BIT`
    :func:`context_kernel` of ``floor_candidates`` nonzero (0 without them); bit
    :data:`WET_BIT` the ground seen wet in ``min_views`` views off the coast's water
    (:func:`indices.context.tidal_wet`). Each part the
    same integers as its own kernel on the same block (``tests/test_evidence_maps.py``),
    the context's without :data:`TIDAL` ground (``tidal=False``): the site's parameters
    are estimated on rule v6's levels, so that rule v7 leaves its thresholds where they
    were (tidal ground stays in the unconnected sample, as it was), and the site's final
    context (:func:`context_of_coast`) adds the level."""
    n_wet, n_clear = np.asarray(n_wet), np.asarray(n_clear)
    zone = intertidal_zone(n_wet, n_clear, min_views)
    coast = coast_water(n_wet, n_clear, min_views=min_views, reach_px=reach_px, sea_px=sea_px)
    flat = zone & coast
    del zone
    edge = shore_edge(coast, gap_px)
    out = context_levels(edge, candidates, flat, reach_px)
    if floor_candidates is not None:
        path = np.ascontiguousarray(np.asarray(floor_candidates, bool))
        floor = reach(edge, path, reach_px).view(bool) | flat
        out |= floor.view(np.uint8) << np.uint8(FLOOR_BIT)
        del floor
    del edge, flat
    near = ndimage.maximum_filter(coast.view(np.uint8), size=2 * band_px + 1, mode="constant",
                                  cval=0).view(bool)
    out[near & ~coast] |= np.uint8(SHORE << 2)
    out[coast] |= np.uint8(COAST << 2)
    out[tidal_wet(n_wet, coast, min_views)] |= np.uint8(1 << WET_BIT)
    return out


def evidence_maps(n_wet: xr.DataArray, n_clear: xr.DataArray, candidates: xr.DataArray,
                  floor_candidates: xr.DataArray | None = None, *, min_views: int,
                  shore_gap_m: float, reach_m: float, band_m: float) -> xr.DataArray:
    """:func:`evidence_kernel`'s packed map: :func:`intertidal_context` of ``candidates``
    and of ``floor_candidates`` and :func:`shore_band` with ``band_m`` computed together,
    the coast's water once a block instead of once a map (issue 22); lazy when the inputs
    are, the same whatever the chunking (one overlap, the deeper of the maps').
    :func:`unpack_evidence` gives the maps."""
    res = pixel_size(n_clear)
    kw = {"min_views": int(min_views), "gap_px": pixels_of(shore_gap_m, res),
          "reach_px": pixels_of(reach_m, res), "band_px": max(1, pixels_of(band_m, res)),
          "sea_px": pixels_of(SEA_HALF_WIDTH_M, res)}
    shore_depth = 2 + 2 * kw["sea_px"] + kw["reach_px"] + kw["band_px"] + 1  # shore_band's
    # rule v6's levels (no tidal reach): the codes' ground is per pixel, its reach is the
    # final context's (context_of_coast)
    depth = max(context_depth(shore_gap_m, reach_m, res, tidal=False), shore_depth)
    inputs = (n_wet, n_clear, candidates) + (() if floor_candidates is None
                                             else (floor_candidates,))
    return neighbourhood(evidence_kernel, inputs, depth, "evidence_maps", **kw)


def unpack_evidence(packed: xr.DataArray) -> dict[str, xr.DataArray]:
    """:func:`evidence_maps`' parts, lazy when it is: ``context`` (:func:`intertidal_context`
    levels), ``shore`` (:func:`shore_band` levels), ``floor`` (1 where the floor
    candidates' context is nonzero, else 0)."""
    return {"context": (packed & 3).rename("intertidal_context"),
            "shore": ((packed >> 2) & 3).rename("shore_band"),
            "floor": ((packed >> FLOOR_BIT) & 1).rename("floor_context")}


def coast_codes(packed: xr.DataArray) -> xr.DataArray:
    """What the site's final context needs of :func:`evidence_maps`' packed map: uint8
    ``(y, x)`` codes (lazy when it is): 0 elsewhere, 1 ground seen wet in ``min_views``
    views off the coast's water (:func:`indices.context.tidal_wet`: where
    :data:`indices.context.TIDAL` ground may be), 2 the coast's water, 3 its tidal flat."""
    coast = ((packed >> 2) & 3) == COAST
    other = ((packed & 3) == INTERTIDAL) | (((packed >> WET_BIT) & 1) == 1)
    return ((coast.astype(np.uint8) << 1) | other.astype(np.uint8)).rename("coast_codes")


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """2-bit codes ``(y, x)`` (0-3) four to a byte along ``x`` (``(y, ceil(x / 4))``)."""
    codes = np.asarray(codes, np.uint8)
    ny, nx = codes.shape
    padded = np.zeros((ny, -(-nx // 4) * 4), np.uint8)
    padded[:, :nx] = codes
    return (padded[:, 0::4] | (padded[:, 1::4] << 2) | (padded[:, 2::4] << 4)
            | (padded[:, 3::4] << 6))


def unpack_codes(packed: np.ndarray, nx: int) -> np.ndarray:
    """:func:`pack_codes`' inverse: the ``(y, nx)`` codes."""
    packed = np.asarray(packed, np.uint8)
    out = np.empty((packed.shape[0], packed.shape[1] * 4), np.uint8)
    for i in range(4):
        out[:, i::4] = (packed >> np.uint8(2 * i)) & np.uint8(3)
    return out[:, :nx]


def context_of_coast_kernel(codes: np.ndarray, candidates: np.ndarray,
                            bare: np.ndarray | None = None, *, gap_px: int, reach_px: int,
                            shore_px: int = 0) -> np.ndarray:
    """:func:`context_kernel` of one block from its coast's water and tidal flat
    (:func:`coast_codes`) already computed: the same uint8 levels, :data:`TIDAL` included."""
    codes = np.asarray(codes)
    coast = codes >= 2
    return context_levels(shore_edge(coast, gap_px), candidates, codes == 3, reach_px,
                          (codes == 1, coast, bare, shore_px))


def context_of_coast(codes: xr.DataArray, candidates: xr.DataArray,
                     bare: xr.DataArray | None = None, *, shore_gap_m: float,
                     reach_m: float, shore_ground_m: float = 0.0) -> xr.DataArray:
    """:func:`intertidal_context` of ``candidates`` from the coast's water and flat
    (:func:`coast_codes` of the same counts' :func:`evidence_maps`; steps 1-3 are not
    computed again): the same levels, lazy when the inputs are, the same whatever the
    chunking. Its overlap is steps 4-5's and the tidal ground's (the shore's edge, the gap,
    the canopy's reach and the tidal ground's): 307 px with the published reach at 10 m,
    64 % of the whole context's 478 (rule v6's: 157 of 328, about half)."""
    res = pixel_size(candidates)
    kw = {"gap_px": pixels_of(shore_gap_m, res), "reach_px": pixels_of(reach_m, res),
          "shore_px": pixels_of(shore_ground_m, res) if bare is not None else 0}
    depth = 1 + kw["gap_px"] + 2 * kw["reach_px"] + 1
    inputs = (codes, candidates) + ((bare,) if bare is not None else ())
    return neighbourhood(context_of_coast_kernel, inputs, depth, "intertidal_context", **kw)


def keep_codes(codes: xr.DataArray):
    """:func:`coast_codes` four to a byte (:func:`pack_codes`) block by block, to be kept
    between two computations at a quarter of a byte a pixel (a whole tile: 30 MB): a dask
    array when ``codes`` is one, else numpy. :func:`kept_codes` gives the codes back."""
    data = codes.transpose("y", "x").data
    if not isinstance(data, da.Array):
        return pack_codes(data)
    ychunks, xchunks = data.chunks
    return data.map_blocks(pack_codes, dtype=np.uint8,
                           chunks=(ychunks, tuple(-(-w // 4) for w in xchunks)))


def kept_codes(packed, chunks, like: xr.DataArray) -> xr.DataArray:
    """The codes :func:`keep_codes` packed, computed (numpy), on the grid of ``like``
    (``(y, x)``: its coordinates): unpacked block by block in the blocks they were packed in
    (``chunks``: the codes' ``(y, x)`` chunks; None: they were numpy), lazy with chunks."""
    like = like.transpose("y", "x")
    packed = np.asarray(packed)
    if chunks is None:
        data = unpack_codes(packed, like.sizes["x"])
    else:
        ychunks, xchunks = chunks
        pieces = da.from_array(packed, chunks=(ychunks, tuple(-(-w // 4) for w in xchunks)))
        data = pieces.map_blocks(_unpack_block, widths=xchunks, dtype=np.uint8,
                                 chunks=(ychunks, xchunks))
    return xr.DataArray(data, dims=("y", "x"), coords=like.coords, name="coast_codes")


def _unpack_block(block, widths, block_id=None):  # noqa: D103 (map_blocks' function)
    return unpack_codes(block, widths[block_id[1]])
