"""The gate of the baseline fill (:mod:`indices.bap`): whether the baseline window's own
counts give an intertidal zone inside the site, and which pixels it never saw clear.

**Only a window whose own context reaches the site is filled** (rule v16, after its review,
session 36): the window's own counts must give an intertidal zone inside the site's polygon
(:func:`indices.context.intertidal_zone`: seen wet and dry over the rule's ``min_views``
clear views, opened with a 3 x 3 square), on numpy counts (:func:`window_has_context`) or
lazily block by block (:func:`tidal_zone`, the same bits whatever the chunks), in the same
pass as the never-clear count (:func:`never_clear`). A window that saw no tide there cannot
build the site's intertidal context: nothing is filled.

Compute; reads only the counts it is given.
"""

from __future__ import annotations

import dask
import numpy as np

from indices.context import intertidal_zone
from indices.mangrove_rule import MangroveRule

__all__ = ["gate_views", "never_clear", "tidal_zone", "window_has_context"]


def gate_views(min_views: int | None) -> int:
    """The clear views a pixel needs to show a tide: the caller's rule's ``min_views``, by
    default :class:`indices.mangrove_rule.MangroveRule`'s (two)."""
    return MangroveRule().min_views if min_views is None else int(min_views)


def window_has_context(n_wet, n_clear, min_views: int | None = None, inside=None) -> bool:
    """Whether the window's own composite counts (``n_wet``, ``n_clear``; numpy, ``(y, x)``)
    give an intertidal zone (:func:`indices.context.intertidal_zone`, ``min_views`` the
    rule's) inside the site (``inside``, boolean ``(y, x)``; None: the whole grid): the
    fill's gate (module doc)."""
    if n_wet is None:
        return False
    zone = intertidal_zone(np.asarray(n_wet), np.asarray(n_clear), gate_views(min_views))
    return bool((zone if inside is None else zone & np.asarray(inside, bool)).any())


def tidal_zone(n_wet, n_clear, views: int):
    """:func:`indices.context.intertidal_zone` of 2-d counts, numpy or dask: on dask block
    by block with an overlap of 2 pixels (the 3 x 3 opening's erosion and dilation), zeros
    beyond the map's edges (not intertidal, as the numpy function counts them): the same
    bits whatever the chunks."""
    import dask.array as da

    if not isinstance(n_clear, da.Array) and not isinstance(n_wet, da.Array):
        return intertidal_zone(np.asarray(n_wet), np.asarray(n_clear), views)
    n_clear = da.asarray(n_clear)
    n_wet = da.asarray(n_wet).rechunk(n_clear.chunks)
    return da.map_overlap(lambda w, c: intertidal_zone(w, c, views), n_wet, n_clear,
                          depth=2, boundary=0, dtype=bool, trim=True,
                          allow_rechunk=True).rechunk(n_clear.chunks)


def never_clear(n_clear, n_wet, views: int, inside=None) -> tuple[np.ndarray, bool]:
    """int64 ascending flat indices of the pixels with no clear view of a 2-d ``n_clear``,
    and whether the window's own counts give an intertidal zone inside the site
    (:func:`window_has_context`): numpy or dask, then in one pass, each block giving its
    own, nothing whole-site assembled."""
    if isinstance(n_clear, np.ndarray):
        return (np.flatnonzero(n_clear == 0).astype(np.int64),
                window_has_context(n_wet, n_clear, views, inside))
    import dask.array as da

    width = n_clear.shape[1]

    def where(clear, zone=None, block_info=None):
        (r0, _), (c0, _) = block_info[0]["array-location"]
        r, c = np.nonzero(np.asarray(clear) == 0)
        out = np.empty((1, 1), object)
        out[0, 0] = ((r + r0).astype(np.int64) * width + (c + c0),
                     zone is not None and bool(np.asarray(zone).any()))
        return out

    args = (n_clear,)
    if n_wet is not None:
        zone = tidal_zone(n_wet, n_clear, views)
        if inside is not None:
            zone = zone & da.from_array(np.asarray(inside, bool), chunks=n_clear.chunks)
        args = (n_clear, zone)
    parts = da.map_blocks(where, *args, dtype=object,
                          chunks=tuple((1,) * n for n in n_clear.numblocks),
                          meta=np.empty((0, 0), object))
    (got,) = dask.compute(parts)
    got = list(got.ravel())
    flat = np.concatenate([p[0] for p in got] + [np.zeros(0, np.int64)])
    return np.sort(flat), any(p[1] for p in got)


