"""The habitat tests of the observation table, as source of its fused reduce kernel.

:func:`indices.summary.scene_statistics` counts each scene's habitat pixels inside one
generated kernel per chunk (:func:`indices.sums.reduce_dn`): this module writes that kernel's
habitat test from the site's rule, the same comparisons as :func:`indices.habitat.habitat_score`
``> 0`` in float32 (``tests/test_indices_sums.py`` checks them against it), with the site's
fitted values (its water, its discriminant axis) as run-time constants.
"""

from __future__ import annotations

import xarray as xr

from indices._kernels import membership
from indices.habitat import RULES, MangroveRule, SeagrassRule
from indices.mangrove_axis import AXIS_BANDS, AXIS_PARAMETERS, FLOOR
from indices.masks import CLOUD_SCL
from indices.spectral import SYMBOLS

__all__ = ["MANGROVE_CONSTANTS", "SEAGRASS_CONSTANTS", "axis_constants", "reads_axis",
           "statistics_counts"]


def statistics_counts(symbols: list[str], habitat: str, *, rule=None, gated: bool = False
                      ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(prelude, counts, constants)`` of :func:`scene_statistics`' reduce kernel for a cube
    with band ``symbols``: clear pixels, cloud pixels and habitat pixels inside the site
    (``gated``: and in the context, bit 2 of the kernel's site value). A seagrass test reads
    the site's water as the run-time ``constants``, named as in
    :func:`indices.habitat.seagrass_constants`."""
    rule = rule or RULES[habitat]
    prelude, habitat_test, needs = _habitat_test(rule)
    if gated:  # mangrove_score with context levels: the spectral test on connected canopy,
        # NDVI alone on the tidal flat, the spectral test on tidal ground, neither under the
        # tide (mangrove_rule.flat_score and tidal_score: a raised score keeps its sign)
        dry = "((ok_ndwi & (v_ndwi > ZERO)) != True)"
        habitat_test = (f"(({habitat_test}) & ((site & np.uint8(2)) != 0)) | (ok_ndvi & "
                        f"(v_ndvi > f32({float(rule.ndvi_min)!r})) "
                        f"& {dry} & ((site & np.uint8(4)) != 0)) "
                        f"| (({habitat_test}) & {dry} & ((site & np.uint8(8)) != 0))")
    missing = [SYMBOLS[s] for s in needs if s not in symbols]
    if missing:
        raise ValueError(f"{habitat} habitat needs bands {missing} "
                         f"(cube has {sorted(SYMBOLS[s] for s in symbols)})")
    clear = " & ".join(["mi"] + [f"(d_{s} != 0)" for s in symbols])
    cloud = f"inside & ({membership('sv', CLOUD_SCL)})"
    constants = {"seagrass": SEAGRASS_CONSTANTS, "mangrove": MANGROVE_CONSTANTS}[habitat]
    if reads_axis(rule):
        constants = MANGROVE_CONSTANTS + AXIS_PARAMETERS
    return prelude, (clear, cloud, habitat_test), constants


MANGROVE_CONSTANTS = ("mvi_min", "ndvi_half")
"""The mangrove test's run-time constants (:func:`indices.habitat.mangrove_spectral_score`);
a rule that reads the site's discriminant axis adds
:data:`indices.mangrove_axis.AXIS_PARAMETERS`, float64."""
SEAGRASS_CONSTANTS = ("nir_ref", "glint_blue", "glint_green", "deep_blue", "deep_green",
                      "k_ratio", "dii_sand", "noise_b", "noise_g", "detect", "has_sand",
                      "threshold")
"""The seagrass test's run-time constants, in the kernel's order."""


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

    if isinstance(rule, MangroveRule):  # MVI above the threshold (or the site's axis), or the
        # canopy's NDVI where water brings SWIR1 to green (MVI above mvi_max)
        prelude, mvi_test = _mvi_test(rule)
        return (prelude, f"ok_ndvi & ok_mvi & (v_ndvi > {f(rule.ndvi_min)}) "
                         f"& (((v_mvi > {f(rule.mvi_max)}) & (v_ndvi > c_ndvi_half)) "
                         f"| ((v_mvi <= {f(rule.mvi_max)}) & {mvi_test}))",
                ("R", "N", "G", "S1"))
    if isinstance(rule, SeagrassRule):  # seagrass_score, with the site's water as c_*
        prelude = (
            "h_excess0 = N - c_nir_ref",
            f"h_excess = h_excess0 if h_excess0 > {f(rule.glint_min)} else ZERO",
            "h_b = (B - c_glint_blue * h_excess) - c_deep_blue",
            "h_g = (G - c_glint_green * h_excess) - c_deep_green",
            f"h_seen = h_g > {f(rule.min_bottom_signal)}",
            f"h_bf = h_b if h_b > {f(rule.min_bottom_signal)} else {f(rule.min_bottom_signal)}",
            "h_lg = np.log(h_g)",
            "h_off = (np.log(h_bf) - c_k_ratio * h_lg) - c_dii_sand",
            "h_line = np.exp(c_threshold) * np.exp(c_dii_sand + c_k_ratio * h_lg)",
            "h_sig = np.sqrt(c_noise_b ** 2 + (h_line * c_noise_g / h_g) ** 2)",
        )
        test = (f"ok_ndwi & (v_ndwi > {f(rule.water_ndwi_min)}) "
                f"& ((v_ndvi < {f(rule.water_ndvi_max)}) | (ok_ndvi != True) "
                f"| (N < {f(rule.water_veg_nir)})) "
                f"& (d_B != 0) & h_seen "
                f"& (c_k_ratio * h_g >= c_detect * c_noise_g) "
                f"& (abs(h_b - h_line) >= c_detect * h_sig) "
                f"& (c_k_ratio <= {f(rule.max_k_ratio)}) "
                f"& (c_has_sand != ZERO) & (h_off < c_threshold)")
        return prelude, test, ("B", "G", "R", "N")
    raise ValueError(f"no in-kernel habitat test for {type(rule).__name__}")


def reads_axis(rule) -> bool:
    """:attr:`indices.mangrove_rule.MangroveRule.reads_axis` of a mangrove ``rule``; False for
    any other."""
    return isinstance(rule, MangroveRule) and rule.reads_axis


def axis_constants(params: xr.DataArray | None) -> dict:
    """The axis's run-time constants (:data:`indices.mangrove_axis.AXIS_PARAMETERS`) of a
    site's parameters, lazy or not; ``axis_used`` 0 without them (the score then reads the
    MVI, :func:`indices.habitat.mangrove_spectral_score`)."""
    if params is None or "axis_used" not in params["parameter"]:
        return dict.fromkeys(AXIS_PARAMETERS, 0.0)
    return {k: params.sel(parameter=k) for k in AXIS_PARAMETERS}


def _mvi_test(rule) -> tuple[tuple[str, ...], str]:
    """``(statements, test)``: the MVI term's sign of :func:`indices.habitat.mangrove_spectral_score`
    below ``mvi_max``. Under a rule that reads the axis, where the site's ``axis_used`` is 1
    (:func:`indices.mangrove_rule._axis_term`): ``z`` above the boundary and MVI above
    ``mvi_floor``, ``z`` computed as :func:`indices.mangrove_axis.axis_value` does (float64
    logs of the float32 reflectances floored at ``FLOOR``, summed in the same order; the
    score's ``(z - boundary) / axis_tolerance`` cast to float32 is positive exactly when
    ``z > boundary``). The branch is the same for every pixel of a site: a kernel is
    compiled for each value of ``axis_used`` (``reduce_dn(..., switch=...)``), the branch
    folded away, so that where it is 0 the pixel loop is the MVI threshold's, vectorised."""
    if not reads_axis(rule):
        return (), "(v_mvi > c_mvi_min)"
    symbol = {band: s for s, band in SYMBOLS.items()}
    terms = " + ".join(f"np.log(max(np.float64({symbol[b]}), {FLOOR!r})) * c_{k}"
                       for b, k in zip(AXIS_BANDS, AXIS_PARAMETERS, strict=False))
    return (
        "if c_axis_used == 1.0:",
        f"    h_z = {terms} + c_axis_offset",
        f"    h_mvi = (h_z > c_axis_boundary) & (v_mvi > f32({float(rule.mvi_floor)!r}))",
        "else:",
        "    h_mvi = v_mvi > c_mvi_min",
    ), "h_mvi"
