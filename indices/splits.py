"""Two-class splits of a histogram, shared by a mangrove site's MVI threshold
(:func:`indices.mangrove.scene_threshold`) and its discriminant axis's boundary
(:func:`indices.mangrove_axis.axis_split`): the same steps on different log-binned values.

* :func:`bayes_split`: the shore canopy's distribution, scaled to the vegetation above its
  median (where vegetation is mangrove), against the rest; the boundary is the first bin,
  walking down from the median, where the rest is the more frequent (Bayes' boundary with the
  site's own class frequencies; :mod:`indices.mangrove` module doc).
* :func:`otsu_split`: Otsu's threshold of a histogram.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SMOOTH", "bayes_split", "otsu_split"]

SMOOTH = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0
"""Smoothing of the histograms before their densities are compared (+-2 bins, +-3 % of
MVI's range)."""


def bayes_split(shore: np.ndarray, vegetation: np.ndarray, median: int) -> tuple[int, np.ndarray]:
    """``(bin, shape)``: Bayes' boundary bin of the shore canopy's histogram ``shore`` within
    the vegetation's ``vegetation`` (same bins), walking down from ``median`` (the shore
    canopy's median bin), and the shore canopy's normalised histogram ``shape`` (its share
    above a bin ``i`` is ``shape[i:].sum()``). Histograms smoothed by :data:`SMOOTH`."""
    shape = shore / shore.sum()
    scale = vegetation[median:].sum() / shape[median:].sum()  # the mangrove in all vegetation
    mangrove = np.convolve(scale * shape, SMOOTH, mode="same")
    rest = np.convolve(np.maximum(vegetation - scale * shape, 0.0), SMOOTH, mode="same")
    bayes = median
    while bayes > 0 and mangrove[bayes - 1] > rest[bayes - 1]:
        bayes -= 1
    return bayes, shape


def otsu_split(counts: np.ndarray) -> int | None:
    """Otsu's threshold of a histogram (Otsu 1979, IEEE Trans. Syst. Man Cybern.
    9:62-66): the split of its bins into two classes of largest between-class variance
    ``w0 w1 (mu0 - mu1)²``, over the bins' indices (log bins: the split of the log value).
    Returns the index of the upper class's first bin (1..len-1); None for a histogram with
    fewer than two occupied bins (no split)."""
    counts = np.asarray(counts, np.float64)
    w0 = np.cumsum(counts)[:-1]
    total = counts.sum()
    w1 = total - w0
    first = np.cumsum(counts * np.arange(counts.size))[:-1]
    ok = (w0 > 0) & (w1 > 0)
    between = np.zeros(w0.size)
    mu0 = first[ok] / w0[ok]
    mu1 = (np.dot(counts, np.arange(counts.size)) - first[ok]) / w1[ok]
    between[ok] = w0[ok] * w1[ok] * (mu0 - mu1) ** 2
    if not (between > 0).any():
        return None
    return int(np.argmax(between)) + 1
