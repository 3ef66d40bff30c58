"""In-kernel reductions: ``index_sums`` and ``scene_statistics`` equal the array expressions they
replace (counts and habitat areas bitwise, sums within 1e-6 of the sum of the values' magnitudes:
the kernel adds runs of 256 pixels in float32 before float64), on numpy and on dask in any
chunking; and the kernel's pixel loop is vectorised."""

from __future__ import annotations

import datetime as dt
import platform
import warnings

import dask
import numpy as np
import pytest
import xarray as xr
from test_indices import BANDS, UNEVEN, raise_if_dask_computes, random_cube

from aoi import load_sites, site_grid, site_mask
from flows.site import load_range
from flows.sources.demo import DemoSource
from indices import _kernels
from indices._reduce_kernels import reduce_kernel
from indices.composite import composite
from indices.evidence import site_evidence
from indices.habitat import habitat_score, scene_reflectance
from indices.habitat_kernel import statistics_counts
from indices.mangrove_axis import AXIS_PARAMETERS
from indices.masks import VALID_SCL, clear_mask, cloud_mask
from indices.spectral import INDICES, SYMBOLS, compute_indices, kernel_expression
from indices.summary import OBSERVATION_INDICES, scene_statistics
from indices.sums import index_sums

SITES = {s.id: s for s in load_sites()}
SUM_TOLERANCE = 1e-6
"""Of the sum of the magnitudes: float32 runs of 256 values are within ~3e-7 of float64."""
CHUNKINGS = [{"time": 1}, {"time": 2, **UNEVEN}, {"time": 4, "y": 9, "x": 41}]


def random_where(cube: xr.Dataset, seed: int = 5) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return xr.DataArray(rng.random((cube.sizes["y"], cube.sizes["x"])) > 0.35, dims=("y", "x"))


def assert_sums_close(got, want, magnitude, err_msg=""):
    np.testing.assert_array_less(np.abs(np.asarray(got) - want), SUM_TOLERANCE * magnitude + 1e-12,
                                 err_msg=err_msg)


def layer_sums(cube, names, where=None, mask=True):
    """The reference: compute_indices' float32 layers, summed in float64 by numpy; per name
    ``(sums, counts, sums of magnitudes)``."""
    ix = compute_indices(cube, names, mask=mask)
    out = {}
    for name in names:
        values = ix[name].values.astype(np.float64)
        if where is not None:
            values = np.where(where.values, values, np.nan)
        out[name] = (np.nansum(values, axis=(-2, -1)), np.isfinite(values).sum(axis=(-2, -1)),
                     np.nansum(np.abs(values), axis=(-2, -1)))
    return out


@pytest.mark.parametrize("masked", [True, False])
def test_index_sums_equal_the_sums_of_the_layers(masked):
    cube = random_cube((5, 37, 53))
    names = list(INDICES)
    where = random_where(cube)
    for w in (None, where):
        got = index_sums(cube, names, where=w, mask=masked)
        want = layer_sums(cube, names, w, masked)
        for name in names:
            total, count, magnitude = want[name]
            assert count.min() > 0, "the comparison should compare numbers"
            np.testing.assert_array_equal(got[f"{name}_count"].values, count, err_msg=name)
            assert_sums_close(got[f"{name}_sum"].values, total, magnitude, err_msg=name)
            assert got[f"{name}_sum"].dtype == np.float64
            assert got[f"{name}_count"].dtype == np.int64


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_index_sums_are_the_same_on_dask_in_any_chunking_and_stay_lazy(chunks):
    cube = random_cube((6, 23, 41))
    names = ["ndvi", "ndwi", "mndwi", "mvi", "cmri"]
    where = random_where(cube)
    eager = index_sums(cube, names, where=where)
    want = layer_sums(cube, names, where)
    with raise_if_dask_computes():
        lazy = index_sums(cube.chunk(chunks), names, where=where)
    assert all(isinstance(v.data, dask.array.Array) for v in lazy.data_vars.values())
    computed = lazy.compute()
    assert list(computed.data_vars) == list(eager.data_vars)
    for name in names:
        np.testing.assert_array_equal(computed[f"{name}_count"].values,
                                      eager[f"{name}_count"].values)
        assert_sums_close(computed[f"{name}_sum"].values, eager[f"{name}_sum"].values,
                          2 * want[name][2], err_msg=name)
    np.testing.assert_array_equal(computed["time"].values, cube["time"].values)
    np.testing.assert_array_equal(computed["boa_offset"].values, cube["boa_offset"].values)


