"""The results folder's file plumbing, written once for every writer under ``--out``.

* :func:`atomic_path`: write a file whole or not at all (hidden temp file beside it, fsync,
  ``os.replace``, directory fsync). Readers and crashes see the old file or the new one.
* :func:`writer_lock`: one writer at a time per folder (an advisory ``flock`` on
  ``<folder>/.write.lock``, released by the kernel however the holder exits); once held,
  temp files of killed writers are removed, since no live writer can own them.
* :func:`ensure_dir`: ``mkdir -p`` that makes each new directory durable.
* :func:`set_aside`: move an unreadable file aside (renamed, never deleted).

**Links are never followed under the results folder.** Each of these takes the results folder
as ``root``: every path component below it (folders and the file itself) that is a symbolic
link is refused with a one-line :class:`StoreError` before anything is written, a path that is
not under ``root`` is refused, lock and temp files are opened with ``O_NOFOLLOW``, and a temp
file is checked to be a regular file before it replaces anything. So a link planted in
``--out`` (``.run.lock`` -> a file elsewhere, ``change`` -> another folder) can never make a
run truncate, write or create anything outside ``--out``. ``root`` itself may be a link (the
user chose it). Without ``root`` (a file written outside any results folder) only the file
itself must not be a link.

Temp files are named ``.<name>.<pid>-<12 hex>.tmp``: hidden from pyarrow, pandas and the
DuckDB glob ``*/*.parquet``, and recognisable by :func:`is_temp`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX advisory locks; on other platforms concurrent writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "NOFOLLOW", "StoreError", "atomic_path", "check_inside", "ensure_dir",
           "file_lock", "first_line", "fsync_dir", "is_temp", "open_nofollow", "set_aside",
           "writer_lock"]

LOCK_FILE = ".write.lock"
"""Writers' lock file inside a locked folder (hidden: readers skip it, and never lock)."""
_TEMP_SUFFIX = ".tmp"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
"""Flags of every file this module opens: never through a link, never inherited."""


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


def check_inside(path: Path, root: Path | None) -> None:
    """Refuse (:class:`StoreError`) a ``path`` that is not under ``root`` or that goes through
    a symbolic link below it (itself included); with ``root`` None, only ``path`` itself being
    a link is refused. Components that do not exist yet are fine (they will be created as
    folders or files, never as links)."""
    path = Path(path)
    if root is None:
        parts = [path]
    else:
        root = Path(root)
        try:
            rel = Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
        except ValueError:
            raise StoreError(f"{path} is outside the results folder {root}") from None
        if ".." in rel.parts:
            raise StoreError(f"{path} is outside the results folder {root}")
        parts, p = [], root
        for name in rel.parts:
            p = p / name
            parts.append(p)
    for p in parts:
        if p.is_symlink():
            raise StoreError(f"{p} is a symbolic link; bluecarbon never follows links inside "
                             "the results folder (remove it)")


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a link at ``path`` (:class:`StoreError`, one line)."""
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except OSError as exc:
        if Path(path).is_symlink():
            raise StoreError(f"{path} is a symbolic link; bluecarbon never follows links "
                             "inside the results folder (remove it)") from None
        raise StoreError(f"{path}: {exc.strerror or exc}") from exc


def ensure_dir(path: Path, root: Path | None = None) -> None:
    """``mkdir -p`` that fsyncs the parent of every directory it creates; :class:`StoreError`
    if ``path`` exists and is not a directory, or (with ``root``) goes through a link."""
    check_inside(path, root)
    missing = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir()
        fsync_dir(d.parent)
    check_inside(path, root)
    if path.is_symlink() or not path.is_dir():
        raise StoreError(f"{path}: exists and is not a directory")


def temp_path(path: Path) -> Path:
    """A fresh hidden temp path beside ``path`` (see :func:`is_temp`)."""
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}{_TEMP_SUFFIX}"


def is_temp(name: str) -> bool:
    """True for the name of a temp file of :func:`atomic_path`."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


@contextlib.contextmanager
def atomic_path(path: Path, root: Path | None = None) -> Iterator[Path]:
    """Yield a hidden temp path beside ``path`` to write; on success fsync it, ``os.replace``
    it over ``path`` and fsync the directory; on failure remove it. Readers see old or new,
    never half. ``path`` must not go through a link below ``root`` (:func:`check_inside`);
    the temp file must be a regular file when it is renamed."""
    check_inside(path, root)
    tmp = temp_path(path)
    try:
        yield tmp
        fd = open_nofollow(tmp, os.O_RDWR)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError(f"{tmp}: not a regular file")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a link or file by that name is removed, never what it points to
        raise
    fsync_dir(path.parent)


def set_aside(path: Path, root: Path | None = None) -> Path | None:
    """Rename an unreadable ``path`` to a hidden name beside it
    (``.<name>.unreadable-<UTC time>``: readers skip it, nothing deletes it) and return the
    new path; None if there was no file."""
    path = Path(path)
    check_inside(path, root)
    if not path.is_file():
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f".{path.name}.unreadable-{stamp}-{secrets.token_hex(3)}")
    os.replace(path, target)
    fsync_dir(path.parent)
    return target


def _remove_temps(folder: Path) -> None:
    for tmp in folder.rglob(".*" + _TEMP_SUFFIX) if folder.is_dir() else ():
        if tmp.is_file() and not tmp.is_symlink():
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def file_lock(path: Path, root: Path | None = None) -> Iterator[None]:
    """Exclusive advisory ``flock`` on the file ``path`` (created if missing, never through a
    link below ``root``), released by the kernel however the holder exits."""
    check_inside(path, root)
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def writer_lock(directory: Path, *also_clean: Path, root: Path | None = None) -> Iterator[None]:
    """Exclusive lock of ``directory`` (created if missing) for writers. Once it is held,
    temp files of killed writers under ``directory`` and ``also_clean`` are removed. Nothing
    is created or opened through a link below ``root``."""
    ensure_dir(directory, root)
    for folder in also_clean:
        check_inside(folder, root)
    with file_lock(directory / LOCK_FILE, root):
        for folder in (directory, *also_clean):
            _remove_temps(folder)
        yield
