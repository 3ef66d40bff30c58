"""indices.spectral and indices.masks: golden values, edge cases, laziness, chunk parity."""

from __future__ import annotations

import re
import struct
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from indices._median import sorting_network  # noqa: F401  (kernels module imports cleanly)
from indices.masks import (
    INVALID_SCL,
    VALID_SCL,
    clear_mask,
    cloud_mask,
    nodata_mask,
    reflectance,
)
from indices.spectral import INDICES, SYMBOLS, IndexSpec, compute_indices

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
NORMALISED = ("ndvi", "ndwi", "mndwi", "ndmi")
REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"


# --------------------------------------------------------------------------- helpers

def make_cube(dn: dict[str, np.ndarray], offsets, scl=None) -> xr.Dataset:
    """Scene cube from ``(time, y, x)`` DN arrays per band; SCL 4 (vegetation) unless given."""
    shape = next(iter(dn.values())).shape
    times = np.datetime64("2024-01-05T10:30", "ns") + np.arange(shape[0]) * np.timedelta64(5, "D")
    ds = xr.Dataset(
        {b: (("time", "y", "x"), np.asarray(v, np.uint16)) for b, v in dn.items()},
        coords={"time": times, "y": 1000.0 - 10 * np.arange(shape[1]),
                "x": 500.0 + 10 * np.arange(shape[2]),
                "boa_offset": ("time", np.asarray(offsets, np.int16)),
                "scene_id": ("time", [f"S2_{i}" for i in range(shape[0])])})
    ds["SCL"] = (("time", "y", "x"),
                 np.full(shape, 4, np.uint8) if scl is None else np.asarray(scl, np.uint8))
    return ds


def spectra_cube(rows: list[dict[str, int]], offset: int, scl=None) -> xr.Dataset:
    """One scene, one row of pixels, a DN spectrum per pixel (missing bands = 1000)."""
    dn = {b: np.array([[[r.get(b, 1000) for r in rows]]]) for b in BANDS}
    return make_cube(dn, [offset], None if scl is None else np.array([[scl]]))


def random_cube(shape=(6, 23, 41), seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    dn = {b: rng.integers(0, 9000, shape) * (rng.random(shape) > 0.03) for b in BANDS}
    offsets = rng.choice([-1000, 0], shape[0])
    return make_cube(dn, offsets, rng.integers(0, 12, shape))


class CountingScheduler:
    """A dask scheduler that raises after ``max_computes`` computations (xarray's pattern)."""

    def __init__(self, max_computes: int = 0):
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(f"too many dask computations: {self.total_computes}")
        return dask.get(dsk, keys, **kwargs)


@contextmanager
def raise_if_dask_computes(max_computes: int = 0):
    with dask.config.set(scheduler=CountingScheduler(max_computes)):
        yield


# Spectrum of a mangrove-like pixel, DN; with offset -1000: B .04 G .07 R .05 N .35 S1 .18.
VEG = {"B02": 1400, "B03": 1700, "B04": 1500, "B08": 4500, "B11": 2800, "B12": 2000}
# Hand-computed from the reflectances (calculator, not this code), 7 significant digits.
EXPECTED = {
    -1000: {"ndvi": 0.30 / 0.40, "ndwi": -0.28 / 0.42, "mndwi": -0.11 / 0.25,
            "ndmi": 0.17 / 0.53, "mvi": 0.28 / 0.11, "cmri": 0.75 + 0.28 / 0.42,
            "evi": 0.75 / 1.35, "savi": 0.45 / 0.90},
    0: {"ndvi": 0.30 / 0.60, "ndwi": -0.28 / 0.62, "mndwi": -0.11 / 0.45,
        "ndmi": 0.17 / 0.73, "mvi": 0.28 / 0.11, "cmri": 0.5 + 0.28 / 0.62,
        "evi": 0.75 / 1.30, "savi": 0.45 / 1.10},
}
HAND = {-1000: {"ndvi": 0.75, "ndwi": -0.6666667, "mndwi": -0.44, "ndmi": 0.3207547,
                "mvi": 2.5454545, "cmri": 1.4166667, "evi": 0.5555556, "savi": 0.5},
        0: {"ndvi": 0.5, "ndwi": -0.4516129, "mndwi": -0.2444444, "ndmi": 0.2328767,
            "mvi": 2.5454545, "cmri": 0.9516129, "evi": 0.5769231, "savi": 0.4090909}}


# --------------------------------------------------------------------------- registry

def test_registry_is_complete_frozen_and_cited():
    assert set(INDICES) == {"ndvi", "ndwi", "mndwi", "ndmi", "mvi", "cmri", "evi", "savi"}
    for name, spec in INDICES.items():
        assert isinstance(spec, IndexSpec) and spec.name == name and spec.long_name
        assert spec.bands == tuple(b for b in BANDS if b in spec.bands)
        if name != "ndvi":  # Rouse et al. 1974 is a NASA symposium paper without a DOI
            assert re.search(r"doi:10\.\d{4,}/\S+", spec.reference), name
    with pytest.raises(AttributeError):
        INDICES["ndvi"].formula = "N"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(INDICES))
