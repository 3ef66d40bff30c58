"""One monitoring run at a time per results folder.

The nightly schedule and a manual ``bluecarbon run`` may start over the same ``--out`` at the
same time. Table writes are atomic and serialised per table (:mod:`flows.results.store`), but two runs
interleaving their incremental plans would each compute the same new scenes and rewrite the
same months, and their run records would describe work the other one did. So a run holds
``<out>/.run.lock`` from planning to its run record:

    with run_lock(out, run_id, on_wait=logger.warning):
        ...                                   # search, plan, compute, write, record

The lock is an advisory ``flock`` on that file, so the kernel releases it when the holder
exits in any way, SIGKILL included: a crashed run never leaves a stale lock behind (the
holder's details stay in the file until the next run overwrites them, and are ignored).
While held, the file holds one JSON line about the holder (run id, pid, host, start time),
so that a run that has to wait can say for what::

    waiting for run 0b5e... (pid 4242 on host-a, started 2025-06-01T02:00:03+00:00) holding results

``wait=False`` raises :class:`RunLocked` with that line (``... holds results``) instead.

The lock file is opened with ``O_NOFOLLOW``: a link planted at ``<out>/.run.lock`` is refused
(:class:`~flows.results.StoreError`), never followed to truncate the file it points to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from flows.results.files import NOFOLLOW, open_nofollow

try:  # POSIX; elsewhere runs are not serialised (documented limitation, as flows.results.files)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "LockHolder", "RunLocked", "read_holder", "run_lock"]

LOCK_FILE = ".run.lock"
"""Name of the lock file inside the results folder (hidden: readers of the tables skip it)."""


class RunLocked(RuntimeError):
    """Another run holds the results folder; the message is one line naming it."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a results folder's run lock."""

    run_id: str
    pid: int
    host: str
    started_at: str
    """ISO 8601 UTC time the holder took the lock."""

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, started {self.started_at})"


def read_holder(out: str | os.PathLike[str]) -> LockHolder | None:
    """The holder recorded in ``<out>/.run.lock``, or None (no file, empty, unreadable).

    The record says who took the lock last; whether the lock is still held is only known by
    trying to take it (:func:`run_lock`)."""
    try:
        fd = os.open(Path(out) / LOCK_FILE, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        return _read_fd(fd)
    finally:
        os.close(fd)


def _parse(text: str) -> LockHolder | None:
    try:
        data = json.loads(text.strip().splitlines()[0]) if text.strip() else None
        return LockHolder(run_id=str(data["run_id"]), pid=int(data["pid"]),
                          host=str(data["host"]), started_at=str(data["started_at"]))
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _read_fd(fd: int) -> LockHolder | None:
    try:
        return _parse(os.pread(fd, 4096, 0).decode("utf-8", errors="replace"))
    except OSError:
        return None


def _holder_text(fd: int) -> str:
    """The holder's description; a holder that has just taken the lock may not have written
    it yet, so look a few times before calling it unknown."""
    for _ in range(20):
        holder = _read_fd(fd)
        if holder is not None:
            return holder.describe()
        time.sleep(0.05)
    return "another run (details not recorded)"


@contextlib.contextmanager
def run_lock(out: str | os.PathLike[str], run_id: str, *, wait: bool = True,
             on_wait: Callable[[str], object] | None = None) -> Iterator[LockHolder]:
    """Hold ``<out>/.run.lock`` for the duration of the ``with`` block.

    Creates ``out`` if needed. When another run holds it: with ``wait`` (default) calls
    ``on_wait`` once with the line ``waiting for run <id> (pid N on H, started T) holding
    <out>`` and blocks until that run ends; without ``wait`` raises :class:`RunLocked`.
    Yields this run's :class:`LockHolder`.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    me = LockHolder(run_id=str(run_id), pid=os.getpid(), host=socket.gethostname(),
                    started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    if fcntl is None:  # pragma: no cover
        yield me
        return
    fd = open_nofollow(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _holder_text(fd)
            if not wait:
                raise RunLocked(f"{other} holds {folder}; not started") from None
            if on_wait is not None:
                on_wait(f"waiting for {other} holding {folder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        # started_at: when the lock was taken, not when this run began waiting
        me = LockHolder(me.run_id, me.pid, me.host,
                        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(asdict(me), sort_keys=True) + "\n").encode("utf-8"), 0)
        yield me
    finally:
        os.close(fd)  # releases the lock (a killed holder's is released by the kernel)
