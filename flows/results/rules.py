"""The rule each calibrated site was last fitted to: ``<out>/rules/<site_id>.json``.

A calibrated site's rule (:mod:`flows.site.evidence`) is known only once its baseline is read
and its thresholds fitted; an incremental run must know before (:func:`flows.site.plan_site`
recomputes a site whose rule changed). The fit is a function of the calibration input, the
baseline's scenes and the code, so it is remembered under a digest of those: the same digest
next night means the same rule, and a site without new scenes is skipped; a new digest (the
partner's polygons edited, a baseline scene added) means a rule not known yet, and the site
is recomputed once.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from aoi import files as input_files
from flows import PROCESSING_VERSION
from flows.results.files import NOFOLLOW, StoreError, atomic_path, ensure_dir
from flows.results.store import check_site_id

__all__ = ["RULES_DIR", "calibration_key", "fitted_rule_id", "remember_rule"]

RULES_DIR = "rules"
_MAX_RULE_BYTES = 2**20
"""Largest rule file read (one is a few kB): anything bigger is not ours."""


def calibration_key(path: Path, baseline_scene_ids: list[str], default_rule_id: str) -> str:
    """Digest of the calibration input (the file and its sidecars: a shapefile's ``.dbf``,
    ``.prj``), the baseline's scene ids, the default rule and the processing version."""
    digest = hashlib.blake2b(digest_size=12)
    path = Path(path)
    parts = sorted(p for p in path.parent.glob(f"{path.stem}.*") if p.is_file()) \
        if path.parent.is_dir() else []
    for part in parts or [path]:
        digest.update(part.name.encode())
        if part.exists():  # a FIFO would block, a device never end: one line, the site fails
            input_files.check_file(part, StoreError)
        digest.update(part.read_bytes() if part.is_file() else b"missing")
    for text in (*sorted(baseline_scene_ids), default_rule_id, PROCESSING_VERSION):
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


def _path(out: Path, site_id: str) -> Path:
    return Path(out) / RULES_DIR / f"{check_site_id(site_id)}.json"


def fitted_rule_id(out: Path, site_id: str, key: str) -> str | None:
    """The rule id last fitted for ``site_id`` under ``key``; None when not known (no file,
    or one that is not a small regular file of ours: never read through a link, a FIFO or a
    device)."""
    try:
        fd = os.open(_path(out, site_id), os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_RULE_BYTES:
                return None
            data = json.loads(fh.read(_MAX_RULE_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("rule_id") if isinstance(data, dict) and data.get("key") == key else None


def remember_rule(out: Path, site_id: str, key: str, rule_id: str, record: dict) -> None:
    """Keep the fitted ``rule_id`` (and its provenance ``record``) of ``site_id`` under
    ``key``, atomically."""
    path = _path(out, site_id)
    ensure_dir(path.parent, Path(out))
    with atomic_path(path, Path(out)) as tmp, open(tmp, "x", encoding="utf-8") as fh:
        json.dump({"key": key, "rule_id": rule_id, **record}, fh, indent=2, sort_keys=True,
                  default=str)
