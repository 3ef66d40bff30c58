"""Hardening (issue 20): a whole run on a catalogue mutated at random.

Each example takes a fresh copy of the tiny static STAC catalog of real COGs
(:func:`hostile.tiny_catalog`), applies one to four mutations drawn by Hypothesis to its
items (NaN in bboxes, footprints, offsets and cloud cover, impossible dates, missing or wrong
assets, hrefs to FIFOs and devices, broken JSON, link loops, duplicate ids), to its rasters
(floating-point or signed pixels, values beyond uint16, no or the wrong CRS, a 1 x 1 raster,
three bands, SCL classes beyond 11, truncated or garbage files) and to the results folder
(links to a bystander folder, a file where a folder goes, a corrupt partition of another site),
then runs ``bluecarbon run --source stac`` (as a plain run or a Prefect flow, by the seed's
parity) and asserts that

* the run ends within :data:`DEADLINE_S`;
* nothing is printed as a traceback (no ``-v``);
* the exit code is one ``bluecarbon`` documents (:data:`flows.cli.EXIT_CODES`);
* every table left is readable (observations, change, alerts);
* nothing outside ``--out`` changed (the catalogue, the bystander folder).

``BLUECARBON_FUZZ_EXAMPLES`` sets the number of examples (CI: 5, ~40 s); each prints its seed
and mutations, so that a failure can be replayed with ``BLUECARBON_FUZZ_SEED``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from hostile import RUN_MODES, api_for, items, run_cli, run_record, stac_run, tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.results import store
from flows.results.alerts import read_alerts

DEADLINE_S = 180.0
"""A tiny run takes ~5 s; a hang, a retry loop or an unbounded read would take far longer."""
EXAMPLES = int(os.environ.get("BLUECARBON_FUZZ_EXAMPLES", "5"))
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")
KEYS = {"B02": ("blue", "B02"), "B03": ("green", "B03"), "B04": ("red", "B04"),
        "B08": ("nir", "B08"), "B11": ("swir16", "B11"), "B12": ("swir22", "B12"),
        "SCL": ("scl", "SCL")}


# -- item mutations ---------------------------------------------------------------------------
def _asset(doc: dict, band: str) -> dict:
    return next(doc["assets"][k] for k in KEYS[band] if k in doc["assets"])


def _item_mutation(name: str, doc: dict, rng: random.Random, ctx: dict) -> dict | str | None:
    """``doc`` changed in place; a str is the file's new text, None removes the file."""
    band = rng.choice(BANDS)
    nan = float("nan")
    if name == "nan-bbox":
        doc["bbox"] = [nan, doc["bbox"][1], nan, doc["bbox"][3]]
    elif name == "nan-geometry":
        ring = doc["geometry"]["coordinates"][0]
        ring[rng.randrange(len(ring))] = [nan, nan]
    elif name == "geometry-point":
        doc["geometry"] = {"type": "Point", "coordinates": [1e300, -1e300]}
    elif name == "far-datetime":
        doc["properties"]["datetime"] = rng.choice(["9999-12-31T23:59:59Z",
                                                    "0001-01-01T00:00:00Z",
                                                    "1970-01-01T00:00:00Z"])
    elif name == "bad-datetime":
        doc["properties"]["datetime"] = rng.choice([None, "yesterday", 12, "2025-13-45"])
    elif name == "no-asset":
        for k in KEYS[band]:
            doc["assets"].pop(k, None)
    elif name == "href-fifo":
        _asset(doc, band)["href"] = str(ctx["fifo"])
    elif name == "href-device":
        _asset(doc, band)["href"] = rng.choice(["/dev/zero", "/dev/null", "/dev/urandom"])
    elif name == "href-missing":
        _asset(doc, band)["href"] = "./no-such-file.tif"
    elif name == "href-folder":
        _asset(doc, band)["href"] = "."
    elif name == "bad-offset":
        for a in doc["assets"].values():
            for rb in a.get("raster:bands") or []:
                rb["offset"] = rng.choice([nan, "minus a thousand", 1e308, None])
        doc["properties"].pop("s2:processing_baseline", None)
    elif name == "bad-scale":
        for a in doc["assets"].values():
            for rb in a.get("raster:bands") or []:
                rb["scale"] = rng.choice([nan, 0.0, 1.0, -1e-4])
    elif name == "bad-cloud":
        doc["properties"]["eo:cloud_cover"] = rng.choice([nan, -5, 1e9, "cloudy", None])
    elif name == "no-id":
        doc.pop("id")
    elif name == "not-an-object":
        return rng.choice(["[]", "null", '"item"', "{", "", "\x00\xff"])
    elif name == "deep-json":
        return "[" * 100_000 + "]" * 100_000
    elif name == "remove-file":
        return None
    return doc