def test_spec_bands_match_formula(name):
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", INDICES[name].formula))
    symbols = set()
    for t in tokens:  # references to other indices contribute their bands
        if t in INDICES:
            symbols |= {s for s, b in SYMBOLS.items() if b in INDICES[t].bands}
        elif t in SYMBOLS:
            symbols.add(t)
    assert {SYMBOLS[s] for s in symbols} == set(INDICES[name].bands)


def test_hand_values_are_what_the_formulas_say():
    for offset, values in HAND.items():
        for name, v in values.items():
            assert v == pytest.approx(EXPECTED[offset][name], abs=1e-7)


# --------------------------------------------------------------------------- golden values

@pytest.mark.parametrize("offset", [-1000, 0])
@pytest.mark.parametrize("name", sorted(INDICES))
def test_hand_computed_value(name, offset):
    out = compute_indices(spectra_cube([VEG], offset), [name])[name]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values.ravel(), [HAND[offset][name]], rtol=1e-6, atol=1e-6)


def test_offset_is_applied_per_scene():
    dn = {b: np.full((2, 1, 1), v) for b, v in VEG.items()}
    out = compute_indices(make_cube(dn, [-1000, 0]), ["ndvi", "evi"])
    np.testing.assert_allclose(out["ndvi"].values.ravel(), [0.75, 0.5], rtol=1e-6)
    np.testing.assert_allclose(out["evi"].values.ravel(), [HAND[-1000]["evi"], HAND[0]["evi"]],
                               rtol=1e-6)


def test_edge_cases_give_nan_or_bounds():
    rows = [
        VEG,                                         # 0 valid
        {**VEG, "B08": 0},                           # 1 B08 nodata
        VEG,                                         # 2 cloud (SCL 9)
        {**VEG, "B08": 1000, "B04": 1000},           # 3 N + R = 0 after offset: 0/0
        {**VEG, "B11": 1700},                        # 4 S1 == G: mvi undefined
        {**VEG, "B04": 500},                         # 5 negative red floored at 0: ndvi = 1
        {**VEG, "B08": 900, "B04": 700},             # 6 both negative: floored, 0/0
    ]
    scl = [4, 4, 9, 4, 4, 4, 4]
    out = compute_indices(spectra_cube(rows, -1000, scl), list(INDICES))
    v = {n: out[n].values.ravel() for n in INDICES}
    assert np.isfinite([v[n][0] for n in INDICES]).all()
    assert np.isnan([v[n][1] for n in INDICES if "B08" in INDICES[n].bands]).all()
    assert v["mndwi"][1] == pytest.approx(HAND[-1000]["mndwi"], rel=1e-6)  # no B08 needed
    assert np.isnan([v[n][2] for n in INDICES]).all()
    assert np.isnan(v["ndvi"][3]) and v["savi"][3] == 0.0
    assert np.isnan(v["mvi"][4]) and np.isfinite(v["ndvi"][4])
    assert v["ndvi"][5] == 1.0
    assert np.isnan(v["ndvi"][6])


def test_mask_false_keeps_cloudy_pixels_but_not_nodata():
    cube = spectra_cube([VEG, {**VEG, "B08": 0}], -1000, [9, 9])
    out = compute_indices(cube.drop_vars("SCL"), ["ndvi"], mask=False)["ndvi"].values.ravel()
    assert out[0] == pytest.approx(0.75, rel=1e-6) and np.isnan(out[1])


def test_result_does_not_depend_on_what_else_is_requested():
    cube = random_cube()
    together = compute_indices(cube, ["savi", "mvi", "ndvi", "mndwi"])
    for name in together.data_vars:
        alone = compute_indices(cube, [name])[name]
        np.testing.assert_array_equal(alone.values, together[name].values)
    assert list(together.data_vars) == ["savi", "mvi", "ndvi", "mndwi"]


