"""Which files hold vector data, what format each is in, and whether it is safe to read.

Every file is checked before a byte of it is parsed: it must be a regular file (a FIFO or a
device would block or never end) no larger than :data:`MAX_FILE_BYTES`, and so must every
sidecar GDAL would open with it (a shapefile's ``.dbf``, a GeoPackage's ``-wal``); a zip may
not unpack to more than :data:`MAX_FILE_BYTES` or hold more than :data:`MAX_ZIP_ENTRIES`
entries. Problems raise the caller's error class with one line naming the file.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "FOLDER_SUFFIXES",
    "KINDS",
    "MAX_FILE_BYTES",
    "MAX_ZIP_ENTRIES",
    "check_file",
    "check_input",
    "kind_of",
    "read_bytes",
    "vector_files",
]

MAX_FILE_BYTES: int = 256 * 2**20
"""Largest file read (and largest total a zip may unpack to): a GeoJSON of thousands of
detailed polygons is a few MB. The same cap as ``flows.config.MAX_SITES_FILE_BYTES``."""
MAX_ZIP_ENTRIES: int = 10_000
"""Most entries a zip may hold (a zipped shapefile has four to eight)."""
KINDS: dict[str, str] = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "shapefile",
    ".zip": "zipped shapefile",
    ".kml": "KML",
    ".kmz": "KMZ",
}
"""Format by file suffix (lower case). Other suffixes are recognised by their first bytes."""
FOLDER_SUFFIXES: tuple[str, ...] = (".geojson", ".gpkg", ".shp", ".zip", ".kml", ".kmz")
"""Files read from a folder (top level only; a shapefile's sidecars come with its .shp)."""

_Error = Callable[[str], Exception]
_SHAPEFILE_NEEDS = (".shx", ".dbf")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"


def vector_files(root: Path, error: _Error) -> list[Path]:
    """``[root]`` for a file; for a folder, its files with a :data:`FOLDER_SUFFIXES` suffix
    (any case), sorted by name. A missing path, or a folder without such files, is refused."""
    if root.is_dir():
        files = sorted(
            p for p in root.iterdir() if p.suffix.lower() in FOLDER_SUFFIXES and p.is_file()
        )
        if not files:
            others = ", ".join(f"*{s}" for s in FOLDER_SUFFIXES[1:])
            raise error(f"{root}: no *.geojson files (nor {others}) in this directory")
        return files
    if not root.exists():
        raise error(f"{root}: no such file or directory")
    return [root]


def check_input(path: str | os.PathLike[str], max_bytes: int, error: _Error, *, what: str = "",
                folders: bool = False, missing_ok: bool = False) -> int:
    """The one check of an input path before it is opened (sites, calibration and reference
    files, STAC catalogs, config files): a regular file of at most ``max_bytes``, found
    without opening it (a FIFO would block, ``/dev/zero`` never end). Its size in bytes; 0 for
    a folder (``folders``) or a missing path (``missing_ok``: left to the reader, which names
    it). Refusals raise ``error`` with one line naming the input (``what``, then the path)."""
    name = f"{what} {path}" if what else str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if missing_ok:
            return 0
        raise error(f"{name} does not exist: no such file or directory") from None
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror or exc}") from None
    if folders and stat.S_ISDIR(info.st_mode):
        return 0
    if not stat.S_ISREG(info.st_mode):
        alternative, unread = (" or a folder", "a FIFO") if folders else ("", "a folder, a FIFO")
        raise error(f"cannot read {name}: it is not a regular file{alternative} ({unread} or a "
                    "device cannot be read)")
    if info.st_size > max_bytes:
        raise error(f"cannot read {name}: {info.st_size / 2**20:,.1f} MB; files over "
                    f"{max_bytes / 2**20:g} MB are refused")
    return info.st_size


def check_file(path: Path, error: _Error) -> int:
    """Refuse anything but a regular file of at most :data:`MAX_FILE_BYTES`; its size in bytes."""
    return check_input(path, MAX_FILE_BYTES, error, what="file")


def kind_of(path: Path, error: _Error) -> str:
    """The format of a checked file: by suffix (:data:`KINDS`); for ``.geojson``, ``.json``
    and other suffixes by its first bytes (SQLite: GeoPackage; zip: KMZ when it holds a .kml,
    else zipped shapefile; XML: KML); anything else is read as GeoJSON, whose parser names
    what is wrong."""
    kind = KINDS.get(path.suffix.lower())
    if kind in (None, "GeoJSON"):  # a GeoPackage or zip saved as .geojson is still read
        head = _head(path, error)
        if head.startswith(_SQLITE_MAGIC):
            kind = "GeoPackage"
        elif head.startswith(_ZIP_MAGIC):
            kind = "KMZ" if any(n.lower().endswith(".kml") for n in _zip_names(path, error)) else (
                "zipped shapefile"
            )
        elif head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"<?xml", b"<kml")):
            kind = "KML"
        else:
            kind = "GeoJSON"
    elif kind == "zipped shapefile":  # Google Earth's .kmz renamed .zip is still KML
        names = [n.lower() for n in _zip_names(path, error)]
        if not any(n.endswith(".shp") for n in names) and any(n.endswith(".kml") for n in names):
            kind = "KMZ"
    _check_companions(path, kind, error)
    return kind


def read_bytes(path: Path, error: _Error) -> bytes:
    """The bytes of a file :func:`check_file` accepts."""
    check_file(path, error)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read file: {exc.strerror or exc}") from None


def _head(path: Path, error: _Error) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(512)
    except OSError as exc:
        raise error(f"{path}: cannot read file: {exc.strerror or exc}") from None


def _check_companions(path: Path, kind: str, error: _Error) -> None:
    """Sidecars GDAL opens with the file: each must be regular and small; a shapefile needs
    its .shx and .dbf; a zip must unpack to a bounded size."""
    if kind in ("zipped shapefile", "KMZ"):
        _check_zip(path, error)
    if kind not in ("shapefile", "GeoPackage"):
        return
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    siblings = [
        p for p in path.parent.iterdir() if p != path and p.name.lower().startswith(stem.lower() + ".")
    ]
    total = check_file(path, error)
    for sibling in siblings:
        total += check_file(sibling, error)
    if total > MAX_FILE_BYTES:
        raise error(f"{path}: with its sidecar files over {MAX_FILE_BYTES // 2**20} MB; refused")
    if kind == "shapefile":
        have = {p.name[len(stem):].lower() for p in siblings}
        missing = [s for s in _SHAPEFILE_NEEDS if s not in have]
        if missing:
            raise error(
                f"{path}: shapefile without its {' and '.join(missing)} file; a shapefile is "
                f"several files of one name: copy every {stem}.* file (.shp, .shx, .dbf, .prj) "
                "together, or zip them"
            )


def _zip_names(path: Path, error: _Error) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise error(f"{path}: not a readable zip file ({exc})") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise error(f"{path}: zip holds {len(infos):,} entries; over {MAX_ZIP_ENTRIES:,} refused")
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_FILE_BYTES:
        raise error(
            f"{path}: zip unpacks to {unpacked / 2**20:,.0f} MB; over "
            f"{MAX_FILE_BYTES // 2**20} MB refused"
        )
    return [i.filename for i in infos]


def _check_zip(path: Path, error: _Error) -> None:
    names = _zip_names(path, error)
    if not any(n.lower().endswith((".shp", ".kml", ".gpkg", ".geojson")) for n in names):
        shown = ", ".join(os.path.basename(n) for n in names[:5]) or "nothing"
        raise error(f"{path}: zip holds no .shp, .kml, .gpkg or .geojson file (found: {shown})")