ITEM_MUTATIONS = ("nan-bbox", "nan-geometry", "geometry-point", "far-datetime", "bad-datetime",
                  "no-asset", "href-fifo", "href-device", "href-missing", "href-folder",
                  "bad-offset", "bad-scale", "bad-cloud", "no-id", "not-an-object", "deep-json",
                  "remove-file")


# -- raster mutations -------------------------------------------------------------------------
def _raster_mutation(name: str, path: Path, rng: random.Random) -> None:
    if name == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(1, max(2, len(data) - 1))])
        return
    if name == "garbage":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000))))
        return
    with rasterio.open(path) as src:
        px, profile = src.read(), dict(src.profile)
    profile.pop("blockxsize", None), profile.pop("blockysize", None)
    profile.update(driver="GTiff", tiled=False)
    if name == "float":
        px, profile["nodata"] = px.astype(np.float32) / 10000.0, None
    elif name == "signed":
        px, profile["nodata"] = px.astype(np.int32) - rng.randrange(1, 5000), None
    elif name == "beyond-uint16":
        px, profile["nodata"] = px.astype(np.uint32) + 65_536, None
    elif name == "no-crs":
        profile["crs"] = None
    elif name == "wrong-crs":
        profile["crs"] = rng.choice(["EPSG:4326", "EPSG:3857", "EPSG:32633"])
    elif name == "one-pixel":
        px = px[:, :1, :1]
    elif name == "three-bands":
        px = np.concatenate([px] * 3)
    elif name == "big-values":
        px = np.full_like(px, 255 if px.dtype == np.uint8 else 65535)
    profile.update(count=px.shape[0], height=px.shape[1], width=px.shape[2],
                   dtype=px.dtype.name)
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(px)


RASTER_MUTATIONS = ("truncate", "garbage", "float", "signed", "beyond-uint16", "no-crs",
                    "wrong-crs", "one-pixel", "three-bands", "big-values")


# -- results folder and catalog mutations ------------------------------------------------------
def _place_mutation(name: str, world: Path, out: Path, bystander: Path) -> None:
    out.mkdir(exist_ok=True)
    if name == "link-run-lock":
        (out / ".run.lock").symlink_to(bystander / "precious.txt")
    elif name == "link-table-folder":
        (out / "change").mkdir(exist_ok=True)
        (out / "change" / "site_id=tiny-0000").symlink_to(bystander, target_is_directory=True)
    elif name == "link-maps":
        (out / "maps").symlink_to(bystander, target_is_directory=True)
    elif name == "file-for-folder":
        (out / "runs").write_text("in the way")
    elif name == "corrupt-other-site":
        part = out / "observations" / "site_id=other-0000" / "part-0.parquet"
        part.parent.mkdir(parents=True)
        part.write_bytes(b"PAR1 not parquet PAR1")
    elif name == "link-loop":
        collection = world / "stac" / "sentinel-2-l2a" / "collection.json"
        doc = json.loads(collection.read_text())
        doc["links"] += [{"rel": "child", "href": "../catalog.json"},
                         {"rel": "item", "href": "./collection.json"}]
        collection.write_text(json.dumps(doc))
    elif name == "duplicate-item":
        first = items(world)[0]
        twin = first.parent.parent / "twin" / first.name
        twin.parent.mkdir()
        twin.write_text(first.read_text().replace("./", f"../{first.parent.name}/"))
        root = json.loads(collection_path(world).read_text())
        root["links"].append({"rel": "item", "href": f"./twin/{first.name}"})
        collection_path(world).write_text(json.dumps(root))