@settings(max_examples=200, deadline=None)
@given(dn=st.lists(st.integers(0, 65535), min_size=6, max_size=6),
       offset=st.sampled_from([-1000, 0]), scl=st.sampled_from(range(16)))
def test_normalised_differences_stay_in_unit_interval(dn, offset, scl):
    spectrum = dict(zip(BANDS, dn, strict=True))
    out = compute_indices(spectra_cube([spectrum], offset, [scl]), NORMALISED)
    for name in NORMALISED:
        v = out[name].values.ravel()[0]
        assert np.isnan(v) or -1.0 <= v <= 1.0, (name, v)
        reads = [spectrum[b] for b in INDICES[name].bands]
        if scl in VALID_SCL and all(reads) and max(reads) + offset > 0:
            assert np.isfinite(v), name  # defined whenever a denominator can be nonzero


# --------------------------------------------------------------------------- errors

def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown index.*'ndvix'.*'cmri'.*'ndvi'"):
        compute_indices(random_cube(), ["ndvi", "ndvix"])


def test_missing_band_is_named():
    with pytest.raises(ValueError, match=r"missing \['B11'\]"):
        compute_indices(random_cube().drop_vars("B11"), ["mvi"])


def test_dn_inputs_need_scl_and_offset():
    with pytest.raises(ValueError, match="SCL"):
        compute_indices(random_cube().drop_vars("SCL"), ["ndvi"])
    with pytest.raises(ValueError, match="boa_offset"):
        compute_indices(random_cube().drop_vars("boa_offset"), ["ndvi"])
    mixed = random_cube().assign(B04=lambda d: d["B04"].astype(np.float32))
    with pytest.raises(ValueError, match="all uint16"):
        compute_indices(mixed, ["ndvi"])


# --------------------------------------------------------------------------- structure

def test_output_keeps_dims_coords_and_attrs():
    cube = random_cube()
    out = compute_indices(cube, "ndwi")
    assert list(out.data_vars) == ["ndwi"]
    var = out["ndwi"]
    assert var.dims == ("time", "y", "x") and var.dtype == np.float32
    for c in ("time", "y", "x", "boa_offset", "scene_id"):
        np.testing.assert_array_equal(var[c].values, cube[c].values)
    assert var.attrs["formula"] == "(G - N) / (G + N)"
    assert "10.1080/01431169608948714" in var.attrs["reference"]
    assert var.attrs["long_name"].startswith("Normalized Difference Water Index")


def test_single_scene_without_time_dim_matches_the_stack():
    cube = random_cube()
    full = compute_indices(cube, ["ndvi", "mvi"])
    one = compute_indices(cube.isel(time=2), ["ndvi", "mvi"])
    assert one["ndvi"].dims == ("y", "x")
    np.testing.assert_array_equal(one["mvi"].values, full["mvi"].isel(time=2).values)


def test_transposed_input_keeps_its_dim_order():
    cube = random_cube()
    out = compute_indices(cube.transpose("y", "x", "time"), ["ndvi"])["ndvi"]
    assert out.dims == ("y", "x", "time")
    ref = compute_indices(cube, ["ndvi"])["ndvi"]
    np.testing.assert_array_equal(out.transpose("time", "y", "x").values, ref.values)


# --------------------------------------------------------------------------- laziness, parity

UNEVEN = {"x": (7, 13, 9, 12), "y": (5, 11, 7)}


@pytest.mark.parametrize("time_chunk", [1, 3])
def test_dask_matches_numpy_bitwise_and_stays_lazy(time_chunk):
    cube = random_cube()
    names = list(INDICES)
    eager = compute_indices(cube, names)
    lazy_cube = cube.chunk({"time": time_chunk, **UNEVEN})
    with raise_if_dask_computes():
        lazy = compute_indices(lazy_cube, names)
    for name in names:
        var = lazy[name]
        assert isinstance(var.data, dask.array.Array)
        assert var.dtype == np.float32
        assert var.chunks == (lazy_cube.chunks["time"], UNEVEN["y"], UNEVEN["x"])
        computed = var.values
        assert computed.dtype == var.dtype
        np.testing.assert_array_equal(computed, eager[name].values)


def test_raise_if_dask_computes_does_catch_a_compute():
    lazy = compute_indices(random_cube().chunk({"time": 1}), ["ndvi"])
    with raise_if_dask_computes(), pytest.raises(RuntimeError, match="too many dask"):
        lazy["ndvi"].values  # noqa: B018


