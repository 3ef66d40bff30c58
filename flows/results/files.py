"""The results folder's file plumbing, written once for every writer under ``--out``.

* :func:`atomic_path`: write a file whole or not at all (hidden temp file beside it, fsync,
  ``os.replace``, directory fsync). Readers and crashes see the old file or the new one.
* :func:`writer_lock`: one writer at a time per folder (an advisory ``flock`` on
  ``<folder>/.write.lock``, released by the kernel however the holder exits); once held,
  temp files of killed writers are removed, since no live writer can own them.
* :func:`ensure_dir`: ``mkdir -p`` that makes each new directory durable.

Temp files are named ``.<name>.<pid>-<12 hex>.tmp``: hidden from pyarrow, pandas and the
DuckDB glob ``*/*.parquet``, and recognisable by :func:`is_temp`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX advisory locks; on other platforms concurrent writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "StoreError", "atomic_path", "ensure_dir", "first_line", "fsync_dir",
           "is_temp", "writer_lock"]

LOCK_FILE = ".write.lock"
"""Writers' lock file inside a locked folder (hidden: readers skip it, and never lock)."""
_TEMP_SUFFIX = ".tmp"


class StoreError(Exception):
    """Results that cannot be read or written as asked; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """``mkdir -p`` that fsyncs the parent of every directory it creates; :class:`StoreError`
    if ``path`` exists and is not a directory."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir()
        fsync_dir(d.parent)
    if not path.is_dir():
        raise StoreError(f"{path}: exists and is not a directory")


def temp_path(path: Path) -> Path:
    """A fresh hidden temp path beside ``path`` (see :func:`is_temp`)."""
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}{_TEMP_SUFFIX}"


def is_temp(name: str) -> bool:
    """True for the name of a temp file of :func:`atomic_path`."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a hidden temp path beside ``path`` to write; on success fsync it, ``os.replace``
    it over ``path`` and fsync the directory; on failure remove it. Readers see old or new,
    never half."""
    tmp = temp_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def _remove_temps(folder: Path) -> None:
    for tmp in folder.rglob(".*" + _TEMP_SUFFIX) if folder.is_dir() else ():
        if tmp.is_file() and not tmp.is_symlink():
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def writer_lock(directory: Path, *also_clean: Path) -> Iterator[None]:
    """Exclusive lock of ``directory`` (created if missing) for writers. Once it is held,
    temp files of killed writers under ``directory`` and ``also_clean`` are removed."""
    ensure_dir(directory)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        for folder in (directory, *also_clean):
            _remove_temps(folder)
        yield
    finally:
        os.close(fd)  # releases the lock
