"""Run records: ``<out>/runs/<run_id>.json``, what one monitoring run did.

Parameters (paths, dates and numbers only: credentials live in the environment, never here),
start and end, per site the scenes found and new, its status (``processed``, ``skipped``,
``failed``) with the reason and failed scenes, and the run's status (``completed``,
``partial``, ``failed``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from aoi import DEFAULT_MAX_AREA_HA
from flows import PROCESSING_VERSION
from flows.config import RunConfig
from flows.results.files import NOFOLLOW, StoreError, atomic_path, ensure_dir, first_line
from flows.sources.base import redact

__all__ = ["RUNS_DIR", "RecordedSites", "RunRecord", "read_records", "recorded_runs",
           "recorded_sites", "write_run_record"]

RUNS_DIR = "runs"
MAX_RECORD_BYTES = 64 * 2**20
"""Largest run record read (one of thousands of sites is a few MB): anything bigger is not one."""


@dataclass
class RunRecord:
    """What one run did, written to ``<out>/runs/<run_id>.json`` (no settings that are secret:
    the run's parameters hold paths, dates and numbers only; credentials live in the env)."""

    run_id: str
    started_at: str
    parameters: dict[str, Any]
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    trajectories: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    waited_for: str | None = None
    """The other run this one waited for (same results folder), if any."""
    skipped_items: dict[str, str] = field(default_factory=dict)
    """Catalogue items left out as unusable (the first 100), with why."""
    skipped_item_count: int = 0
    unreachable: str | None = None
    """Why the source could not be reached, when that stopped the run."""
    finished_at: str | None = None
    status: str = "running"
    processing_version: str = PROCESSING_VERSION

    @classmethod
    def start(cls, run_id: str, config: RunConfig, end: dt.date) -> RunRecord:
        params = {k: redact(str(v)) if isinstance(v, (Path, dt.date, str)) else v
                  for k, v in asdict(config).items()}
        if config.sites is not None:  # absolute: a report made elsewhere finds the sites
            params["sites"] = str(Path(config.sites).expanduser().resolve())
        params["effective_end"] = end.isoformat()
        return cls(run_id=run_id, started_at=_now(), parameters=params)

    @property
    def failed_sites(self) -> dict[str, str]:
        return {k: v.get("reason", "") for k, v in self.sites.items() if v["status"] == "failed"}

    @property
    def failed_scene_count(self) -> int:
        return sum(len(v.get("failed_scenes", {})) for v in self.sites.values())

    @property
    def site_warnings(self) -> dict[str, list[str]]:
        """The warnings of each site that has any (``sites[id]["warnings"]``: rows that are
        less than a measurement, e.g. a mangrove baseline without intertidal context,
        :func:`flows.site.tables.context_warning`)."""
        return {k: list(v["warnings"]) for k, v in self.sites.items() if v.get("warnings")}

    @property
    def headline(self) -> str:
        counts = {k: sum(v["status"] == k for v in self.sites.values())
                  for k in ("processed", "skipped", "failed")}
        text = (f"{counts['processed']} sites processed, {counts['skipped']} up to date, "
                f"{counts['failed']} failed")
        if self.failed_scene_count:
            text += f"; {self.failed_scene_count} scenes could not be fetched"
        if self.failed_sites:
            text += ": " + ", ".join(f"{k} ({v})" for k, v in self.failed_sites.items())
        if self.site_warnings:
            text += (f"; {len(self.site_warnings)} with a warning in the run record: "
                     + ", ".join(self.site_warnings))
        return text

    def finish(self) -> None:
        self.finished_at = _now()
        self.status = ("failed" if self.failed_sites or self.errors
                       else "partial" if self.failed_scene_count else "completed")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_run_record(out: Path, record: RunRecord) -> Path:
    """``<out>/runs/<run_id>.json``, written atomically (:func:`flows.results.files.atomic_path`):
    whole or not at all, never through a link; :class:`StoreError` (one line) if it cannot be."""
    folder = Path(out) / RUNS_DIR
    path = folder / f"{record.run_id}.json"
    try:
        ensure_dir(folder, Path(out))
        with atomic_path(path, Path(out)) as tmp, open(tmp, "x", encoding="utf-8") as fh:
            json.dump(record.as_dict(), fh, indent=2, sort_keys=True)
    except OSError as exc:  # a full disk, a file where the folder goes: one line
        raise StoreError(f"{path}: cannot write the run record: "
                         f"{exc.strerror or first_line(exc)}") from None
    return path


def read_records(out: Path | str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each run record of ``out`` that can be read, in file name order, as ``(path, dict)``.
    Passed over: anything but a regular file of at most :data:`MAX_RECORD_BYTES` (a FIFO would
    block, a device never end, a link could point anywhere), or not a JSON object."""
    for path in sorted((Path(out) / RUNS_DIR).glob("*.json")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                info = os.fstat(fh.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RECORD_BYTES:
                    continue
                record = json.loads(fh.read(MAX_RECORD_BYTES + 1).decode("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            yield path, record


class RecordedSites(NamedTuple):
    """A sites file a results folder was made from, and the run's area cap for it."""

    sites: str | None
    """The run's ``sites`` parameter (``None``: the bundled sites)."""
    max_area_ha: float


def recorded_runs(out: Path | str) -> list[RecordedSites]:
    """The sites files a results folder was made from, read from its run records: for each
    site some run wrote rows for (status ``processed``), the ``sites`` parameter (and
    ``max_area_ha``) of the latest such run; distinct, the latest run's first. Empty when no
    record says (no ``<out>/runs/``, or only runs that wrote nothing). Unreadable records are
    passed over: a record is what a finished run left, never needed to read the tables."""
    latest: dict[str, tuple[str, str, str | None, float]] = {}
    for path, record in read_records(out):
        try:
            params = record["parameters"]
            started, sites = str(record["started_at"]), params.get("sites")
            area = float(params.get("max_area_ha") or DEFAULT_MAX_AREA_HA)
            entries = record["sites"].items()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if sites is not None and not isinstance(sites, str):
            continue
        for site_id, entry in entries:
            if isinstance(entry, dict) and entry.get("status") == "processed":
                key = (started, path.name, sites, area)
                if site_id not in latest or key[:2] > latest[site_id][:2]:
                    latest[site_id] = key
    found: list[RecordedSites] = []
    for _, _, sites, area in sorted(latest.values(), key=lambda k: k[:2], reverse=True):
        if sites not in [f.sites for f in found]:
            found.append(RecordedSites(sites, area))
    return found


def recorded_sites(out: Path | str) -> list[str | None]:
    """The ``sites`` of :func:`recorded_runs`: the sites files, latest first."""
    return [r.sites for r in recorded_runs(out)]
