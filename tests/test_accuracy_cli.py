"""``bluecarbon accuracy design | assess | compare`` as a user runs them (issue 18), on a results
folder from the real pipeline (demo source, no Prefect) whose planted truth is known, and on
the real Global Mangrove Watch v3 tiles.

The statistics themselves are checked in test_accuracy_stats.py (Olofsson et al. 2014's worked
example, brute force) and test_accuracy_coverage.py (coverage over 200 designs); here: the
files, the table and its readers, the refusals, reference maps, and what the summary and the
notebook say.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from aoi import bundled_sites_path, load_sites, site_grid, site_mask
from flows.accuracy.reference import reference_on_grid
from flows.cli import main
from flows.config import RunConfig
from flows.results import store
from flows.results.maps import COLOURS, map_path, write_cog, write_site_maps
from flows.results.runs import RunRecord, write_run_record
from flows.site import load_range, site_tables
from flows.sources.demo import DemoScenario, DemoSource
from indices.accuracy import labels_from_codes, reference_change
from indices.sampling import CLASSES, Design

SITE = "acc-mangrove"
PERIOD = "2024-06"
MID = dt.date(2024, 6, 15)
SEED = 7
SHEET_COLUMNS = ["sample_id", "stratum", "map_class", "reference_class", "lon", "lat", "x", "y"]
CONTRACT = ["site_id", "period", "class", "n_samples", "map_area_ha", "estimated_area_ha",
            "ci_low_ha", "ci_high_ha", "users_accuracy", "producers_accuracy",
            "overall_accuracy"]


# --------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> types.SimpleNamespace:
    """A results folder as `bluecarbon run --sites sites.geojson` leaves it (maps, change and
    observation rows, a run record naming the sites file) for one mangrove site with planted
    gain and loss; short baseline and 10-day revisit to stay fast."""
    root = tmp_path_factory.mktemp("accuracy-cli")
    features = {}
    for path in sorted(bundled_sites_path().glob("*.geojson")):
        for feature in json.loads(path.read_text())["features"]:
            features[feature["properties"]["id"]] = feature
    feature = json.loads(json.dumps(features["selangor-kuala-selangor"]))
    feature["properties"].update(id=SITE, baseline_start="2023-01-01", baseline_end="2023-03-31")
    sites_file = root / "sites.geojson"
    sites_file.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    (site,) = load_sites(sites_file)
    source = DemoSource(seed=0, scenario=DemoScenario(revisit_days=10))
    end = dt.date(2024, 6, 30)
    out = root / "results"
    tables = site_tables(site, source, source.search(site, *load_range(site, None, end)),
                         start=None, end=end, run_id="accuracy-test", products=True)
    write_site_maps(out, site, tables.maps)
    store.write_rows(out, "change", tables.change)
    store.write_rows(out, "observations", tables.observations)
    record = RunRecord.start("accuracy-test", RunConfig(sites=sites_file, out=out), end)
    record.sites[site.id] = {"status": "processed"}  # as the flow records a site it wrote
    record.finish()
    write_run_record(out, record)
    truth = source.truth(site)
    codes = reference_change(truth.baseline, truth.habitat_at(MID))
    true_ha = {name: float(((codes == k) & truth.site_mask).sum() * truth.grid.pixel_area_ha)
               for k, name in enumerate(CLASSES)}
    true_ha["extent"] = true_ha["stable_habitat"] + true_ha["gain"]
    return types.SimpleNamespace(root=root, out=out, site=site, sites_file=sites_file,
                                 truth=truth, codes=codes, true_ha=true_ha)


def fresh(base, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(base.out, out)
    return out


def accuracy(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["accuracy", *args])
    except SystemExit as exc:  # argparse's own refusals (exit 2, one line)
        code = exc.code
    got = capsys.readouterr()
    return code, got.out, got.err


def design_folder(out: Path) -> Path:
    return out / "accuracy" / SITE / PERIOD


def drawn(base, tmp_path, capsys) -> Path:
    out = fresh(base, tmp_path)
    code, _, err = accuracy(capsys, "design", "--site", SITE, "--period", PERIOD,
                            "--out", str(out), "--seed", str(SEED))
    assert code == 0, err
    return out


def truth_labels(base, out: Path) -> pd.DataFrame:
    """samples.csv as written, ``reference_class`` filled in from the planted truth."""
    folder = design_folder(out)
    design = Design.from_dict(json.loads((folder / "design.json").read_text()))
    sheet = pd.read_csv(folder / "samples.csv", dtype=str, keep_default_na=False)
    where = design.sample_frame().set_index("sample_id")
    rc = where.loc[sheet["sample_id"], ["row", "col"]].to_numpy()
    sheet["reference_class"] = [CLASSES[c] for c in base.codes[rc[:, 0], rc[:, 1]]]
    return sheet


def show(capsys, *text) -> None:
    """Print past the capture of the commands' output (for replaying a failure)."""
    with capsys.disabled():
        print(*text)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".write.lock"}