def test_one_task_per_chunk_for_all_indices():
    lazy = compute_indices(random_cube().chunk({"time": 1, **UNEVEN}),
                           ["ndvi", "ndwi", "mndwi", "mvi"])
    graph = dict(lazy.__dask_graph__())
    fused = [k for k in graph if isinstance(k, tuple) and k[0].startswith("fused-indices-")]
    n_chunks = 6 * len(UNEVEN["y"]) * len(UNEVEN["x"])
    assert len(fused) == n_chunks


def test_reflectance_path_matches_dn_path_bitwise():
    cube = random_cube()
    refl = xr.Dataset({b: reflectance(cube, b) for b in BANDS})
    assert all(refl[b].dtype == np.float32 for b in BANDS)
    from_dn = compute_indices(cube, list(INDICES))
    from_refl = compute_indices(refl.chunk({"x": (20, 21)}), list(INDICES))
    for name in INDICES:
        np.testing.assert_array_equal(from_refl[name].values, from_dn[name].values)


def test_reflectance_path_propagates_nan_and_accepts_float64():
    refl = xr.Dataset({b: ("x", np.array([0.05, np.nan, 0.05], np.float64)) for b in BANDS})
    refl["B08"] = ("x", np.array([0.35, 0.35, np.nan]))
    out = compute_indices(refl, ["ndvi", "ndwi"])
    assert out["ndvi"].dtype == np.float32 and out["ndvi"].dims == ("x",)
    np.testing.assert_allclose(out["ndvi"].values, [0.75, np.nan, np.nan], rtol=1e-6)


# --------------------------------------------------------------------------- masks

