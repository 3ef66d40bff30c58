"""Per-site aggregates of a scene cube: the numbers the Parquet tables hold, still lazy.

``scene_statistics`` gives one value per scene (the ``observations`` table), ``monthly_change``
one row per month (the ``change`` table). Both reduce inside the site polygon only, and both
return lazy datasets: the flow computes them together, once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import xarray as xr

from indices._kernels import membership
from indices.canopy import canopy_metrics
from indices.change import change_metrics
from indices.composite import composite, monthly_composite
from indices.habitat import RULES, MangroveRule, SeagrassRule, habitat_score, turbid_scenes
from indices.masks import BANDS, CLOUD_SCL
from indices.spectral import SYMBOLS, compute_indices, reduce_dn, table_columns

__all__ = ["scene_statistics", "monthly_change", "OBSERVATION_INDICES"]

OBSERVATION_INDICES = ("ndvi", "ndwi", "mndwi", "mvi")


def scene_statistics(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str,
                     *, pixel_area_ha: float) -> xr.Dataset:
    """Per scene: valid and cloud fractions of the site, index means, habitat area (ha).

    Everything is reduced inside one fused kernel per chunk (:func:`indices.spectral.reduce_dn`)
    that reads each DN once and returns per-scene sums and counts: no full-resolution layer
    (mask, index, score) is materialised, so memory stays at the chunks being read whatever
    the number of scenes, and a chunk costs about what reading it costs.

    The numbers are those of the array expressions they replace, with the site mask:
    ``clear_mask(cube).sum() / n_site``, ``cloud_mask(cube).sum() / n_site``, the means of
    :func:`compute_indices` (sums of the same float32 values, to ~1e-7; see
    :func:`indices.spectral.index_sums`) and
    ``(habitat_score(scene_reflectance(cube), habitat) > 0).sum() * pixel_area_ha``, the
    score's sign evaluated per pixel with the same float32 arithmetic (see
    :func:`_habitat_test`).
    """
    rule = RULES.get(habitat)
    if rule is None:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULES)}")
    if "SCL" not in cube.data_vars:
        raise ValueError("cube has no SCL variable")
    present = [b for b in BANDS if b in cube.data_vars]
    symbols = [s for s, b in SYMBOLS.items() if b in present]
    prelude, counts = statistics_counts(symbols, habitat)
    table, ordered = reduce_dn(cube, OBSERVATION_INDICES, where=site_mask,
                               extra_symbols=symbols, prelude=prelude, counts=counts)
    n_site = site_mask.sum()
    k = 2 * len(ordered)
    coords = {c: v for c, v in cube.coords.items() if v.dims == ("time",)}
    columns = [xr.DataArray(values, dims="time", coords=coords)
               for values in table_columns(table, [(j, np.float64) for j in range(k + 3)])]
    stats = {"valid_fraction": columns[k] / n_site, "cloud_fraction": columns[k + 1] / n_site}
    for name in OBSERVATION_INDICES:
        i = ordered.index(name)
        total, count = columns[2 * i], columns[2 * i + 1]
        stats[f"{name}_mean"] = (total / count).where(count > 0)
    stats["habitat_area_ha"] = columns[k + 2] * pixel_area_ha
    return xr.Dataset(stats)


def statistics_counts(symbols: list[str], habitat: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(prelude, counts)`` of :func:`scene_statistics`' reduce kernel for a cube with band
    ``symbols``: clear pixels, cloud pixels and habitat pixels inside the site."""
    prelude, habitat_test, needs = _habitat_test(RULES[habitat])
    missing = [SYMBOLS[s] for s in needs if s not in symbols]
    if missing:
        raise ValueError(f"{habitat} habitat needs bands {missing} "
                         f"(cube has {sorted(SYMBOLS[s] for s in symbols)})")
    clear = " & ".join(["mi"] + [f"(d_{s} != 0)" for s in symbols])
    cloud = f"inside & ({membership('sv', CLOUD_SCL)})"
    return prelude, (clear, cloud, habitat_test)


