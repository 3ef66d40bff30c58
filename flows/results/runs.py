"""Run records: ``<out>/runs/<run_id>.json``, what one monitoring run did.

Parameters (paths, dates and numbers only: credentials live in the environment, never here),
start and end, per site the scenes found and new, its status (``processed``, ``skipped``,
``failed``) with the reason and failed scenes, and the run's status (``completed``,
``partial``, ``failed``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flows import PROCESSING_VERSION
from flows.config import RunConfig
from flows.results.files import atomic_path, ensure_dir

__all__ = ["RUNS_DIR", "RunRecord", "write_run_record"]

RUNS_DIR = "runs"


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
    finished_at: str | None = None
    status: str = "running"
    processing_version: str = PROCESSING_VERSION

    @classmethod
    def start(cls, run_id: str, config: RunConfig, end: dt.date) -> RunRecord:
        params = {k: (str(v) if isinstance(v, (Path, dt.date)) else v)
                  for k, v in asdict(config).items()}
        params["effective_end"] = end.isoformat()
        return cls(run_id=run_id, started_at=_now(), parameters=params)

    @property
    def failed_sites(self) -> dict[str, str]:
        return {k: v.get("reason", "") for k, v in self.sites.items() if v["status"] == "failed"}

    @property
    def failed_scene_count(self) -> int:
        return sum(len(v.get("failed_scenes", {})) for v in self.sites.values())

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
    """``<out>/runs/<run_id>.json``, written atomically (:func:`flows.results.files.atomic_path`)."""
    folder = Path(out) / RUNS_DIR
    ensure_dir(folder)
    path = folder / f"{record.run_id}.json"
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record.as_dict(), fh, indent=2, sort_keys=True)
    return path
