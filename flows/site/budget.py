"""How much memory a site's month walk needs, how much it may take, and which walk fits.

The estimates are measured (``tests/test_memory.py`` checks them against peak RSS), on the safe
side; the budget is ``BLUECARBON_MEMORY_GB`` or what this machine (or the smallest dask
worker) has available.
"""

from __future__ import annotations

from aoi import Site
from flows.site.plan import month_start
from flows.sources import SceneRef
from indices.seagrass_place import PLACE_BYTES_PER_PIXEL

__all__ = ["FILL_BUILD_BYTES_PER_PIXEL", "WALKS", "SiteTooLarge", "choose_walk",
           "fill_pixels", "memory_budget", "once_memory", "place_memory", "stream_memory",
           "strips_memory", "walk_memory"]


WALK_BYTES_PER_PIXEL_MONTH = 48
"""Peak memory of the monthly change walk of :func:`site_tables` with every month in memory
(``walk="memory"``) per site-grid pixel and month, measured with the flow's products (alerts
and maps): ~38 B (``tests/test_memory.py``; ~70 B before the walk ran once in this process
instead of three dask tasks on single-chunk copies)."""
WALK_BYTES_PER_PIXEL = 128
"""Its fixed part per pixel (baseline composites, masks, walk state: ~110 B measured)."""
STREAM_BYTES_PER_PIXEL = 160
"""The same for the walk month by month (``walk="stream"``): one month's maps, the walk's
state and the baseline's maps (~110 B measured, ``tests/test_memory.py``)."""
STRIPS_BYTES_PER_PIXEL = 6
"""The walk month by month in row strips (``walk="strips"``), per pixel of the site: the
walk's bits (3-5 B, :mod:`indices.strips`) and the site mask. Nothing per month: the alerts
keep their flagged pixels only and the maps' pages are released as they are written."""
STRIPS_BYTES_PER_STRIP_PIXEL = 70
"""Its part per pixel of a strip (the cube's chunk rows, or the source's requests): the
strip's layers, the composites being computed and the strip's temporaries.
``tests/test_memory.py``'s 1026² x 11 months (one strip): +96 to +111 MiB at 6034e97; rules
v12-v13 took it to +197 to +217 MiB (session 33, when this was raised to 110): the baseline
pass computed rule v12's ends (``MonthlyInputs.base_ends``, of the computed context) in the
one ``dask.compute`` with the composites and the alerts, and dask's order then held more of
the scenes' blocks at once (the pass's traced peak 126 -> 206 MiB). With the ends computed
apart (``flows.site.strips._reads_none``; session 34, ``benchmarks/measured/perf34``):
+86 to +160 MiB, median +117, against +150 to +186, median +165, on main (seven runs each,
interleaved, the same hour; traced peak 126 MiB again), so 70 again (estimate 204 MiB)."""
STRIPS_BYTES = 128 * 2**20
"""Its fixed part. Measured (with products, maps not written): a whole tile (10980² x 12
scenes, 1024-row strips) +1.07 GiB over the warmed-up process (2.02 GB peak RSS in all),
5490² +0.64 GiB (the estimates now say 1.53 and 0.66 GiB); since the strips walk dropped
its first inputs and chunked its mask, and the months composite 4 bands (session 26),
1026² x 11 months +90 to +136 MiB in five runs (``tests/test_memory.py``, estimate 207
MiB; 322 with the former 256 MiB and 60 B a strip pixel, which the test found too far
above)."""
STREAM_BYTES_PER_PIXEL_MONTH = 24
"""Its part per month (~17 B measured): the alerts' monthly reference composites, and the
maps' pages in their temporary files; nothing without products."""


