"""The strips walk's parts that know nothing of habitats (:mod:`indices.strips`): a map's
patch sizes from its strips, float maps spilled to a temporary file between passes, and
exact order statistics of values given in pieces.

* :class:`Patches`: 8-connected patches labelled strip by strip, the labels that touch across
  a strip edge joined (a graph of the edge pairs,
  :func:`scipy.sparse.csgraph.connected_components`), so every pixel knows the size of its
  whole patch;
* :class:`Spill`: maps in an unlinked temporary file, read and written with ``pread`` and
  ``pwrite`` (file pages are not this process's memory);
* :func:`order_statistics_of` and :func:`medians_of`: order statistics found with two
  histogram passes over the pieces (16 bits each of order-preserving keys), not a copy of
  every selected value.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

from indices.patches import EIGHT_CONNECTED

__all__ = ["Patches", "Spill", "medians_of", "order_statistics", "order_statistics_of"]


class Patches:
    """The sizes of the 8-connected patches of a boolean map given strip by strip.

    :meth:`add` labels each strip (in row order); :meth:`finish` joins the labels touching
    across strip edges and gives every label the size of its whole patch; :meth:`sizes` then
    gives a strip's pixels their patch's size when it is labelled again. Memory: a strip's
    labels, two rows of labels per strip and a few bytes per label."""

    def __init__(self) -> None:
        self.offsets, self.first, self.last, self._sizes = [0], [], [], []
        self.size_of: np.ndarray | None = None

    def add(self, mask: np.ndarray) -> None:
        labels, n = ndimage.label(mask, structure=EIGHT_CONNECTED)
        self._sizes.append(np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64))
        self.first.append(labels[0].copy())
        self.last.append(labels[-1].copy())
        self.offsets.append(self.offsets[-1] + n)

    def finish(self) -> None:
        n = self.offsets[-1]
        a, b = [], []
        for k in range(len(self.first) - 1):
            lower, upper = self.last[k], self.first[k + 1]
            for dx in (-1, 0, 1):  # (x in the strip above) touches x + dx below
                lo = lower[max(0, -dx):lower.size - max(0, dx)]
                up = upper[max(0, dx):upper.size - max(0, -dx)]
                ok = (lo > 0) & (up > 0)
                a.append(lo[ok] - 1 + self.offsets[k])
                b.append(up[ok] - 1 + self.offsets[k + 1])
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, np.int64)
        self._sizes = []
        if n and a and sum(x.size for x in a):
            i, j = np.concatenate(a), np.concatenate(b)
            graph = sparse.coo_matrix((np.ones(i.size, np.int8), (i, j)), shape=(n, n))
            _, patch = connected_components(graph, directed=False)
            self.size_of = np.bincount(patch, weights=sizes).astype(np.int64)[patch]
        else:
            self.size_of = sizes

    def sizes(self, k: int, labels: np.ndarray) -> np.ndarray:
        """Patch size of each pixel of strip ``k`` (0 outside patches) from its labels."""
        table = np.concatenate([[0], self.size_of[self.offsets[k]:self.offsets[k + 1]]])
        return table[labels]

    def first_row_sizes(self, k: int) -> np.ndarray:
        return self.sizes(k, self.first[k])


class Spill:
    """Float maps in an unlinked temporary file, read and written by rows (``pread`` and
    ``pwrite``: the pages are the kernel's page cache, not this process's memory)."""

    def __init__(self, shape: tuple[int, int], dtypes: tuple) -> None:
        self.shape, self.dtypes = shape, [np.dtype(d) for d in dtypes]
        self.starts = np.cumsum([0] + [shape[0] * shape[1] * d.itemsize for d in self.dtypes])
        self.file = tempfile.TemporaryFile(prefix="bluecarbon-strips-")

    def _offset(self, j: int, row: int) -> int:
        return int(self.starts[j]) + row * self.shape[1] * self.dtypes[j].itemsize

    def write(self, j: int, row: int, values: np.ndarray) -> None:
        data = np.ascontiguousarray(values, self.dtypes[j])
        view, offset = memoryview(data).cast("B"), self._offset(j, row)
        while view.nbytes:
            n = os.pwrite(self.file.fileno(), view, offset)
            view, offset = view[n:], offset + n

    def read(self, j: int, rows: slice) -> np.ndarray:
        out = np.empty((rows.stop - rows.start, self.shape[1]), self.dtypes[j])
        view, offset = memoryview(out).cast("B"), self._offset(j, rows.start)
        while view.nbytes:
            n = os.preadv(self.file.fileno(), [view], offset)
            if not n:
                raise EOFError("strip spill file ended early")
            view, offset = view[n:], offset + n
        return out

    def close(self) -> None:
        self.file.close()


def order_statistics(values: Callable[[], Iterable[np.ndarray]], ranks: list[int]) -> list:
    """The ``ranks``-th smallest (0-based) of float32 values given in pieces, exactly, without
    holding them: a histogram of the high 16 bits of their order-preserving integer keys finds
    each rank's bin, a second over that bin's low 16 bits the value. ``values()`` yields the
    pieces anew for each pass (two passes). NaN must not be among them."""
    return order_statistics_of(lambda: ((v,) for v in values()), lambda counts: [ranks],
                               sets=1)[1][0]


def order_statistics_of(pieces: Callable[[], Iterable[tuple[np.ndarray, ...]]],
                        ranks: Callable[[list[int]], list[list[int]]], *, sets: int
                        ) -> tuple[list[int], list[list]]:
    """:func:`order_statistics` of ``sets`` sets of values in the same two passes:
    ``pieces()`` yields a tuple of pieces, one of each set; ``ranks(counts)`` gives each set's
    ranks once the first pass has counted its values. ``(counts, values at the ranks)``."""
    hists = [np.zeros(65536, np.int64) for _ in range(sets)]
    for part in pieces():
        for h, v in zip(hists, part, strict=True):
            h += np.bincount((_keys(v) >> np.uint32(16)).astype(np.int64), minlength=65536)
    cums = [np.cumsum(h) for h in hists]
    counts = [int(c[-1]) for c in cums]
    wanted = ranks(counts)
    bins = [[int(np.searchsorted(c, r, side="right")) for r in rs]
            for c, rs in zip(cums, wanted, strict=True)]
    lows = [{b: np.zeros(65536, np.int64) for b in set(bs)} for bs in bins]
    if any(bins):
        for part in pieces():
            for low, v in zip(lows, part, strict=True):
                if not low:
                    continue
                keys = _keys(v)
                high = keys >> np.uint32(16)
                for b, h in low.items():
                    h += np.bincount((keys[high == b] & np.uint32(0xFFFF)).astype(np.int64),
                                     minlength=65536)
    out = []
    for cum, rs, bs, low in zip(cums, wanted, bins, lows, strict=True):
        found = []
        for r, b in zip(rs, bs, strict=True):
            before = int(cum[b - 1]) if b else 0
            lo = int(np.searchsorted(np.cumsum(low[b]), r - before, side="right"))
            found.append(_from_key(np.uint32((b << 16) | lo)))
        out.append(found)
    return counts, out


def medians_of(pieces: Callable[[], Iterable[tuple[np.ndarray, ...]]], *, sets: int
               ) -> tuple[list[int], list[float]]:
    """``np.median`` of each of ``sets`` sets of values given in pieces, exactly (the mean of
    the two middle ones; NaN for an empty set), by :func:`order_statistics_of` in its two
    passes: ``(counts, medians)``."""
    counts, found = order_statistics_of(
        pieces, lambda counts: [[n // 2] if n % 2 else [n // 2 - 1, n // 2] if n else []
                                for n in counts], sets=sets)
    return counts, [float(np.median(np.array(f, np.float32))) if f else np.nan for f in found]


def _keys(values: np.ndarray) -> np.ndarray:
    """Order-preserving uint32 keys of float32 values (negatives' bits flipped)."""
    u = np.ascontiguousarray(values, np.float32).view(np.uint32)
    return np.where(u & np.uint32(0x80000000), ~u, u | np.uint32(0x80000000))


def _from_key(key: np.uint32) -> np.float32:
    u = key ^ np.uint32(0x80000000) if key & np.uint32(0x80000000) else ~key
    return np.array([u], np.uint32).view(np.float32)[0]