def test_one_reduction_task_per_chunk_and_no_layer_in_the_graph():
    cube = random_cube((6, 23, 41)).chunk({"time": 1, **UNEVEN})
    graph = dict(index_sums(cube, ["ndvi", "ndwi", "mndwi", "mvi"]).__dask_graph__())
    sums = [k for k in graph if isinstance(k, tuple) and k[0].startswith("fused-sums-")]
    assert len(sums) == 6 * len(UNEVEN["y"]) * len(UNEVEN["x"])
    assert not any(isinstance(k, tuple) and k[0].startswith("fused-indices-") for k in graph)


def test_single_scene_and_input_errors():
    cube = random_cube((3, 11, 13))
    one = index_sums(cube.isel(time=1), "ndvi")
    assert one["ndvi_count"].dims == ()
    assert int(one["ndvi_count"]) == int(index_sums(cube, "ndvi")["ndvi_count"][1])
    with pytest.raises(ValueError, match="unknown index"):
        index_sums(cube, ["ndvi", "nope"])
    with pytest.raises(ValueError, match="where must be a"):
        index_sums(cube, "ndvi", where=xr.DataArray(np.ones((5, 5), bool), dims=("y", "x")))
    with pytest.raises(ValueError, match="uint16 DN"):
        index_sums(scene_reflectance(cube), "ndvi")
    with pytest.raises(ValueError, match="missing"):
        index_sums(cube.drop_vars("B11"), "mndwi")


# --------------------------------------------------------------------------- scene statistics

def reference_statistics(cube, mask, habitat, pixel_area_ha, evidence):
    """The array expressions scene_statistics computed before it reduced in a kernel, with
    the site's evidence (mangrove context, seagrass water)."""
    n_site = mask.sum()
    stats = {"valid_fraction": (clear_mask(cube) & mask).sum(("y", "x")) / n_site,
             "cloud_fraction": (cloud_mask(cube) & mask).sum(("y", "x")) / n_site}
    ix = compute_indices(cube, list(OBSERVATION_INDICES))
    for name in OBSERVATION_INDICES:
        stats[f"{name}_mean"] = ix[name].where(mask).astype(np.float64).mean(("y", "x"))
    score = habitat_score(scene_reflectance(cube), habitat, evidence.rule,
                          **evidence.scene_scorer)
    stats["habitat_area_ha"] = ((score > 0) & mask).sum(("y", "x")) * pixel_area_ha
    return xr.Dataset(stats).compute()


def demo_cube(site_id: str, n: int = 6):
    site = SITES[site_id]
    source = DemoSource(seed=3)
    scenes = source.search(site, *load_range(site, None, dt.date(2023, 9, 30)))[:n]
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    return source.load(site, scenes, chunks=None).compute(), mask, site.habitat, grid


@pytest.mark.parametrize("site_id", ["kenya-mida-creek", "mexico-puerto-morelos"])
def test_scene_statistics_equal_the_array_expressions(site_id):
    cube, mask, habitat, grid = demo_cube(site_id)
    # the site's evidence from a composite of the scenes (mangrove: intertidal context;
    # seagrass: the fitted water as the kernel's run-time constants), computed
    evidence = site_evidence(composite(cube, "2000-01-01", "2100-01-01"), habitat)
    evidence = evidence.with_arrays(dask.compute(*evidence.arrays))
    want = reference_statistics(cube, mask, habitat, grid.pixel_area_ha, evidence)
    assert (want["habitat_area_ha"] > 0).any(), "the site should show some habitat"
    assert want["valid_fraction"].min() < 1 and want["cloud_fraction"].max() > 0
    for chunks in (None, {"time": 1, "y": 64, "x": 100}, {"time": 3, "y": 50}):
        lazy = cube if chunks is None else cube.chunk(chunks)
        got = scene_statistics(lazy, mask, habitat, pixel_area_ha=grid.pixel_area_ha,
                               evidence=evidence).compute()
        for col in ("valid_fraction", "cloud_fraction", "habitat_area_ha"):
            np.testing.assert_array_equal(got[col].values, want[col].values, err_msg=col)
        for name in OBSERVATION_INDICES:
            np.testing.assert_allclose(got[f"{name}_mean"].values, want[f"{name}_mean"].values,
                                       rtol=SUM_TOLERANCE, atol=SUM_TOLERANCE, err_msg=name)
        np.testing.assert_array_equal(got["time"].values, cube["time"].values)