ONCE_BYTES_PER_PIXEL = 200
"""Peak memory of the one-pass walk (``walk="once"``, :mod:`flows.site.onepass`) per site
pixel, with products: the baseline's maps, the walk's and the alerts' state, a year of the
monitored pixels' NDVI, and two batches of months (one walked, one read). Measured: 175 B
(2004² x 23 months and 1026² x 11, with :data:`ONCE_BYTES`); nothing per month beyond."""
ONCE_BYTES = 384 * 2**20
"""Its fixed part (measured ~330 MiB over the warmed-up process): dask's chunks in flight,
a batch's composites and reads, the threads' heaps."""


def place_memory(site: Site, n_pixels: int) -> int:
    """Bytes a seagrass site's place map holds through its walk (rule v6, ``place_test``:
    :data:`indices.seagrass_place.PLACE_BYTES_PER_PIXEL`, 8 B a pixel, 0.9 GiB on a 10980²
    tile; on the safe side, an empty map holds none); 0 for mangrove, or a rule without."""
    from indices.habitat import RULES

    rule = RULES.get(site.habitat)
    return n_pixels * PLACE_BYTES_PER_PIXEL if getattr(rule, "place_test", False) else 0


FILL_BUILD_BYTES_PER_PIXEL = 160
"""Its peak while built, per never-clear pixel (the pixels' indices by block, each month's
values at them): 106-152 B measured at 4.2 and 1.0 Mpx filled (``benchmarks/measured/
mang38``; 134-225 B before the per-pixel Python objects were cut). Above what the fill holds
through the walk once built (its flat index, month and the composite's 8 values: 37 B a
filled pixel measured, ``benchmarks/measured/mang38/fill_memory.jsonl``), so a fill that fits
while built fits through the walk."""


class SiteTooLarge(RuntimeError):
    """A site whose monthly change would not fit in the memory this run may use."""


def walk_memory(n_pixels: int, n_months: int) -> int:
    """Bytes the in-memory monthly change walk of a site needs at its peak (an estimate from
    measurement, on the safe side)."""
    return n_pixels * (WALK_BYTES_PER_PIXEL + WALK_BYTES_PER_PIXEL_MONTH * n_months)


def stream_memory(n_pixels: int, n_months: int) -> int:
    """Bytes the month-by-month walk (with products) needs at its peak."""
    return n_pixels * (STREAM_BYTES_PER_PIXEL + STREAM_BYTES_PER_PIXEL_MONTH * n_months)


def once_memory(n_pixels: int) -> int:
    """Bytes the one-pass walk (with products) needs at its peak, whatever the months."""
    return n_pixels * ONCE_BYTES_PER_PIXEL + ONCE_BYTES


def strips_memory(n_pixels: int, n_months: int, *, strip_pixels: int, products: bool) -> int:
    """Bytes the month-by-month walk in row strips needs at its peak: the carried bits and a
    strip of every layer, whatever the number of months, with products or not."""
    del n_months, products  # measured: neither moves it (see STRIPS_BYTES)
    return (n_pixels * STRIPS_BYTES_PER_PIXEL + strip_pixels * STRIPS_BYTES_PER_STRIP_PIXEL
            + STRIPS_BYTES)


def memory_budget(*, here: bool = False, share: int = 1) -> int:
    """Bytes a site's computation may take: ``BLUECARBON_MEMORY_GB`` if set (a site's
    budget, whatever else runs), else the smallest worker's memory limit on a
    dask.distributed cluster (``here``: this process's machine, where the month walk runs),
    else 90 % of the memory available on this machine now; either of the last two divided by
    ``share``, the sites computed at once, so that two sites do not each count on all of
    it."""
    import os
    import sys

    configured = os.environ.get("BLUECARBON_MEMORY_GB")
    if configured:
        return int(float(configured) * 2**30)
    share = max(int(share), 1)
    if not here and "distributed" in sys.modules:  # a client needs it imported: else none
        try:
            from distributed import default_client

            limits = [w.get("memory_limit") or 0 for w in
                      default_client().scheduler_info()["workers"].values()]
            if limits and min(limits) > 0:
                return int(min(limits)) // share
        except (ImportError, ValueError):  # no cluster: this machine
            pass
    return int(0.9 * available_memory()) // share


