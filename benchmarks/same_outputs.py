"""Whether two results folders hold the same outputs: every Parquet table's rows (all columns
but ``run_id``, bit for bit, NaN equal to NaN), every map's pixels, georeferencing and
overviews, the alerts' GeoJSON (but ``run_id``), the run records' per-site entries (but times
and ids).

    python -m benchmarks.same_outputs BEFORE AFTER

Exit 0 and ``same`` when equal; else exit 1 and each difference on a line. What
:mod:`benchmarks.whole_job` runs change must not change what they write (issue 22: "rows and
maps bit-identical to before").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

IGNORED = ("run_id",)


def _table(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame = frame.drop(columns=[c for c in IGNORED if c in frame.columns])
    return frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)


def _same_frames(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    if list(a.columns) != list(b.columns):
        return f"columns {list(a.columns)} != {list(b.columns)}"
    if len(a) != len(b):
        return f"{len(a)} rows != {len(b)}"
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            same = np.array_equal(x.view(np.uint64 if x.itemsize == 8 else np.uint32),
                                  y.view(np.uint64 if y.itemsize == 8 else np.uint32)) or \
                np.array_equal(x, y, equal_nan=True)
        else:
            same = all((u is v) or (u == v) or (u != u and v != v) for u, v in zip(x, y, strict=True))
        if not same:
            return f"column {col} differs"
    if str(a.dtypes.to_dict()) != str(b.dtypes.to_dict()):
        return f"dtypes {a.dtypes.to_dict()} != {b.dtypes.to_dict()}"
    return None


def _same_raster(a: Path, b: Path) -> str | None:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        if x.profile != y.profile:
            return f"profile {x.profile} != {y.profile}"
        if x.tags() != y.tags():
            return f"tags {x.tags()} != {y.tags()}"
        if x.overviews(1) != y.overviews(1):
            return f"overviews {x.overviews(1)} != {y.overviews(1)}"
        if not np.array_equal(x.read(), y.read()):
            return "pixels differ"
        for level in range(len(x.overviews(1))):
            f = x.overviews(1)[level]
            shape = (x.height // f, x.width // f)
            if not np.array_equal(x.read(1, out_shape=shape), y.read(1, out_shape=shape)):
                return f"overview {f} differs"
    return None


def _record_sites(folder: Path) -> dict:
    out = {}
    for path in sorted((folder / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        for site, entry in record.get("sites", {}).items():
            out[site] = entry
    return out


def compare(before: Path, after: Path) -> list[str]:
    problems = []
    files = {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
    other = {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    ignore = {".run.lock", ".write.lock"}
    keep = {p for p in files | other if p.name not in ignore and p.parts[0] != "runs"}
    for rel in sorted(keep - (files & other)):
        problems.append(f"{rel}: only in {'before' if rel in files else 'after'}")
    for rel in sorted(keep & files & other):
        a, b = before / rel, after / rel
        if rel.suffix == ".parquet":
            why = _same_frames(_table(a), _table(b))
        elif rel.suffix == ".tif":
            why = _same_raster(a, b)
        elif rel.suffix == ".geojson":
            ja, jb = (json.loads(p.read_text()) for p in (a, b))
            for doc in (ja, jb):
                for feature in doc.get("features", []):
                    feature.get("properties", {}).pop("run_id", None)
            why = None if ja == jb else "features differ"
        else:
            why = None if a.read_bytes() == b.read_bytes() else "bytes differ"
        if why:
            problems.append(f"{rel}: {why}")
    ra, rb = _record_sites(before), _record_sites(after)
    if set(ra) != set(rb):
        problems.append(f"run records: sites {sorted(ra)} != {sorted(rb)}")
    for site in set(ra) & set(rb):
        for key in ("status", "scenes_found", "scenes_new", "rows", "failed_scenes"):
            if ra[site].get(key) != rb[site].get(key):
                problems.append(f"run record {site} {key}: {ra[site].get(key)} != "
                                f"{rb[site].get(key)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    problems = compare(Path(args[0]), Path(args[1]))
    print("\n".join(problems) if problems else "same")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