def test_scene_statistics_read_the_sites_discriminant_axis(tmp_path):
    """Where a site reads its discriminant axis (rule v8, ``axis_used`` 1: the independent
    scenario of tests/test_chunk_invariance.py, seed 1), the kernel's habitat pixels are the
    rule's own ``habitat_score > 0``, scene by scene. Before the kernel read the axis it
    counted the MVI threshold's (24.13/39.16/57.25/17.21 ha against the rule's
    23.91/39.14/56.87/16.96 ha on the first scenes, with that test's reach)."""
    from scenarios import make_scenario

    from flows.site.evidence import site_evidence_of
    from flows.sources import get_source

    sc = make_scenario(1, kind="mangrove", size=200, n_months=8, out_dir=tmp_path)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None).compute()
    evidence = site_evidence_of(site, cube, grid, mask).evidence
    assert float(evidence.params.sel(parameter="axis_used")) == 1.0, "the site reads its axis"
    score = habitat_score(scene_reflectance(cube), "mangrove", evidence.rule, **evidence.scorer)
    want = ((score > 0) & mask).sum(("y", "x")).values
    assert want.min() > 0, "some canopy in every scene"
    for chunks in (None, {"time": 4, "y": 100, "x": 96}):
        lazy = cube if chunks is None else cube.chunk(chunks)
        got = scene_statistics(lazy, mask, "mangrove", pixel_area_ha=1.0, evidence=evidence)
        np.testing.assert_array_equal(got["habitat_area_ha"].values, want, err_msg=str(chunks))


def test_scene_statistics_of_a_scene_outside_the_clear_sky_is_nan_not_zero():
    cube, mask, habitat, grid = demo_cube("kenya-mida-creek", n=2)
    cube["SCL"][0] = 9  # the first scene all cloud
    for data in (cube, cube.chunk({"time": 1})):
        # the NaN is intended, and says nothing to the console: every run on a cloudy site
        # printed "RuntimeWarning: invalid value encountered in divide" (issue 21)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = scene_statistics(data, mask, habitat,
                                   pixel_area_ha=grid.pixel_area_ha).compute()
        assert float(got["valid_fraction"][0]) == 0.0 and float(got["cloud_fraction"][0]) == 1.0
        assert np.isnan(got["ndvi_mean"][0]) and float(got["habitat_area_ha"][0]) == 0.0
        assert np.isfinite(got["ndvi_mean"][1])


def test_scene_statistics_refuses_what_it_cannot_compute():
    cube = random_cube((2, 8, 9))
    mask = xr.DataArray(np.ones((8, 9), bool), dims=("y", "x"))
    with pytest.raises(ValueError, match="unknown habitat"):
        scene_statistics(cube, mask, "kelp", pixel_area_ha=0.01)
    with pytest.raises(ValueError, match="needs bands"):
        scene_statistics(cube.drop_vars("B02"), mask, "seagrass", pixel_area_ha=0.01)
    assert set(BANDS) <= set(cube.data_vars)


def _uncached_row(source: str):
    """The ``row`` function of generated kernel source, compiled here (machine code loaded
    from numba's cache cannot be inspected)."""
    namespace: dict = {}
    exec(compile(_kernels._GENERATED_HEADER + source, "<reduce kernel>", "exec"), namespace)
    assert namespace["CACHE"] is False
    return namespace["row"]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 assembly")