def test_masks_follow_scl_and_nodata():
    rows = [VEG, VEG, VEG, {**VEG, "B11": 0}, dict.fromkeys(BANDS, 0), VEG]
    scl = [4, 8, 3, 6, 4, 0]
    cube = spectra_cube(rows, -1000, scl).chunk({"x": 2})
    with raise_if_dask_computes():
        clear, cloud, nodata = clear_mask(cube), cloud_mask(cube), nodata_mask(cube)
        refl = reflectance(cube, "B08")
    np.testing.assert_array_equal(clear.values.ravel(), [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(cloud.values.ravel(), [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(nodata.values.ravel(), [0, 0, 0, 0, 1, 1])
    assert refl.dtype == np.float32 and refl.values.dtype == np.float32
    np.testing.assert_allclose(refl.values.ravel(), [0.35, np.nan, np.nan, 0.35, np.nan, np.nan],
                               rtol=1e-6)
    unmasked = reflectance(cube, "B08", mask=False).values.ravel()
    np.testing.assert_allclose(unmasked, [0.35, 0.35, 0.35, 0.35, np.nan, 0.35], rtol=1e-6)
    assert set(INVALID_SCL).isdisjoint(VALID_SCL) and len(INVALID_SCL + VALID_SCL) == 12


def test_reflectance_applies_offset_and_floors_at_zero():
    cube = make_cube({"B04": np.array([[[1234, 500, 1234]]])}, [-1000])
    cube = xr.concat([cube, cube.assign_coords(boa_offset=("time", np.array([0], np.int16)))],
                     "time")
    out = reflectance(cube, "B04").values.ravel()
    np.testing.assert_allclose(out, [0.0234, 0.0, 0.0234, 0.1234, 0.05, 0.1234], rtol=1e-6)


# --------------------------------------------------------------------------- real data

def _read_tiff(path: Path) -> np.ndarray:
    """Minimal reader for the tiled, deflate/LZW, unpredicted GeoTIFFs in realdata: (h, w, n)."""
    b = path.read_bytes()
    assert b[:4] == b"II*\0", "little-endian classic TIFF expected"
    (ifd,) = struct.unpack_from("<I", b, 4)
    (n,) = struct.unpack_from("<H", b, ifd)
    size, fmt = {1: 1, 2: 1, 3: 2, 4: 4, 12: 8}, {1: "B", 2: "c", 3: "H", 4: "I", 12: "d"}
    tags = {}
    for i in range(n):
        tag, typ, cnt, val = struct.unpack_from("<HHII", b, ifd + 2 + 12 * i)
        at = ifd + 10 + 12 * i if size[typ] * cnt <= 4 else val
        tags[tag] = struct.unpack_from(f"<{cnt}{fmt[typ]}", b, at)
    w, h, spp, comp = tags[256][0], tags[257][0], tags[277][0], tags[259][0]
    assert tags.get(284, (1,))[0] == 1 and tags.get(317, (1,))[0] == 1 and comp in (5, 8)
    dtype = np.dtype(f"<{ {1: 'u', 3: 'f'}[tags.get(339, (1,))[0]] }{tags[258][0] // 8}")
    tw, th = tags[322][0], tags[323][0]
    across = -(-w // tw)
    out = np.empty((h, w, spp), dtype)
    for k, (o, c) in enumerate(zip(tags[324], tags[325], strict=True)):
        raw = zlib.decompress(b[o:o + c]) if comp == 8 else _lzw_decode(b[o:o + c])
        tile = np.frombuffer(raw, dtype)[: th * tw * spp].reshape(th, tw, spp)
        r0, c0 = k // across * th, k % across * tw
        out[r0:r0 + th, c0:c0 + tw] = tile[: h - r0, : w - c0]
    return out


def _lzw_decode(data: bytes) -> bytes:
    """TIFF LZW (MSB-first codes, 9-12 bits, early change)."""
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    out, prev, width, acc, nacc = bytearray(), None, 9, 0, 0
    for byte in data:
        acc, nacc = (acc << 8) | byte, nacc + 8
        while nacc >= width:
            nacc -= width
            code = (acc >> nacc) & ((1 << width) - 1)
            if code == 256:
                del table[258:]
                prev, width = None, 9
                continue
            if code == 257:
                return bytes(out)
            entry = table[code] if code < len(table) else prev + prev[:1]
            if prev is not None:
                table.append(prev + entry[:1])
            out += entry
            prev = entry
            if len(table) + 1 >= 1 << width and width < 12:
                width += 1
        acc &= (1 << nacc) - 1
    return bytes(out)


@pytest.mark.realdata
def test_matches_rsgislib_reference_rasters():
    """NDVI and Gao's NDWI (our ndmi) against rsgislib's own outputs on a real S2 subset.

    rsgislib used B8A as NIR (see SOURCE.md), so B8A goes in our B08 slot; the subset is
    reflectance x1000 with no offset: normalised differences do not depend on the scale.
    """
    folder = REALDATA / "rsgislib_aber_s2"
    if not folder.is_dir():
        pytest.skip("../shared/realdata not present")
    img = _read_tiff(folder / "sen2_20210527_aber_subset.tif")
    ndvi_ref = _read_tiff(folder / "sen2_20210527_aber_subset_ndvi_ref.tif")[..., 0]
    gao_ref = _read_tiff(folder / "sen2_20210527_aber_subset_ndwi_ref.tif")[..., 0]
    layer = {"B02": 0, "B03": 1, "B04": 2, "B08": 7, "B11": 8, "B12": 9}  # b8 = B8A
    cube = make_cube({b: img[None, :, :, i] for b, i in layer.items()}, [0])
    out = compute_indices(cube.chunk({"y": 100, "x": 128}), ["ndvi", "ndmi"]).isel(time=0)
    assert np.isfinite(out["ndvi"].values).all()
    np.testing.assert_allclose(out["ndvi"].values, ndvi_ref, rtol=0, atol=5e-7)
    np.testing.assert_allclose(out["ndmi"].values, gao_ref, rtol=0, atol=5e-7)


# --------------------------------------------------------------------------- timing

def test_print_throughput(capsys):
    """Mpx/s of ndvi, ndwi, mndwi, mvi on 4 scenes of 2048 x 2048 (printed, not asserted)."""
    shape = (4, 2048, 2048)
    rng = np.random.default_rng(1)
    cube = make_cube({b: rng.integers(1, 9000, shape, dtype=np.uint16) for b in BANDS},
                     [-1000, 0, -1000, 0], rng.integers(0, 12, shape, dtype=np.uint8))
    names = ["ndvi", "ndwi", "mndwi", "mvi"]
    compute_indices(cube.isel(y=slice(0, 8)), names)  # compile
    lazy_cube = cube.chunk({"time": 1, "y": 1024, "x": 2048})
    runs = {"numpy": lambda: compute_indices(cube, names),
            "dask 1x1024x2048 (sum per chunk)": lambda: dask.compute(
                *[v.data.sum() for v in compute_indices(lazy_cube, names).data_vars.values()])}
    timings = {k: [] for k in runs}
    for _ in range(3):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            timings[k].append(time.perf_counter() - t0)
    with capsys.disabled():
        for k, ts in timings.items():
            print(f"\ncompute_indices {names} {k}: "
                  f"{np.prod(shape) / min(ts) / 1e6:.0f} Mpx/s best of 3 "
                  f"({np.prod(shape) / np.median(ts) / 1e6:.0f} median)")