# --------------------------------------------------------------------------- design


def test_design_writes_the_field_sheet_with_wgs84_points_inside_the_site(base, tmp_path,
                                                                         capsys):
    out = fresh(base, tmp_path)
    # no --sites: the site is found through the run record, as after `bluecarbon run --sites`
    code, printed, err = accuracy(capsys, "design", "--site", SITE, "--period", PERIOD,
                                  "--out", str(out), "--seed", str(SEED))
    assert code == 0, err
    folder = design_folder(out)
    assert sorted(p.name for p in folder.iterdir()) == ["design.json", "samples.csv",
                                                       "samples.geojson"]
    design = Design.from_dict(json.loads((folder / "design.json").read_text()))
    sheet = pd.read_csv(folder / "samples.csv", dtype=str, keep_default_na=False)
    assert list(sheet.columns) == SHEET_COLUMNS
    assert len(sheet) == design.n == sum(s.n for s in design.strata)
    assert (sheet["reference_class"] == "").all()
    assert (sheet["stratum"] == sheet["map_class"]).all()
    assert design.seed == SEED and design.target_se == 0.01
    # what the command says: N, points per stratum, the floor, the seed, where the files are
    assert f"{design.n} sample points" in printed and f"seed {SEED}" in printed
    for s in design.strata:
        assert f"{s.name}" in printed and f"{s.n:>8}" in printed
    assert f"floor for the rare strata: {design.floor_applied} points" in printed
    assert str(folder) in printed

    # every point: inside the site polygon (WGS84), in the pixel it names, of its stratum's
    # class in the change map (read back with rasterio, not through the code under test)
    geo = json.loads((folder / "samples.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == design.n
    assert all(f["geometry"]["type"] == "Point" for f in geo["features"])
    assert all(set(f["properties"]) == {"sample_id", "stratum", "map_class", "reference_class"}
               and f["properties"]["reference_class"] == "" for f in geo["features"])
    lonlat = np.array([f["geometry"]["coordinates"] for f in geo["features"]])
    assert np.array_equal(lonlat, sheet[["lon", "lat"]].astype(float).to_numpy())
    assert shapely.contains_xy(base.site.geometry, lonlat[:, 0], lonlat[:, 1]).all()
    with rasterio.open(map_path(out, SITE, f"{PERIOD}-01", "change")) as src:
        change, inverse, crs = src.read(1), ~src.transform, src.crs
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lonlat[:, 0],
                                                                            lonlat[:, 1])
    col, row = inverse @ (np.asarray(x), np.asarray(y))
    codes = change[np.floor(row).astype(int), np.floor(col).astype(int)]
    assert [CLASSES[c] for c in codes] == sheet["stratum"].tolist()
    # gain and loss are rare here: each gets the floor; the rest is proportional to area
    by = {s.name: s for s in design.strata}
    assert by["gain"].n == by["loss"].n == 50
    big = by["stable_other"].n / by["stable_habitat"].n
    assert big == pytest.approx(by["stable_other"].pixels / by["stable_habitat"].pixels, rel=0.02)


def test_design_is_reproducible_and_never_replaced_silently(base, tmp_path, capsys):
    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    before = snapshot(folder)
    # the same seed and map: the same design, nothing rewritten
    code, printed, _ = accuracy(capsys, "design", "--site", SITE, "--period", PERIOD,
                                "--out", str(out), "--seed", str(SEED))
    assert code == 0 and "unchanged" in printed and snapshot(folder) == before
    # another draw over one that may be in the field: refused in one line, files untouched
    code, _, err = accuracy(capsys, "design", "--site", SITE, "--period", PERIOD,
                            "--out", str(out), "--seed", str(SEED + 1))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--replace" in err
    assert snapshot(folder) == before
    # without --seed a random one, recorded and printed; --n and --floor as asked
    code, printed, err = accuracy(capsys, "design", "--site", SITE, "--period", PERIOD,
                                  "--out", str(out), "--replace", "--n", "120",
                                  "--floor", "20")
    assert code == 0, err
    design = Design.from_dict(json.loads((folder / "design.json").read_text()))
    assert design.n == 120 and design.target_se is None and design.floor_applied == 20
    assert f"seed {design.seed}" in printed
    assert {s.name: s.n for s in design.strata}["gain"] == 20
    # the replaced design's files are kept beside it (a sheet may hold a team's labels)
    kept = {p.name.split(".replaced-")[0]: p.read_bytes() for p in folder.glob("*.replaced-*")}
    assert kept == before and "kept as" in printed


@pytest.mark.parametrize(("args", "words"), [
    (["--site", "no-such-site", "--period", PERIOD], "not found"),
    (["--site", "../../etc", "--period", PERIOD], "unsafe site id"),
    (["--site", SITE, "--period", "2024-13"], "YYYY-MM"),
    (["--site", SITE, "--period", "2022-06"], "no change map"),
    (["--site", SITE, "--period", PERIOD, "--n", "1"], "at least 2"),
    (["--site", SITE, "--period", PERIOD, "--n", "many"], "invalid int"),
])
def test_design_refuses_bad_input_in_one_line(base, tmp_path, capsys, args, words):
    out = fresh(base, tmp_path)
    code, _, err = accuracy(capsys, "design", *args, "--out", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (out / "accuracy").exists()


# --------------------------------------------------------------------------- assess


def _readers(out: Path) -> dict[str, pd.DataFrame]:
    """The accuracy table by each reader a user has, with the design folders beside it."""
    import duckdb

    table = out / "accuracy"
    return {
        "store": store.read_table(out, "accuracy"),
        "pandas": pd.read_parquet(table, ignore_prefixes=store.ACCURACY_IGNORE,
                                  partitioning=store.hive_partitioning()),
        "pyarrow": ds.dataset(table, format="parquet", partitioning=store.hive_partitioning(),
                              exclude_invalid_files=True).to_table().to_pandas(),
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{table}/*/*.parquet', "
                             "hive_partitioning=true, hive_types={'site_id': VARCHAR})").df(),
    }


DESIGN_SEEDS = tuple(range(7, 17))
"""The designs whose intervals' coverage is asserted (fixed before any was run: SEED and
the nine after it, printed by the test; five until the review of session 30 found that too
weak a test)."""
COVERED_AT_LEAST = 7
"""Designs of the 10 in which each class's interval must cover its planted area: 7, asserted
per class (a pooled rate let gain miss in 3 of 5 designs, review of rule v7). For a 95 %
interval that holds its level, fewer than 7 of 10 covering has probability
``scipy.stats.binom.cdf(6, 10, 0.95)`` = 0.10 % (designs independent: a new sample each),
0.51 % that any of the 5 classes does (at most 5 x 0.10 %). Its power: a class whose interval
covers in only 60 % of designs passes with probability 0.38 (3 of 5 let it pass with 0.68);
one covering 80 % passes with 0.88. 8 of 10 would fail a sound class with 1.2 %."""


def test_truth_labels_give_intervals_covering_the_planted_areas(base, tmp_path, capsys):
    """The table and its readers for one design (``SEED``), and the intervals' coverage of
    the planted areas over several designs (``DESIGN_SEEDS``): a rate, not one draw. One
    draw asserted the interval of each class, where one draw in 20 may miss by design;
    each class is asserted here over ten designs (:data:`COVERED_AT_LEAST`), never
    pooled (a pooled rate hid gain missing in 3 of 5 designs with Olofsson et al.'s
    estimator, whose stratum without an omission sample added no variance: a zero-width
    interval, 3.19-3.19 ha against 4.60; the estimator now gives such a stratum the
    variance of an Agresti-Coull share, :mod:`indices.accuracy`). The estimator's coverage
    over 200 designs is test_accuracy_coverage.py's."""
    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    truth_labels(base, out).to_csv(folder / "samples.csv", index=False)
    # no --out: the labels file sits in its design's folder, which names the results folder
    code, printed, err = accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))
    assert code == 0, err
    assert f"assessed with {sum(1 for _ in open(folder / 'samples.csv')) - 1} reference " \
           "points" in printed
    tables = _readers(out)
    for name, frame in tables.items():
        assert len(frame) == 5, name
        assert set(CONTRACT) <= set(frame.columns), name
        assert set(frame["class"]) == {*CLASSES, "extent"}, name
        assert (frame["site_id"].astype(str) == SITE).all(), name
    rows = tables["store"].set_index("class")
    assert rows["method"].eq("labels").all() and rows["source"].eq("samples.csv").all()
    assert not rows["map_changed"].any()
    assert rows.loc["extent", "map_area_ha"] == pytest.approx(
        rows.loc["stable_habitat", "map_area_ha"] + rows.loc["gain", "map_area_ha"])
    assert rows["sample_size"].eq(rows.drop("extent")["n_samples"].sum()).all()
    # assessing again replaces the month's rows, never duplicates them
    assert accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))[0] == 0
    assert len(store.read_table(out, "accuracy")) == 5
    covered = {name: [] for name in ("extent", "gain", "loss", "stable_habitat", "stable_other")}
    for seed in DESIGN_SEEDS:
        if seed != SEED:
            code, _, err = accuracy(capsys, "design", "--site", SITE, "--period", PERIOD,
                                    "--out", str(out), "--seed", str(seed), "--replace")
            assert code == 0, err
            truth_labels(base, out).to_csv(folder / "samples.csv", index=False)
            assert accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))[0] == 0
        rows = store.read_table(out, "accuracy").set_index("class")
        show(capsys, "design seed", seed, "\n", rows[["map_area_ha", "estimated_area_ha",
                                                       "ci_low_ha", "ci_high_ha"]],
             base.true_ha)
        for name, hits in covered.items():
            hits.append(bool(rows.loc[name, "ci_low_ha"] <= base.true_ha[name]
                             <= rows.loc[name, "ci_high_ha"]))
    show(capsys, f"design seeds {DESIGN_SEEDS}, covered per class:",
         {name: sum(hits) for name, hits in covered.items()})
    for name, hits in covered.items():
        assert sum(hits) >= COVERED_AT_LEAST, (name, hits, DESIGN_SEEDS)


def test_geojson_labels_give_the_same_table_as_csv(base, tmp_path, capsys):
    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    labels = truth_labels(base, out).set_index("sample_id")["reference_class"]
    geo = json.loads((folder / "samples.geojson").read_text())
    for feature in geo["features"]:  # as QGIS saves an edited layer: nulls, 6 decimals
        props = feature["properties"]
        props["reference_class"] = labels[props["sample_id"]]
        feature["geometry"]["coordinates"] = [round(v, 6) for v in
                                              feature["geometry"]["coordinates"]]
    (tmp_path / "field.geojson").write_text(json.dumps(geo))
    code, _, err = accuracy(capsys, "assess", "--labels", str(tmp_path / "field.geojson"),
                            "--out", str(out))
    assert code == 0, err
    from_geojson = store.read_table(out, "accuracy").set_index("class")
    truth_labels(base, out).to_csv(tmp_path / "field.csv", index=False, sep=";")
    assert accuracy(capsys, "assess", "--labels", str(tmp_path / "field.csv"),
                    "--out", str(out))[0] == 0
    from_csv = store.read_table(out, "accuracy").set_index("class")
    numbers = [c for c in CONTRACT if c not in ("site_id", "period", "class")]
    pd.testing.assert_frame_equal(from_geojson[numbers], from_csv[numbers])


def _bad_labels(kind: str, sheet: pd.DataFrame, path: Path) -> Path:
    sheet = sheet.copy()
    if kind == "unlabelled":
        sheet.loc[3, "reference_class"] = ""
    elif kind == "unknown class":
        sheet.loc[3, "reference_class"] = "mangrove"
    elif kind == "another site":
        sheet.insert(0, "site_id", "kenya-mida-creek")
    elif kind == "two designs":
        sheet.loc[3, "sample_id"] = "kenya-mida-creek_2024-06_0004"
    elif kind == "not a sample id":
        sheet.loc[3, "sample_id"] = "point 4"
    elif kind == "not in the design":
        sheet.loc[3, "sample_id"] = f"{SITE}_{PERIOD}_9999"
    elif kind == "duplicate":
        sheet.loc[3, "sample_id"] = sheet.loc[2, "sample_id"]
    elif kind == "missing row":
        sheet = sheet.drop(index=3)
    elif kind == "stratum changed":
        sheet.loc[3, "stratum"] = "gain" if sheet.loc[3, "stratum"] != "gain" else "loss"
    elif kind == "point moved":
        sheet.loc[3, "lon"] = str(float(sheet.loc[3, "lon"]) + 0.0005)  # ~55 m
    elif kind == "coordinate not a number":
        sheet.loc[3, "y"] = "north"
    elif kind == "no reference_class column":
        sheet = sheet.drop(columns="reference_class")
    elif kind == "no rows":
        sheet = sheet.iloc[:0]
    elif kind == "geojson null class":
        geo = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(r.lon),
                                                                               float(r.lat)]},
             "properties": {"sample_id": r.sample_id, "reference_class":
                            None if k == 3 else r.reference_class}}
            for k, r in enumerate(sheet.itertuples())]}
        path = path.with_suffix(".geojson")
        path.write_text(json.dumps(geo))
        return path
    sheet.to_csv(path, index=False)
    return path


BAD = ["unlabelled", "unknown class", "another site", "two designs", "not a sample id",
       "not in the design", "duplicate", "missing row", "stratum changed", "point moved",
       "coordinate not a number", "no reference_class column", "no rows",
       "geojson null class"]


@pytest.fixture(scope="module")
def labelled(base, tmp_path_factory):
    """A drawn design with truth labels, and the accuracy folder's bytes before any assess."""
    out = tmp_path_factory.mktemp("bad-labels") / "results"
    shutil.copytree(base.out, out)
    assert main(["accuracy", "design", "--site", SITE, "--period", PERIOD, "--out", str(out),
                 "--seed", str(SEED)]) == 0
    return out, truth_labels(base, out)


@pytest.mark.parametrize("kind", BAD)
def test_every_bad_labels_file_is_one_line_and_writes_nothing(labelled, tmp_path, capsys,
                                                              kind):
    out, sheet = labelled
    capsys.readouterr()
    before = snapshot(out / "accuracy")
    path = _bad_labels(kind, sheet, tmp_path / "labels.csv")
    code, printed, err = accuracy(capsys, "assess", "--labels", str(path), "--out", str(out))
    show(capsys, kind, "->", err.strip())
    assert code == 2 and printed == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("bluecarbon: error: ")
    assert snapshot(out / "accuracy") == before
    assert not list((out / "accuracy").glob("site_id=*"))


# --------------------------------------------------------------------------- reference maps


def gmw_like(base, when: dt.date, path: Path, *, res_deg: float = 0.00005,
             crop_east: bool = False) -> Path:
    """The planted truth at ``when`` as a GMW-like raster: EPSG:4326, 1 mangrove / 0 not,
    declared nodata 0 like the GMW v3 tiles; ``crop_east`` keeps the western half only."""
    grid = base.truth.grid
    habitat = base.truth.habitat_at(when).astype(np.uint8)
    transform, width, height = calculate_default_transform(
        grid.crs, "EPSG:4326", grid.width, grid.height, *grid.bounds, resolution=res_deg)
    if crop_east:
        width //= 2
    out = np.zeros((height, width), np.uint8)
    reproject(habitat, out, src_transform=Affine(*grid.transform), src_crs=grid.crs,
              dst_transform=transform, dst_crs="EPSG:4326", resampling=Resampling.nearest)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="uint8", crs="EPSG:4326", transform=transform, nodata=0) as dst:
        dst.write(out, 1)
    return path


@pytest.mark.parametrize("res_deg", [0.00005, 0.000222222222222], ids=["5m", "gmw-25m"])
def test_reference_maps_in_epsg4326_label_the_sample_like_the_truth(base, tmp_path, capsys,
                                                                    res_deg):
    """The planted truth written in EPSG:4326 (finer than the site grid, and at GMW v3's own
    0.000222 deg) and read back onto the design's grid labels each sample with the truth's
    class at the point or, where a class boundary passes near it, a class the truth holds
    within nearest-neighbour reach: the half-diagonal of a reference cell, plus GDAL's
    approximation (0.125 cell, gdalwarp -et) in each of the two reprojections."""
    out = drawn(base, tmp_path, capsys)
    design = Design.from_dict(json.loads((design_folder(out) / "design.json").read_text()))
    now = gmw_like(base, MID, tmp_path / "now.tif", res_deg=res_deg)
    then = gmw_like(base, base.site.baseline_end, tmp_path / "then.tif", res_deg=res_deg)
    on_grid = [reference_on_grid(p, design.transform, design.shape, design.crs)
               for p in (then, now)]
    codes = reference_change(on_grid[0].habitat, on_grid[1].habitat,
                             on_grid[0].valid & on_grid[1].valid)
    got = labels_from_codes(design, codes).set_index("sample_id")["reference_class"]
    want = labels_from_codes(design, base.codes).set_index("sample_id")["reference_class"]
    differ = got[got != want]
    lat = float(np.radians(base.site.centroid_lonlat[1]))
    cell_m = np.array([res_deg * 111_320 * np.cos(lat), res_deg * 110_574])  # x, y metres
    reach_m = np.hypot(*cell_m) / 2 + 2 * 0.125 * cell_m.max()
    radius = int(np.ceil(reach_m / 10 - 0.5))
    show(capsys, f"{res_deg} deg: {len(differ)} of {len(want)} samples labelled differently "
         f"from the truth; all must find their label within {radius} px")
    frame = design.sample_frame().set_index("sample_id")
    for sid, label in differ.items():
        r, c = frame.loc[sid, ["row", "col"]]
        around = base.codes[max(r - radius, 0):r + radius + 1, max(c - radius, 0):c + radius + 1]
        assert CLASSES.index(label) in around, sid
    if cell_m.max() < 10:  # finer than the site grid: only GDAL's approximation near an edge
        assert len(differ) <= 0.01 * len(want)


def test_assess_from_reference_maps(base, tmp_path, capsys):
    out = drawn(base, tmp_path, capsys)
    now = gmw_like(base, MID, tmp_path / "now.tif")
    then = gmw_like(base, base.site.baseline_end, tmp_path / "then.tif")

    # the commands: two maps give the four classes, one the extent alone
    code, printed, err = accuracy(capsys, "assess", "--reference", str(now),
                                  "--reference-baseline", str(then), "--site", SITE,
                                  "--period", PERIOD, "--out", str(out))
    assert code == 0, err
    rows = store.read_table(out, "accuracy").set_index("class")
    assert rows["method"].eq("reference").all() and rows["source"].eq("then.tif -> now.tif").all()
    assert rows["estimated_area_ha"].notna().all()
    assert rows.loc["extent", "ci_low_ha"] <= base.true_ha["extent"] <= \
        rows.loc["extent", "ci_high_ha"]
    code, printed, err = accuracy(capsys, "assess", "--reference", str(now), "--site", SITE,
                                  "--period", PERIOD, "--out", str(out))
    assert code == 0, err
    rows = store.read_table(out, "accuracy").set_index("class")
    assert len(rows) == 5 and rows["source"].eq("now.tif").all()  # the month replaced whole
    assert rows.drop("extent")["estimated_area_ha"].isna().all()
    assert rows.loc["extent", "ci_low_ha"] <= base.true_ha["extent"] <= \
        rows.loc["extent", "ci_high_ha"]
    assert "habitat / not habitat" in printed


def test_reference_maps_are_refused_where_they_cannot_label(base, tmp_path, capsys):
    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    half = gmw_like(base, MID, tmp_path / "half.tif", crop_east=True)
    code, _, err = accuracy(capsys, "assess", "--reference", str(half), "--site", SITE,
                            "--period", PERIOD, "--out", str(out))
    assert code == 2 and "reference has no data at" in err and len(err.splitlines()) == 1
    assert not list((out / "accuracy").glob("site_id=*"))
    for args, words in (
            (["--reference", str(tmp_path / "missing.tif")], "not found"),
            (["--reference", str(folder / "samples.csv")], "not a readable raster"),
            ([], "--reference needs --site and --period")):
        code, _, err = accuracy(capsys, "assess", *(args or ["--reference", str(half)]),
                                *(["--site", SITE, "--period", PERIOD] if args else []),
                                "--out", str(out))
        assert code == 2 and words in err and len(err.splitlines()) == 1, err
    # field labels are not replaced by a reference map's unless asked
    truth_labels(base, out).to_csv(folder / "samples.csv", index=False)
    assert accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))[0] == 0
    now = gmw_like(base, MID, tmp_path / "now.tif")
    reference = ["assess", "--reference", str(now), "--site", SITE, "--period", PERIOD,
                 "--out", str(out)]
    code, _, err = accuracy(capsys, *reference)
    assert code == 2 and "--replace" in err
    assert store.read_table(out, "accuracy")["method"].eq("labels").all()
    assert accuracy(capsys, *reference, "--replace")[0] == 0
    assert store.read_table(out, "accuracy")["method"].eq("reference").all()


def test_a_rerun_map_is_flagged(base, tmp_path, capsys):
    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    path = map_path(out, SITE, f"{PERIOD}-01", "change")
    with rasterio.open(path) as src:
        codes, tags = src.read(1), src.tags()
    first = np.argwhere(codes == 0)[0]
    codes[tuple(first)] = 1  # one pixel reclassified by a rerun
    grid = site_grid(base.site)
    write_cog(path, codes, grid, colormap={k: v or (0, 109, 44, 255)
                                           for k, v in COLOURS["change"].items()}, tags=tags)
    truth_labels(base, out).to_csv(folder / "samples.csv", index=False)
    code, printed, err = accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))
    assert code == 0, err
    assert store.read_table(out, "accuracy")["map_changed"].all()
    assert "recomputed after the sample was drawn" in printed


# --------------------------------------------------------------------------- compare


@pytest.mark.realdata
def test_compare_against_gmw_v3_on_the_real_tiles(realdata, tmp_path, capsys):
    """GMW v3 1996 as the month's map of a site in the Ten Thousand Islands (Florida),
    compared with GMW v3 2020. The reprojection is checked pixel by pixel against an
    independent nearest neighbour (each pixel centre to lon/lat with pyproj, the GMW cell
    that holds it); the areas against the same comparison on GMW's own grid with
    ellipsoidal pixel areas (test_accuracy_stats.py checks that one against geodesic
    polygon areas)."""
    from rasterio.features import geometry_mask
    from rasterio.windows import from_bounds
    from shapely.geometry import Polygon, mapping

    from indices.agreement import compare_maps
    from indices.sampling import pixel_areas_ha

    gmw = realdata / "gmw_N26W082_florida"
    poly = Polygon([(-81.52, 25.84), (-81.46, 25.83), (-81.43, 25.87), (-81.47, 25.90),
                    (-81.51, 25.89)])
    sites_file = tmp_path / "florida.geojson"
    sites_file.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": mapping(poly),
        "properties": {"id": "ten-thousand-islands", "name": "Ten Thousand Islands",
                       "habitat": "mangrove", "baseline_start": "2016-01-01",
                       "baseline_end": "2016-12-31"}}]}))  # Sentinel-2's era: sites refuse
    # an earlier baseline; GMW 1996 stands in for the month's map, whatever the baseline
    (site,) = load_sites(sites_file)
    grid = site_grid(site)
    mask = site_mask(site, grid)
    # independent nearest neighbour onto the site grid
    with rasterio.open(gmw / "GMW_N26W082_1996_v3.tif") as a, \
            rasterio.open(gmw / "GMW_N26W082_2020_v3.tif") as b:
        g96, g20, t = a.read(1), b.read(1), a.transform
    xs, ys = np.meshgrid(grid.x_coords(), grid.y_coords())
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    fcol, frow = (lon - t.c) / t.a, (lat - t.f) / t.e
    col, row = np.floor(fcol).astype(int), np.floor(frow).astype(int)
    map96 = np.where(mask, g96[row, col] == 1, 0).astype(np.uint8)  # the month's map
    ref20 = g20[row, col] == 1
    out = tmp_path / "results"
    write_cog(map_path(out, site.id, "2020-06-01", "change"),
              np.where(mask, map96, 255).astype(np.uint8), grid,
              colormap={k: v or (0, 109, 44, 255) for k, v in COLOURS["change"].items()},
              tags={"site_id": site.id, "product": "change", "period": "2020-06"})

    code, printed, err = accuracy(capsys, "compare", "--site", site.id, "--period", "2020-06",
                                  "--reference", str(gmw / "GMW_N26W082_2020_v3.tif"),
                                  "--out", str(out), "--sites", str(sites_file))
    assert code == 0, err
    show(capsys, printed)
    got = json.loads((out / "accuracy" / site.id / "2020-06" / "compare.json").read_text())

    # pixel by pixel: GDAL's nearest neighbour is the cell holding each centre, except within
    # its approximate transformer's error (0.125 cell, gdalwarp -et) of a cell edge
    on_grid = reference_on_grid(gmw / "GMW_N26W082_2020_v3.tif", grid.transform, grid.shape,
                                grid.crs)
    edge = np.minimum.reduce([fcol % 1, 1 - fcol % 1, frow % 1, 1 - frow % 1])
    differ = (on_grid.habitat != ref20) & mask
    show(capsys, f"{differ.sum()} of {mask.sum()} pixels differ, all within "
         f"{edge[differ].max() if differ.any() else 0:.3f} cell of an edge")
    assert (edge[differ] < 0.125).all() and differ.sum() <= 0.01 * mask.sum()
    independent = compare_maps(map96 == 1, on_grid.habitat, grid.pixel_area_ha, mask)
    for key in ("both_ha", "map_only_ha", "reference_only_ha", "neither_ha"):
        assert got[key] == pytest.approx(getattr(independent, key), rel=1e-9, abs=1e-9), key
    assert got["f1"] == pytest.approx(independent.f1) and \
        got["overall_agreement"] == pytest.approx(independent.overall_agreement)

    # against the comparison on GMW's own grid (ellipsoidal areas, centres in the polygon)
    with rasterio.open(gmw / "GMW_N26W082_1996_v3.tif") as a, \
            rasterio.open(gmw / "GMW_N26W082_2020_v3.tif") as b:
        win = from_bounds(*poly.bounds, transform=a.transform).round_offsets().round_lengths()
        n96, n20, wt = a.read(1, window=win), b.read(1, window=win), a.window_transform(win)
    inside = geometry_mask([poly], n96.shape, wt, invert=True)
    native = compare_maps(n96 == 1, n20 == 1, pixel_areas_ha(wt, n96.shape, "EPSG:4326"),
                          inside)
    rel = {k: got[k] / getattr(native, k) - 1 for k in ("both_ha", "map_only_ha",
                                                        "reference_only_ha", "neither_ha")}
    show(capsys, "site grid against GMW's grid, relative:",
         {k: f"{v:+.2%}" for k, v in rel.items()})
    assert got["total_ha"] == pytest.approx(native.total_ha, rel=0.005)
    assert got["both_ha"] == pytest.approx(native.both_ha, rel=0.005)
    assert got["f1"] == pytest.approx(native.f1, abs=0.005)
    assert got["reference_habitat_native_grid_ha"] == pytest.approx(native.reference_ha)
    assert "F1" in printed and "overall agreement" in printed


# --------------------------------------------------------------------------- report, notebook


def test_summary_says_which_interval_it_shows(base, tmp_path, capsys):
    from flows.reports import build, model, render, text

    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    month = dt.date(2024, 6, 1)
    change = store.read_table(out, "change")
    change["period"] = pd.to_datetime(change["period"]).dt.date

    def page(accuracy_rows):
        report = build.site_report(base.site, month, change, 3, out, accuracy=accuracy_rows)
        partner = model.PartnerReport(partner="<Partner>", slug="p", month=month,
                                      sites=(report,), rows=change.iloc[:0], simulated=True,
                                      versions="t")
        return report, render.render_html(partner), render.render_html(partner, text=True)

    report, html, _ = page(store.read_table(out, "accuracy"))
    assert report.accuracy is None and text.MAP_BASED_NOTE in html
    sheet = truth_labels(base, out)
    sheet.to_csv(folder / "samples.csv", index=False)
    assert accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))[0] == 0
    rows = store.read_table(out, "accuracy")
    report, html, plain = page(rows)
    n = len(sheet)
    assert f"Assessed with {n} reference points" in report.accuracy.caption
    assert f"Assessed with {n} reference points" in html and text.MAP_BASED_NOTE not in html
    extent = rows.set_index("class").loc["extent"]
    assert f"{extent['ci_low_ha']:,.1f} – {extent['ci_high_ha']:,.1f} ha" in html
    assert "Overall accuracy" in html and "User’s accuracy" in html
    assert f"Accuracy assessment ({n} reference points" in plain
    # another month of the same site: the map-based wording again
    report, html, _ = page(rows.assign(period=dt.date(2024, 5, 1)))
    assert report.accuracy is None
    # whatever a source name holds, it is text on the page
    hostile = rows.assign(method="reference", source="<script>alert(1)</script>.tif")
    _, html, _ = page(hostile)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;.tif" in html


def test_site_notebook_shows_the_assessment(base, tmp_path, capsys, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    out = drawn(base, tmp_path, capsys)
    folder = design_folder(out)
    truth_labels(base, out).to_csv(folder / "samples.csv", index=False)
    assert accuracy(capsys, "assess", "--labels", str(folder / "samples.csv"))[0] == 0
    monkeypatch.setenv("BLUECARBON_RESULTS", str(out))
    monkeypatch.setenv("BLUECARBON_SITES", str(base.sites_file))
    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" /
                       "site_overview.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells for o in c.get("outputs", []))
    n = len(truth_labels(base, out))
    assert f"with {n} reference points" in text and "error-adjusted extent (ha)" in text
    assert "no accuracy assessment yet" not in text
