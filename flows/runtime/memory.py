"""This process's memory: give pages back to the system once their data is written.

Used by the site walks (a large site's maps on file mappings, dask's freed chunks) and by the
map writer; nothing here changes a value.
"""

from __future__ import annotations

import numpy as np

__all__ = ["limit_arenas", "release_pages", "trim_memory"]


def release_pages(array: np.ndarray) -> None:
    """Unmap the pages of ``array`` if it lies in a file mapping (the maps of a large site,
    :func:`flows.site.site_tables`): its content stays in the file (and the page cache),
    but no longer counts as this process's memory until read again. Nothing otherwise."""
    import mmap

    mapping, owner = None, array
    while mapping is None and owner is not None:  # np.memmap, or a plain view of one
        mapping = getattr(owner, "_mmap", None)
        owner = getattr(owner, "base", None)
    if mapping is None or not array.size:
        return
    origin = np.frombuffer(mapping, np.uint8).__array_interface__["data"][0]
    start = array.__array_interface__["data"][0] - origin
    end = start + array.nbytes  # the span of a contiguous view (rows of a map)
    first = start - start % mmap.PAGESIZE
    length = min(end - first, mapping.size() - first)
    if first >= 0 and length > 0:
        mapping.madvise(mmap.MADV_DONTNEED, first, length)


def _libc(name: str):
    """glibc's function ``name`` (ctypes), None on another C library; looked up once."""
    if name not in _LIBC:
        import ctypes

        try:
            _LIBC[name] = getattr(ctypes.CDLL("libc.so.6"), name)
        except (OSError, AttributeError):
            _LIBC[name] = None
    return _LIBC[name]


_LIBC: dict = {}


def trim_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``, as
    dask.distributed's workers do; nothing elsewhere). Dask's threads free chunk-sized
    blocks in several arenas, which otherwise stay in the process: ~5 B a pixel more per pass
    over a large site, measured."""
    trim = _libc("malloc_trim")
    if trim is not None:
        trim(0)


MALLOC_ARENAS = 2
"""glibc heaps of a run's process (``M_ARENA_MAX``; glibc's default is 8 a core). Each thread
that allocates (the flow's, dask's workers, the walk's helper) otherwise gets a heap of its
own, and the blocks one thread frees cannot serve another's: at 2000² x 24 the walk's floor was
0.87 GiB and its peak 1.12-1.17 GiB with the default, 0.74-0.75 and 1.07-1.08 GiB with 2 (1:
the same), in about the same CPU time (issue 22's fourth pass, ``benchmarks/README.md``;
``MALLOC_ARENA_MAX=2`` measured likewise on the tile, item 8 there)."""


def limit_arenas(n: int = MALLOC_ARENAS) -> None:
    """Cap glibc's heaps (arenas) at ``n`` for the threads that allocate from now on (those
    started later: call it before dask's pool exists). Nothing on another C library, or
    when ``MALLOC_ARENA_MAX`` is set (the user's choice)."""
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    mallopt = _libc("mallopt")
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, int(n))


_M_ARENA_MAX = -8  # glibc's malloc.h