@pytest.mark.parametrize("kernel", ["index_sums", "mangrove", "seagrass"])
def test_the_pixel_loop_of_the_reduce_kernels_is_vectorised(kernel):
    """Small changes to the generated source (an index's value computed before its weight;
    a pixel function grown by a few counts past what LLVM's inliner takes) once made LLVM
    give up vectorising the pixel loop: 1.4-6x slower, and no other test fails. Packed
    division (``divps``; scalar is ``divss``) in the row function says it vectorised."""
    names = list(OBSERVATION_INDICES) if kernel != "index_sums" else ["ndvi", "ndwi", "mndwi",
                                                                          "mvi"]
    outputs = tuple((n, *kernel_expression(n)) for n in INDICES if n in names)
    if kernel == "index_sums":
        symbols = tuple(s for s in SYMBOLS if any(s in used for _, _, used in outputs))
        source = reduce_kernel(symbols, outputs, VALID_SCL).source
    else:  # scene_statistics' kernel: every band, the site mask, three counts; mangrove: the
        # kernel of a site that does not read its discriminant axis (axis_used 0)
        symbols = tuple(SYMBOLS)
        prelude, counts, constants = statistics_counts(list(symbols), kernel)
        fixed = (("axis_used", 0.0),) if "axis_used" in constants else ()
        source = reduce_kernel(symbols, outputs, VALID_SCL, where=True,
                               prelude=prelude, counts=counts, constants=constants,
                               wide=AXIS_PARAMETERS, fixed=fixed).source
    row = _uncached_row(source)
    n = 300
    bands = [np.full(n, 1001 + 300 * i, np.uint16) for i in range(len(symbols))]
    extra = [np.ones(n, np.uint8)] if kernel != "index_sums" else []
    # the site's run-time constants (seagrass water, mangrove threshold and canopy NDVI)
    consts = [np.full(len(constants), 0.5, np.float64)] if kernel != "index_sums" else []
    out = np.zeros(2 * len(outputs) + (3 if kernel != "index_sums" else 0))
    row(*bands, np.full(n, 4, np.uint8), *extra, np.float32(-1000), *consts, out)
    assert out[1] == n, "every pixel clear and defined: the first index counts them all"
    assembly = "\n".join(row.inspect_asm().values())
    assert "divps" in assembly, f"the pixel loop of the {kernel} reduce kernel is not vectorised"


@pytest.mark.parametrize("classes", [VALID_SCL, (0,), (30,), tuple(range(31)), (3, 8, 9, 10)])
def test_scl_weight_is_scl_in_for_every_byte(classes):
    """The SCL test of every kernel (a 32-bit LLVM shift, classes > 31 give 0) is class
    membership for every uint8 value, as a weight and as a boolean, in a vectorised loop."""
    import numba

    @numba.njit
    def weights(bits, values, out):
        for i in range(values.shape[0]):
            out[i] = _kernels.scl_weight(bits, values[i])

    @numba.njit
    def tests(bits, values, out):
        for i in range(values.shape[0]):
            out[i] = _kernels.scl_in(values[i], bits)

    values = np.arange(256, dtype=np.uint8)
    bits = _kernels.scl_bits(classes)
    got, want = np.empty(256, np.float32), np.empty(256, np.bool_)
    weights(bits, values, got)
    tests(bits, values, want)
    member = np.isin(values, classes)
    np.testing.assert_array_equal(got, member.astype(np.float32))
    np.testing.assert_array_equal(want, member)
    assert got.sum() == len(set(classes))


def test_serial_and_parallel_reduce_kernels_give_the_same_bits():
    """Dask tasks run ``kernel.serial``, direct numpy calls the parallel kernel: per row, the
    same loop, so the same float64 partial sums."""
    cube = random_cube((3, 29, 301))
    names = ["ndvi", "ndwi", "mndwi", "mvi", "cmri", "evi"]
    outputs = tuple((n, *kernel_expression(n)) for n in INDICES if n in names)
    symbols = tuple(s for s in SYMBOLS if any(s in used for _, _, used in outputs))
    kernel = reduce_kernel(symbols, outputs, VALID_SCL)
    args = [np.ascontiguousarray(cube[SYMBOLS[s]].values) for s in symbols]
    args += [np.ascontiguousarray(cube["SCL"].values),
             cube["boa_offset"].values.astype(np.int32)]
    parallel = np.full((3 * 29, 2 * len(outputs)), np.nan)
    serial = np.full_like(parallel, np.nan)
    kernel(*args, parallel)
    kernel.serial(*args, serial)
    np.testing.assert_array_equal(serial, parallel)
    assert np.all(parallel[:, 1::2] > 0), "every row counts something"


def test_mvi_differences_are_shared_and_exact():
    """MVI's ``abs(N - G) / abs(S1 - G)`` is generated as ``abs(G - N) / abs(G - S1)`` (the
    kernels then reuse NDWI's and MNDWI's differences): the same float32 values, bit for bit."""
    assert kernel_expression("mvi")[0] == "safe_div(abs(G - N), abs(G - S1))"
    rng = np.random.default_rng(3)
    refl = {b: xr.DataArray(rng.integers(0, 12000, (1, 64, 64)).astype(np.float32) * 1e-4,
                            dims=("time", "y", "x")) for b in ("B03", "B08", "B11")}
    got = compute_indices(xr.Dataset(refl), ["mvi"])["mvi"].values
    g, n, s1 = (refl[b].values for b in ("B03", "B08", "B11"))
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.abs(n - g) / np.abs(s1 - g)
    want[np.abs(s1 - g) == 0] = np.nan
    np.testing.assert_array_equal(got, want)
