"""The accuracy folder of a results folder: where a design and its files live.

    <out>/accuracy/<site_id>/<YYYY-MM>/design.json      the design (:class:`indices.sampling.Design`)
    <out>/accuracy/<site_id>/<YYYY-MM>/samples.csv      the field sheet (WGS84 lon/lat, map x/y)
    <out>/accuracy/<site_id>/<YYYY-MM>/samples.geojson  the same points, for QGIS or a GPS
    <out>/accuracy/<site_id>/<YYYY-MM>/compare.json     the last map-to-map comparison
    <out>/accuracy/site_id=<id>/part-0.parquet          the assessments (table ``accuracy``)

The same folder holds the Parquet table and the designs (docs/design.md, "Contracts added in
the second round"). Writers of both hold the folder's writers' lock
(:func:`flows.results.files.writer_lock`), which also clears temp files of killed writers;
every file is written whole (:func:`flows.results.files.atomic_path`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from flows.results.files import atomic_path, check_inside, ensure_dir, writer_lock
from flows.results.store import check_site_id
from indices.sampling import Design, field_sheet

__all__ = ["ACCURACY_DIR", "DESIGN_FILES", "AccuracyError", "design_dir", "load_design",
           "parse_period", "write_design", "write_json"]

ACCURACY_DIR = "accuracy"
DESIGN_FILES = ("samples.geojson", "samples.csv", "design.json")
"""Written together; ``design.json`` is replaced last."""
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class AccuracyError(Exception):
    """An accuracy command that cannot be done as asked; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def parse_period(text: object) -> str:
    """``YYYY-MM`` as given, or :class:`AccuracyError`."""
    if not isinstance(text, str) or not _PERIOD.fullmatch(text):
        raise AccuracyError(f"--period must be a month, YYYY-MM (e.g. 2025-06), got "
                            f"{str(text)[:40]!r}")
    return text


def design_dir(out: str | Path, site_id: str, period: str) -> Path:
    """``<out>/accuracy/<site_id>/<YYYY-MM>`` (site id and period checked)."""
    return Path(out) / ACCURACY_DIR / check_site_id(site_id) / parse_period(period)


def load_design(out: str | Path, site_id: str, period: str) -> Design:
    """The design of ``site_id`` and ``period`` under ``out``; :class:`AccuracyError` (one line,
    saying what to run) when there is none or it cannot be read."""
    path = design_dir(out, site_id, period) / "design.json"
    if not path.is_file():
        raise AccuracyError(f"no design for {site_id} {period} in {Path(out)} ({path} not "
                            f"found): run `bluecarbon accuracy design --site {site_id} --period "
                            f"{period} --out {out}` first")
    try:
        design = Design.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AccuracyError(f"{path}: not a readable design ({type(exc).__name__}: {exc})") \
            from None
    if (design.site_id, design.period) != (site_id, period):
        raise AccuracyError(f"{path} holds the design of {design.site_id} {design.period}, "
                            f"not {site_id} {period}")
    return design


def _clean(value):
    """JSON-safe: NaN and infinities as null, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_bytes(data) -> bytes:
    return (json.dumps(_clean(data), indent=1, ensure_ascii=False, allow_nan=False)
            + "\n").encode("utf-8")


def samples_geojson(sheet: pd.DataFrame) -> dict:
    """The field sheet as a GeoJSON FeatureCollection of WGS84 points (RFC 7946: lon, lat),
    properties ``sample_id, stratum, map_class, reference_class`` (empty)."""
    features = [{"type": "Feature",
                 "geometry": {"type": "Point", "coordinates": [float(r.lon), float(r.lat)]},
                 "properties": {"sample_id": r.sample_id, "stratum": r.stratum,
                                "map_class": r.map_class, "reference_class": ""}}
                for r in sheet.itertuples(index=False)]
    return {"type": "FeatureCollection", "features": features}


def _geojson_bytes(collection: dict) -> bytes:
    """A FeatureCollection with one feature a line: small, and readable in a text editor."""
    lines = [json.dumps(_clean(f), ensure_ascii=False, allow_nan=False)
             for f in collection["features"]]
    return ('{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines)
            + "\n]}\n").encode("utf-8")


def write_design(out: str | Path, design: Design, *, keep_old: str | None = None
                 ) -> list[Path]:
    """Write ``samples.geojson``, ``samples.csv`` and ``design.json`` of ``design`` into its
    folder. Each is written whole to a temp file first; all three are written before any is
    put in place, ``design.json`` last, so a crash leaves the old design or the new one (a
    labels file with coordinates is checked against the design's pixels anyway). With
    ``keep_old`` (a suffix), files already there are first renamed ``<name>.<keep_old>``: a
    replaced design's sheet may hold a field team's labels."""
    folder = design_dir(out, design.site_id, design.period)
    sheet = field_sheet(design)
    content = {
        "samples.geojson": _geojson_bytes(samples_geojson(sheet)),
        "samples.csv": sheet.to_csv(index=False, lineterminator="\n").encode("utf-8"),
        "design.json": _json_bytes(design.to_dict()),
    }
    paths = [folder / name for name in DESIGN_FILES]
    root = Path(out)
    with writer_lock(root / ACCURACY_DIR, root=root):
        ensure_dir(folder, root)
        if keep_old:
            for path in paths:
                check_inside(path, root)
                if path.is_file() and not path.is_symlink():
                    os.replace(path, path.with_name(f"{path.name}.{keep_old}"))
        with contextlib.ExitStack() as stack:
            # entered first, left last: design.json is replaced after the two sample files
            for path in reversed(paths):
                tmp = stack.enter_context(atomic_path(path, root))
                tmp.write_bytes(content[path.name])
    return paths


def write_json(out: str | Path, site_id: str, period: str, name: str, data: dict) -> Path:
    """``<design folder>/<name>`` (e.g. ``compare.json``), written whole under the lock."""
    folder = design_dir(out, site_id, period)
    path = folder / name
    root = Path(out)
    with writer_lock(root / ACCURACY_DIR, root=root):
        ensure_dir(folder, root)
        with atomic_path(path, root) as tmp:
            tmp.write_bytes(_json_bytes(data))
    return path