def _habitat_test(rule) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """``(per-pixel statements, test, band symbols needed)``: the kernel source of
    ``habitat_score(...) > 0`` for ``rule`` (:mod:`indices.habitat`), inside the site.

    A score is a difference to a threshold divided by a positive tolerance, so its sign is
    the comparison with the threshold: ``(ndvi - 0.5) / 0.08 > 0`` exactly when
    ``ndvi > float32(0.5)`` (a nonzero float difference never rounds to 0 or changes sign).
    Constants are float32, as numpy's weak Python scalars make them in the array code.
    """
    def f(value: float) -> str:
        return f"f32({float(value)!r})"

    if isinstance(rule, MangroveRule):
        return ((), f"ok_ndvi & ok_mvi & (v_ndvi > {f(rule.ndvi_min)}) "
                    f"& (v_mvi > {f(rule.mvi_min)})", ("R", "N", "G", "S1"))
    if isinstance(rule, SeagrassRule):
        blue_deep, green_deep, nir_deep = rule.deep_water
        prelude = (
            f"h_excess = N - {f(nir_deep)}",
            f"h_glint = h_excess if h_excess > {f(rule.glint_min)} else ZERO",
            f"h_blue = B - h_glint - {f(blue_deep)}",
            f"h_green = G - h_glint - {f(green_deep)}",
            f"h_visible = (h_blue > {f(rule.min_bottom_signal)}) "
            f"& (h_green > {f(rule.min_bottom_signal)})",
            f"h_dii = np.log(h_blue) - {f(rule.k_ratio)} * np.log(h_green)",
        )
        test = (f"ok_ndwi & (v_ndwi > {f(rule.water_ndwi_min)}) & (d_B != 0) & h_visible "
                f"& (h_dii < {f(rule.dii_max)})")
        return prelude, test, ("B", "G", "N")
    raise ValueError(f"no in-kernel habitat test for {type(rule).__name__}")


def monthly_change(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str, *,
                   baseline: tuple[dt.date, dt.date], pixel_area_ha: float,
                   mmu_ha: float = 0.1) -> xr.Dataset:
    """Per calendar month: extent, gain, loss, net change and interval against the baseline."""
    if habitat == "seagrass":
        # the bottom is not seen through a sediment plume: drop turbid scenes' water from the
        # composites as if it were defective (SCL 1), and flag months that were mostly turbid
        turbid, water = turbid_scenes(cube)
        cube = cube.assign(SCL=cube["SCL"].where(~((turbid > 0) & water), np.uint8(1)))
    months = monthly_composite(cube)
    scores = habitat_score(months, habitat)
    base = composite(cube, *baseline)
    base_score = habitat_score(base, habitat)
    if habitat == "seagrass":
        month_of = xr.DataArray(turbid["time"].values.astype("datetime64[M]")
                                .astype("datetime64[ns]"), dims="time", name="period")
        share = turbid.groupby(month_of).mean(skipna=True)
        turbid_month = (share >= 0.5).reindex(period=months["period"].values, fill_value=False)
        # a month mostly under a plume says nothing reliable about the bottom, even in the
        # scenes too cloudy to be judged turbid themselves: carry the last classes forward
        scores = scores.where(~turbid_month)
    else:
        turbid_month = xr.zeros_like(months["period"], dtype=bool)
    table = change_metrics(scores, base_score, site_mask, pixel_area_ha=pixel_area_ha,
                           mmu_ha=mmu_ha)
    table["baseline_observed_fraction"] = (base_score.notnull() & site_mask).sum() / site_mask.sum()
    ix_names = ["ndvi", "ndwi"]
    canopy = canopy_metrics(scores, months, compute_indices(months, ix_names), base_score, base,
                            compute_indices(base, ix_names), site_mask, habitat=habitat,
                            pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha)
    table = table.merge(canopy)
    table["turbid"] = turbid_month.astype(np.float64).drop_vars(
        [c for c in turbid_month.coords if c != "period"])
    return table.astype({k: np.float64 for k in table.data_vars})