def available_memory() -> int:
    """Bytes of memory available on this machine now (psutil)."""
    import psutil

    return int(psutil.virtual_memory().available)


WALKS = ("auto", "memory", "stream", "strips", "once")


def fill_pixels(site: Site, grid, scenes: list[SceneRef], walk: str, *, chunks: int | None,
                products: bool, share: int = 1) -> int:
    """The most never-clear baseline pixels a mangrove site may fill (:mod:`indices.bap`):
    what :func:`memory_budget` leaves beside the walk's own estimate (``walk``, as
    :func:`choose_walk` chose it), at :data:`FILL_BUILD_BYTES_PER_PIXEL`. The count is known
    only once the baseline is composited, after the walk is chosen, so the fill is bounded
    rather than chosen for: beyond it, the site fails for this run with one line
    (:class:`SiteTooLarge`, :func:`flows.site.evidence.site_evidence_of`), no rows written;
    never a fill skipped (the baseline would depend on the machine's memory)."""
    need = _walk_need(walk, grid, scenes, chunks=chunks, products=products)
    return max(_site_budget(share) - need, 0) // FILL_BUILD_BYTES_PER_PIXEL


def _site_budget(share: int) -> int:
    """What a site's walk may take: the walk runs in this process, and on a cluster a worker
    assembles each result array (:func:`memory_budget` of both)."""
    return min(memory_budget(share=share), memory_budget(here=True, share=share))


def _walk_need(walk: str, grid, scenes: list[SceneRef], *, chunks: int | None,
               products: bool) -> int:
    """The estimate of ``walk`` (``"once"``, ``"memory"``, ``"stream"`` or ``"strips"``) for
    a site of ``grid`` over ``scenes``' months, without its place map
    (:func:`place_memory`)."""
    n_pixels = grid.width * grid.height
    months = len({month_start(s.datetime.date()) for s in scenes})
    if walk == "once":
        return once_memory(n_pixels)
    if walk == "memory":
        return walk_memory(n_pixels, months)
    if walk == "stream":
        return stream_memory(n_pixels, months)
    return strips_memory(n_pixels, months, products=products,
                         strip_pixels=min(chunks or grid.height, grid.height) * grid.width)


def choose_walk(site: Site, grid, scenes: list[SceneRef], walk: str, *, chunks: int | None,
                products: bool, share: int = 1) -> str:
    """The walk of least memory that costs no time, that fits :func:`memory_budget` (with
    ``share``, the sites computed at once): a mangrove site ``"once"`` (one pass over the
    scenes, month by month, :mod:`flows.site.onepass`: less memory than every month at once,
    and less time); a seagrass site ``"memory"`` (every month at once, one pass over the
    scenes: its plume flags need every scene before any month). Else ``"stream"`` (month by
    month, two passes), else ``"strips"`` (month by month in row strips, three passes), else
    :class:`SiteTooLarge`."""
    if walk != "auto":  # as asked, unchecked (tests, benchmarks)
        return walk
    n_pixels = grid.width * grid.height
    budget = _site_budget(share)
    held = place_memory(site, n_pixels)  # the seagrass place map, through every walk

    def need(name: str) -> int:
        return _walk_need(name, grid, scenes, chunks=chunks, products=products) + held

    if site.habitat == "mangrove" and need("once") <= budget:
        return "once"
    if site.habitat != "mangrove" and need("memory") <= budget:
        return "memory"
    if need("stream") <= budget:
        return "stream"
    strips = need("strips")
    if strips > budget:
        months = len({month_start(s.datetime.date()) for s in scenes})
        raise SiteTooLarge(
            f"the monthly change of {site.id} needs ~{strips / 2**30:.1f} GiB even month by month "
            f"in strips ({months} months of {n_pixels / 1e6:.1f} Mpx) and "
            f"{budget / 2**30:.1f} GiB may be used: run fewer months at a time (--start/--end), "
            f"split the site, or raise BLUECARBON_MEMORY_GB")
    return "strips"