def collection_path(world: Path) -> Path:
    return world / "stac" / "sentinel-2-l2a" / "collection.json"


PLACE_MUTATIONS = ("link-run-lock", "link-table-folder", "link-maps", "file-for-folder",
                   "corrupt-other-site", "link-loop", "duplicate-item")

mutation = st.one_of(st.tuples(st.just("item"), st.sampled_from(ITEM_MUTATIONS)),
                     st.tuples(st.just("raster"), st.sampled_from(RASTER_MUTATIONS)),
                     st.tuples(st.just("place"), st.sampled_from(PLACE_MUTATIONS)))


@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_a_run_on_a_mutated_catalogue_ends_cleanly(seed, mutations, tiny_catalog, capfd,
                                                   request):
    from flows.cli import EXIT_CODES

    seed = int(os.environ.get("BLUECARBON_FUZZ_SEED", seed))
    mode = RUN_MODES[seed % 2]  # both ways a run goes, by the seed: replayable
    with capfd.disabled():  # on the terminal whatever the capture: a failure can be replayed
        print(f"\nfuzz example: seed={seed} mode={mode} mutations={mutations}", end="",
              flush=True)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bluecarbon-fuzz-") as tmp:
        tmp = Path(tmp)
        world = tmp / "world"
        shutil.copytree(tiny_catalog, world)
        bystander = tmp / "bystander"
        bystander.mkdir()
        (bystander / "precious.txt").write_text("not bluecarbon's to write\n")
        ctx = {"fifo": tmp / "asset.fifo"}
        os.mkfifo(ctx["fifo"])
        out = tmp / "out"
        files = items(world)
        for kind, name in mutations:
            if kind == "item":
                target = rng.choice(files)
                try:  # an item already broken by an earlier mutation may not take this one
                    changed = _item_mutation(name, json.loads(target.read_text()), rng, ctx)
                except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                        RecursionError):
                    continue
                if changed is None:
                    target.unlink()
                else:
                    target.write_text(changed if isinstance(changed, str) else
                                      json.dumps(changed))
            elif kind == "raster":
                target = rng.choice(files).parent / f"{rng.choice(BANDS)}.tif"
                if target.is_file():
                    _raster_mutation(name, target, rng)
            else:
                try:
                    _place_mutation(name, world, out, bystander)
                except FileExistsError:
                    pass  # two mutations of one place
        before = tree(tmp, skip=out)
        code, said, seconds = run_cli(stac_run(world, out), api_for(mode, request), capfd,
                                      timeout=DEADLINE_S)
        record = run_record(out) if out.is_dir() and list(out.glob("runs/*.json")) else {}
        failed = {k: v.get("reason") for k, v in record.get("sites", {}).items()
                  if v.get("status") == "failed"}
        with capfd.disabled():
            print(f" -> exit {code} in {seconds:.1f} s {failed or ''}", end="", flush=True)
        assert code in EXIT_CODES, said[-3000:]
        links = {"link-table-folder", "link-maps"} & {name for _, name in mutations}
        for site_id, reason in failed.items():  # a bad item or raster never fails the site
            assert links and "symbolic link" in reason, (site_id, reason)
        assert "Traceback" not in said, said[-5000:]
        assert tree(tmp, skip=out) == before, "something outside --out changed"
        if out.is_dir() and not (out / ".run.lock").is_symlink():
            for table in ("observations", "change"):
                unreadable: dict[str, str] = {}
                store.read_table(out, table, unreadable=unreadable)
                assert set(unreadable) <= {"other-0000"}, unreadable  # only what was planted
            if (out / "alerts").is_dir() and not (out / "alerts").is_symlink():
                read_alerts(out, "tiny-0000")
            for record in (out / "runs").glob("*.json") if (out / "runs").is_dir() else ():
                json.loads(record.read_text())
