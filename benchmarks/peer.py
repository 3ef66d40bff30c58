"""The peer of ``bluecarbon run``: the same site's monthly mangrove change, as a capable user
of the field writes it in a notebook (issue 22).

    python -m benchmarks.peer --catalog CATALOG --sites SITES.geojson --out DIR \\
        [--median numpy|bottleneck] [--chunks 2048] [--end YYYY-MM-DD]

pystac walks the static catalog; odc-stac loads the rule's bands and SCL of the items over
the site onto a 10 m grid of the tiles' UTM zone (dask, ``--chunks`` pixels, nearest
resampling for the 20 m bands, one time step per solar day); SCL cloud masking and the L2A
offset (``raster:bands`` offset/scale of each item, 0 where ``earthsearch:boa_offset_applied``)
give reflectance; xarray's ``resample(time="1MS")`` takes the monthly medians and a median over
the baseline dates the baseline composite; NDVI and MVI of the composites against the
thresholds of bluecarbon's current mangrove rule (read from :data:`indices.habitat.RULES`, so
the peer follows the classifier); the change against the baseline with the minimum mapping unit
by ``scipy.ndimage.label``; pandas writes the monthly extent, gain and loss to Parquet.

``--median numpy``: ``.median()`` as xarray does it on dask arrays (dask's ``nanmedian``, numpy's
``np.nanmedian`` per block); ``--median bottleneck``: the same groups reduced by
``bottleneck.nanmedian`` through ``xr.apply_ufunc`` (the "3-line change", :func:`bn_median`).

What it mirrors of bluecarbon's method, because it moves the areas (``indices.change``):

* gap-filling: a pixel not seen clear in a month keeps its last seen class (the baseline's
  before anything was seen); without it, gain and loss would count every cloud as a change;
* the extent is ``baseline + gain - loss`` after the minimum mapping unit (8-connected patches
  of at least ``ceil(mmu_ha / pixel area)`` pixels, 0.1 ha = 10 pixels), as in the table;
* a month of fewer clear views than the rule's tolerances assume (``tolerance_views``) is
  judged with its standard error: its score scaled by ``sqrt(V(n_ref) / V(n))``, ``V`` the
  variance of a median of ``n`` normal values (cited constants, :data:`MEDIAN_VARIANCE`), and
  never a strong look against the habitat; without the scaling one clear view past the
  threshold by 2 band widths unscaled changed a class alone where the rule waits for a
  second look (49 px of gain at the job's growing patch, ``benchmarks/measured/mang44``);
* the baseline's never-clear pixels filled from the first clear month after the window
  within 12 (:func:`fill_baseline`), when the window saw a tide on the site
  (:func:`window_sees_tide`: bluecarbon's rule v17's own project choice, mirrored, not a
  published method);
* a clear observation is one whose SCL is in 2, 4, 5, 6, 7 and whose bands are nonzero; the
  reflectance is ``max(DN + offset, 0) / 10000``; the pixels counted are those whose centre is
  inside the site polygon (rasterio's ``rasterize``, not all-touched).

What it leaves out, as a user would for extent, gain and loss: the score's uncertainty (only
the intervals use it), the observation rows, alerts, canopy classes, maps and the run record;
and bluecarbon's project choices beyond the published rule: its tidal ground and the coast's
water by the forest (context levels 3 and 4, where one confident look gains alone), the
shore's ground, and the flat's half-cover look (4 px of the job's gain, mang44).
It loads the 4 bands the rule reads (B03 B04 B08 B11) and SCL, where bluecarbon composites all
six (and so also drops an observation where B02 or B12 alone is 0: never in these data).
Prints one JSON line: phases' seconds and the last month's areas.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # indices.habitat: the thresholds of the classifier
    sys.path.insert(0, str(HERE.parent))

import dask  # noqa: E402
import numpy as np  # noqa: E402
import odc.stac  # noqa: E402
import pandas as pd  # noqa: E402
import pystac  # noqa: E402
import shapely  # noqa: E402
import xarray as xr  # noqa: E402
from odc.geo.geom import Geometry  # noqa: E402
from pystac.extensions.projection import ProjectionExtension  # noqa: E402
from rasterio.features import rasterize  # noqa: E402
from scipy import ndimage  # noqa: E402

from indices.context import CONNECTED, INTERTIDAL, intertidal_context, shore_band  # noqa: E402
from indices.habitat import CONTEXT_SCORE, RULES, mangrove_values  # noqa: E402
from indices.mangrove import floor_rule, mangrove_parameters  # noqa: E402
from indices.rules import STRONG  # noqa: E402

BANDS = ("green", "red", "nir", "swir16")  # B03 B04 B08 B11: what NDVI and MVI read
CLEAR_SCL = (2, 4, 5, 6, 7)  # not no-data, defective, shadow, cloud, cirrus or snow
MEDIANS = ("numpy", "bottleneck")
EIGHT = np.ones((3, 3), bool)


def read_items(catalog: str) -> list[pystac.Item]:
    """Every item of a static catalog (or an item collection file)."""
    path = Path(catalog)
    if path.is_dir():
        path = path / "catalog.json"
    data = json.loads(path.read_text())
    if data.get("type") == "FeatureCollection":
        return list(pystac.ItemCollection.from_file(str(path)))
    return list(pystac.Catalog.from_file(str(path)).get_items(recursive=True))


def dn_offset(item: pystac.Item) -> float:
    """The L2A DN offset of an item: 0 if Element 84 applied it, else from ``raster:bands``
    (offset -0.1 at scale 0.0001 is -1000 DN)."""
    if item.properties.get("earthsearch:boa_offset_applied"):
        return 0.0
    band = item.assets["red"].extra_fields.get("raster:bands", [{}])[0]
    return float(band.get("offset", 0.0)) / float(band.get("scale", 1.0))


def bn_median(group: xr.Dataset) -> xr.Dataset:
    """The median over time with bottleneck (the 3-line change)."""
    import bottleneck as bn

    return xr.apply_ufunc(bn.nanmedian, group.chunk(time=-1), input_core_dims=[["time"]],
                          kwargs={"axis": -1}, dask="parallelized", output_dtypes=[np.float32])


def mangrove_codes(c: xr.Dataset, context: xr.DataArray, values: tuple,
                   views: xr.DataArray | None = None) -> xr.DataArray:
    """int8 per pixel of composite ``c``: -1 not seen, else bit 0 mangrove (score > 0),
    bit 1 a confident look (``|score| >= 1``) and bit 2 a strong one (``|score| >= 2``), by
    bluecarbon's mangrove rule: the spectral score (:func:`spectral_score` with the site's
    ``values``) where the site's intertidal ``context`` (of its baseline) says connected
    canopy, NDVI alone on the tidal flat, and confidently not mangrove elsewhere. With the
    month's clear ``views``, a month of fewer views than the rule's tolerances assume is
    judged with its standard error (:func:`thin_month_factor`), and such a month is never
    a strong look against the habitat."""
    rule = RULES["mangrove"]
    ndvi = (c.nir - c.red) / (c.nir + c.red)
    mvi = abs(c.nir - c.green) / abs(c.swir16 - c.green)
    spectral = spectral_score(ndvi, mvi, values)
    ndvi_only = (ndvi - rule.ndvi_min) / rule.ndvi_tolerance
    judged = xr.where(context == INTERTIDAL, ndvi_only, spectral)
    if views is not None:  # the rule's own score, not the context's verdict, is scaled
        judged = judged * thin_month_factor(views, rule.tolerance_views)
    score = xr.where((context == INTERTIDAL) | (context == CONNECTED) | spectral.isnull(),
                     judged, -CONTEXT_SCORE)
    code = ((score > 0).astype("int8") + 2 * (abs(score) >= 1).astype("int8")
            + 4 * (abs(score) >= STRONG).astype("int8"))
    if views is not None:  # a month of fewer views than the tolerances' loses nothing alone
        thin = (views < rule.tolerance_views) & (judged < 0) & (score == judged)
        code = xr.where(thin, code & 3, code)
    return xr.where(score.notnull(), code, np.int8(-1)).astype("int8")


MEDIAN_VARIANCE = {1: 1.0, 2: 0.5, 3: 0.4487}
"""Variance of the median of ``n`` independent normal values, in units of their variance
``σ²`` (``n`` even: the mean of the two middle ones, as ``np.nanmedian``): David & Nagaraja
(2003), Order Statistics, 3rd ed., Wiley, ch. 2 (the order statistics' densities; ``n = 1``
the value itself, ``n = 2`` the mean of the two, ``n = 3`` 0.4487 σ², the variance of the
normal's middle order statistic of three). Cited constants, not computed: scipy.stats and
scipy.integrate imported with the module cost the timed peer 0.8 CPU s and 41 MiB (review
38); ``tests/test_peer_benchmark.py`` checks them against the integrals. Up to the
tolerances' month (``tolerance_views``, 3)."""


def median_variance(n: int) -> float:
    """:data:`MEDIAN_VARIANCE` of ``n`` (a ``KeyError`` beyond the table)."""
    return MEDIAN_VARIANCE[n]


def thin_month_factor(views: xr.DataArray, n_ref: int) -> xr.DataArray:
    """float32 per pixel: a month of ``n < n_ref`` clear views (0 as 1: not seen anyway) has
    its score scaled by its median's standard error against that of ``n_ref`` views (the
    tolerances' month), ``sqrt(V(n_ref) / V(n))`` (:func:`median_variance`); 1 otherwise."""
    factor = xr.full_like(views, 1.0, dtype=np.float32)
    for n in range(1, int(n_ref)):
        f = np.float32(math.sqrt(median_variance(int(n_ref)) / median_variance(n)))
        factor = xr.where(views == n if n > 1 else views <= 1, f, factor)
    return factor


def spectral_score(ndvi, mvi, values: tuple):
    """The rule's spectral score with ``values`` = (MVI threshold, canopy-cover NDVI) of the
    site (:func:`indices.habitat.mangrove_values`): NDVI over its floor, and MVI over the
    threshold, or where MVI exceeds the rule's upper bound (water in the pixel) NDVI over the
    canopy-cover NDVI, each over its tolerance."""
    rule = RULES["mangrove"]
    mvi_min, ndvi_half = values
    mvi_term = (mvi - mvi_min) / (np.float32(rule.mvi_tolerance_share) * mvi_min)
    cover_term = (ndvi - ndvi_half) / np.float32(rule.ndvi_tolerance)
    spectral = xr.where(mvi > rule.mvi_max, cover_term, mvi_term)
    return np.minimum((ndvi - rule.ndvi_min) / rule.ndvi_tolerance, spectral)


BAND_NAMES = {"green": "B03", "red": "B04", "nir": "B08", "swir16": "B11"}


def site_values(base: xr.Dataset, n_wet, n_clear, ndvi, mvi) -> tuple:
    """The site's (MVI threshold, canopy-cover NDVI) from its baseline composite, as
    bluecarbon estimates them (:func:`indices.mangrove.mangrove_parameters`: the published
    rule's context, the canopy along the coast's water)."""
    rule = RULES["mangrove"]
    kw = dict(min_views=rule.min_views, reach_m=rule.reach_m)
    first = intertidal_context(n_wet, n_clear,
                               spectral_score(ndvi, mvi, mangrove_values(rule, None)) > -1,
                               shore_gap_m=rule.shore_gap_m, **kw)
    shore = shore_band(n_wet, n_clear, band_m=rule.shore_gap_m, **kw)
    # the vegetation the floor rule reaches: the population the site's threshold splits
    reach = intertidal_context(n_wet, n_clear,
                               spectral_score(ndvi, mvi, mangrove_values(floor_rule(rule),
                                                                         None)) > -1,
                               shore_gap_m=rule.shore_gap_m, **kw)
    comp = base[list(BAND_NAMES)].rename(BAND_NAMES)
    (params,) = dask.compute(mangrove_parameters(comp, rule, first, shore, reach))
    return mangrove_values(rule, params)


def drop_small(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """``mask`` without its 8-connected patches of fewer than ``min_pixels`` pixels."""
    labels, _ = ndimage.label(mask, structure=EIGHT)
    keep = np.bincount(labels.ravel()) >= min_pixels
    keep[0] = False
    return keep[labels]


FILL_MONTHS = 12
"""Calendar months after the baseline window a never-clear pixel is filled from."""


def fill_baseline(base: xr.Dataset, n_clear: xr.DataArray, n_wet: xr.DataArray,
                  refl: xr.Dataset, clear: xr.DataArray, base1: dt.date,
                  months: int = FILL_MONTHS) -> tuple:
    """The baseline composite's never-clear pixels filled best-available-pixel style (White
    et al. 2014; bluecarbon's rule v17, written here from its description, not imported):
    each takes the median of its clear views in the first calendar month after the window
    (within ``months``; a view later in the window's last month counts as the first) that
    sees it clear, and that month's clear and wet counts. The caller fills only a window
    that saw a tide on the site (:func:`window_sees_tide`)."""
    todo = (n_clear == 0).values
    times = refl.time.values
    after = times > np.datetime64(f"{base1}T23:59:59")
    off = np.maximum((times.astype("datetime64[M]") - np.datetime64(base1, "M"))
                     .astype(int), 1)
    for k in sorted(set(off[after & (off <= months)].tolist())):
        if not todo.any():
            break
        pick = np.flatnonzero(after & (off == k))
        views = clear.isel(time=pick).sum("time").values
        take = todo & (views > 0)
        if not take.any():
            continue
        month = refl.isel(time=pick)
        med = month.median("time").compute()
        wet = ((month.green > month.nir) & clear.isel(time=pick)).sum("time").values
        keep = xr.DataArray(~take, dims=("y", "x"))
        base = xr.Dataset({b: base[b].where(keep, med[b]) for b in base.data_vars})
        n_clear = n_clear.where(keep, views.astype(n_clear.dtype))
        n_wet = n_wet.where(keep, wet.astype(n_wet.dtype))
        todo &= ~take
    return base, n_clear, n_wet


def window_sees_tide(n_wet: np.ndarray, n_clear: np.ndarray, inside: np.ndarray,
                     min_views: int) -> bool:
    """The fill's gate (a project choice of bluecarbon's rule v17, mirrored from its
    description; not a published method): whether the baseline
    window's own counts show an intertidal zone inside the site, pixels seen both wet and
    dry over ``min_views`` clear views, opened with a 3 x 3 square (nothing outside the
    grid). A window that saw no tide there could not build the site's context; its
    never-clear pixels are then left unfilled."""
    flips = (n_clear >= min_views) & (n_wet >= 1) & (n_wet < n_clear)
    zone = ndimage.binary_opening(flips, structure=np.ones((3, 3), bool), border_value=0)
    return bool((zone & inside).any())


def site_change(items: list[pystac.Item], feature: dict, *, median: str, chunks: int,
                end: dt.date | None, mmu_ha: float = 0.1,
                keep: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Monthly extent, gain and loss (ha) of one mangrove site; and the phases' seconds.
    ``keep`` (diagnosis): a dict given the per-pixel arrays behind the last row."""
    t0 = time.perf_counter()
    props = feature["properties"]
    site = shapely.geometry.shape(feature["geometry"])
    base0, base1 = (dt.date.fromisoformat(props[k]) for k in ("baseline_start", "baseline_end"))
    items = [it for it in items if shapely.geometry.shape(it.geometry).intersects(site)
             and (end is None or it.datetime.date() <= end)]
    epsg = ProjectionExtension.ext(items[0]).epsg  # proj:epsg or proj:code
    ds = odc.stac.load(items, bands=[*BANDS, "scl"], geopolygon=Geometry(site, "EPSG:4326"),
                       crs=f"EPSG:{epsg}", resolution=10, groupby="solar_day",
                       chunks={"x": chunks, "y": chunks})
    # the L2A offset of each time step (its nearest item: one item a solar day here)
    stamps = np.array([np.datetime64(it.datetime.replace(tzinfo=None), "ns") for it in items])
    nearest = [int(np.argmin(np.abs(stamps - t))) for t in ds.time.values]
    offset = xr.DataArray(np.array([dn_offset(items[i]) for i in nearest], np.float32),
                          coords={"time": ds.time})
    clear = ds.scl.isin(CLEAR_SCL)
    for b in BANDS:
        clear = clear & (ds[b] != 0)
    refl = xr.Dataset({b: ((ds[b].astype("float32") + offset).clip(min=0) / 10_000).where(clear)
                       for b in BANDS})

    in_base = slice(str(base0), f"{base1}T23:59:59")
    baseline = refl.sel(time=in_base)
    months = refl.resample(time="1MS")
    if median == "numpy":
        monthly, base = months.median(), baseline.median("time")
    else:
        monthly, base = months.map(bn_median), bn_median(baseline)
    seen_months = np.unique(ds.time.values.astype("datetime64[M]")).astype("datetime64[ns]")
    monthly = monthly.sel(time=seen_months)
    views = clear.resample(time="1MS").sum().sel(time=seen_months)
    # the intertidal context of the baseline: its clear views, those that were wet (green
    # above NIR), and the spectral candidates of its composite, through bluecarbon's context
    n_clear = clear.sel(time=in_base).sum("time")
    n_wet = ((refl.green > refl.nir) & clear).sel(time=in_base).sum("time")
    geobox = ds.odc.geobox
    inside = rasterize([Geometry(site, "EPSG:4326").to_crs(geobox.crs).geom],
                       out_shape=geobox.shape, transform=geobox.affine, fill=0,
                       dtype="uint8").astype(bool)
    t1 = time.perf_counter()
    with warnings.catch_warnings():  # months in which a pixel is never clear
        warnings.filterwarnings("ignore", "All-NaN slice")
        base, n_clear, n_wet = dask.compute(base, n_clear, n_wet)
        unseen = (n_clear == 0).values
        rule = RULES["mangrove"]
        if unseen.any() and window_sees_tide(n_wet.transpose("y", "x").values,
                                             n_clear.transpose("y", "x").values, inside,
                                             rule.min_views):
            base, n_clear, n_wet = fill_baseline(base, n_clear, n_wet, refl, clear, base1)
        ndvi = (base.nir - base.red) / (base.nir + base.red)
        mvi = abs(base.nir - base.green) / abs(base.swir16 - base.green)
        values = site_values(base, n_wet, n_clear, ndvi, mvi)
        context = intertidal_context(n_wet, n_clear, spectral_score(ndvi, mvi, values) > -1,
                                     min_views=rule.min_views, shore_gap_m=rule.shore_gap_m,
                                     reach_m=rule.reach_m)
        base_codes = mangrove_codes(base, context, values).transpose("y", "x").values
        (monthly_codes,) = dask.compute(
            mangrove_codes(monthly, context, values, views).transpose("time", "y", "x"))
    t2 = time.perf_counter()

    pixel_ha = abs(geobox.resolution.x * geobox.resolution.y) / 10_000
    mmu = max(1, math.ceil(mmu_ha / pixel_ha - 1e-9))
    base_map = (base_codes >= 0) & (base_codes & 1 == 1) & inside
    state, pending = base_map.copy(), np.zeros_like(base_map)
    rows = []
    for period, code in zip(monthly_codes.time.values, monthly_codes.values, strict=True):
        seen = (code >= 0) & inside
        # a class changes on the second consecutive confident look against it, or on one
        # look twice as far past the threshold (not seen: the last class)
        confident = seen & (code & 2 == 2)
        against = confident & ((code & 1 == 1) != state)
        flip = against & (pending | (code & 4 == 4))
        state = np.where(flip, ~state, state) & inside
        pending = np.where(confident, against & ~flip, pending)
        gain = drop_small(state & ~base_map, mmu)
        loss = drop_small(base_map & ~state, mmu)
        extent = (base_map | gain) & ~loss
        rows.append({"site_id": props["id"], "period": pd.Timestamp(period).date(),
                     "extent_ha": extent.sum() * pixel_ha,
                     "baseline_extent_ha": base_map.sum() * pixel_ha,
                     "gain_ha": gain.sum() * pixel_ha, "loss_ha": loss.sum() * pixel_ha,
                     "valid_fraction": (seen & inside).sum() / inside.sum()})
    t3 = time.perf_counter()
    if keep is not None:
        keep.update(inside=inside, base_codes=base_codes, monthly_codes=monthly_codes.values,
                    context=np.asarray(context), unseen=unseen, state=state, gain=gain,
                    loss=loss, values=values, periods=monthly_codes.time.values)
    return pd.DataFrame(rows), {"graph_s": t1 - t0, "compute_s": t2 - t1, "walk_s": t3 - t2,
                                "grid": list(geobox.shape)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalog", required=True)
    p.add_argument("--sites", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--median", choices=MEDIANS, default="numpy")
    p.add_argument("--chunks", type=int, default=2048)
    p.add_argument("--end", type=dt.date.fromisoformat)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    items = read_items(args.catalog)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"median": args.median, "sites": {}}
    for feature in json.loads(args.sites.read_text())["features"]:
        if feature["properties"]["habitat"] != "mangrove":
            continue
        table, phases = site_change(items, feature, median=args.median, chunks=args.chunks,
                                    end=args.end)
        t = time.perf_counter()
        table.to_parquet(args.out / f"change-{feature['properties']['id']}.parquet")
        last = table.iloc[-1]
        report["sites"][feature["properties"]["id"]] = phases | {
            "write_s": time.perf_counter() - t, "months": len(table),
            "last_period": str(last["period"]),
            **{k: float(last[k]) for k in ("extent_ha", "gain_ha", "loss_ha")}}
    report["seconds"] = time.perf_counter() - t0
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
