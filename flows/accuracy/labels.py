"""Labelled samples as a field team hands them back: ``samples.csv`` or ``samples.geojson``
with ``reference_class`` filled in.

Everything is read as text (no value is guessed into a number, a date or a NaN); a CSV may be
comma, semicolon or tab separated and carry a UTF-8 byte order mark (spreadsheets write
both). The sample ids name the design (``<site>_<YYYY-MM>_<k>``,
:func:`indices.sampling.sample_id_parts`). Points whose coordinates were kept
(``lon``/``lat``, ``x``/``y``, or a GeoJSON geometry) must still fall in the pixel that was
sampled: a moved point, or the sheet of an earlier design of the month, is refused. Every
problem is one :class:`indices.accuracy.LabelError`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer
from rasterio.transform import Affine

from aoi.files import check_input
from indices.accuracy import LabelError
from indices.sampling import Design, sample_id_parts

__all__ = ["check_points", "design_of", "read_labels"]

MAX_LABELS_BYTES = 64 * 2**20
"""A labels file of a few thousand points is well under a megabyte."""


def _few(ids) -> str:
    ids = [str(i) for i in ids]
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def _text(value) -> str:
    return "" if value is None else str(value)


def _read_geojson(path: Path, data: bytes) -> pd.DataFrame:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LabelError(f"{path}: not valid GeoJSON ({exc})") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise LabelError(f"{path}: not a GeoJSON FeatureCollection")
    rows = []
    for k, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise LabelError(f"{path}: feature {k} has no properties")
        row = {str(key): _text(v) for key, v in props.items()}
        geom = feature.get("geometry")
        if isinstance(geom, dict) and geom.get("type") == "Point":
            coords = geom.get("coordinates") or []
            if len(coords) >= 2:
                row["lon"], row["lat"] = _text(coords[0]), _text(coords[1])
        rows.append(row)
    return pd.DataFrame(rows, dtype=object).fillna("")


def _read_csv(path: Path, data: bytes) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelError(f"{path}: not UTF-8 text (save the sheet as CSV UTF-8)") from None
    header = text.split("\n", 1)[0]
    sep = max((",", ";", "\t"), key=lambda s: (header.count(s), s == ","))
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           skipinitialspace=True, quoting=csv.QUOTE_MINIMAL)
    except (ValueError, pd.errors.ParserError) as exc:
        raise LabelError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None


def read_labels(path: str | Path) -> pd.DataFrame:
    """The rows of a labels file, every cell as text (``lon``/``lat`` from a GeoJSON point).
    CSV by default; GeoJSON for ``.geojson``/``.json`` or content starting with ``{``."""
    path = Path(path)
    check_input(path, MAX_LABELS_BYTES, LabelError, what="labels file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LabelError(f"labels file {path}: {exc.strerror or exc}") from None
    geo = path.suffix.lower() in (".geojson", ".json") or data.lstrip(b"\xef\xbb\xbf \r\n\t")[:1] == b"{"
    frame = _read_geojson(path, data) if geo else _read_csv(path, data)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise LabelError(f"labels file {path} has no rows")
    return frame


def design_of(labels: pd.DataFrame, path: str | Path = "labels") -> tuple[str, str]:
    """``(site_id, period)`` the labels' sample ids belong to; one design per file."""
    if "sample_id" not in labels.columns:
        raise LabelError(f"{path}: no 'sample_id' column")
    keys = {}
    for sid in labels["sample_id"]:
        try:
            keys.setdefault(sample_id_parts(sid), sid)
        except ValueError as exc:
            raise LabelError(f"{path}: {exc}") from None
    if len(keys) > 1:
        shown = ", ".join(f"{s} {p}" for s, p in sorted(keys))
        raise LabelError(f"{path}: sample ids of {len(keys)} designs ({shown}); one labels file "
                         "per site and month")
    return next(iter(keys))


def _numbers(labels: pd.DataFrame, cols: tuple[str, str], where: str
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row mask of the rows giving both coordinates, and their values as floats."""
    a = labels[cols[0]].astype(str).str.strip()
    b = labels[cols[1]].astype(str).str.strip()
    given = (a != "") & (b != "")
    try:
        u = pd.to_numeric(a[given].str.replace(",", ".", regex=False)).to_numpy(float)
        v = pd.to_numeric(b[given].str.replace(",", ".", regex=False)).to_numpy(float)
    except ValueError as exc:
        raise LabelError(f"labels for {where}: {cols[0]}/{cols[1]} hold a value that is not a "
                         f"number ({str(exc).splitlines()[0]})") from None
    return given.to_numpy(), u, v


def check_points(labels: pd.DataFrame, design: Design) -> None:
    """Refuse rows whose coordinates are not in the pixel the design sampled for their id.

    Coordinates checked: ``lon``/``lat`` (WGS84, transformed to the map's CRS) and ``x``/``y``
    (the map's CRS) wherever a row gives them; a row may leave them empty. The tolerance is
    the pixel itself (the sample unit is the pixel, Olofsson et al. 2014 section 4.1): the
    point as written must lie in it, so rounding to 6 decimals of a degree (0.1 m) or a GPS
    fix within the pixel passes, a point moved to another pixel does not."""
    where = f"{design.site_id} {design.period}"
    frame = design.sample_frame().set_index("sample_id")
    inverse = ~Affine(*design.transform)
    ids = labels["sample_id"].astype(str).str.strip().to_numpy()
    for cols, crs in ((("lon", "lat"), "EPSG:4326"), (("x", "y"), None)):
        if not set(cols) <= set(labels.columns):
            continue
        given, u, v = _numbers(labels, cols, where)
        if not given.any():
            continue
        if crs is not None:
            to_map = Transformer.from_crs(CRS.from_user_input(crs),
                                          CRS.from_user_input(design.crs), always_xy=True)
            u, v = to_map.transform(u, v)
        col, row = inverse @ (np.asarray(u, float), np.asarray(v, float))
        want = frame.loc[ids[given], ["row", "col"]].to_numpy()
        with np.errstate(invalid="ignore"):
            off = ~((np.floor(row) == want[:, 0]) & (np.floor(col) == want[:, 1]))
        if off.any():
            bad = ids[given][off]
            raise LabelError(f"labels for {where}: {len(bad)} points are off the design "
                             f"({'/'.join(cols)} not in the pixel sampled for "
                             f"{_few(bad)}); moved points, or a sheet of another design?")
