"""Progress events from the flow to whoever displays them (the CLI's progress bar).

The flow runs in the CLI's process (ephemeral Prefect), so a module-level hook is enough; with
no hook set, events are dropped. Events never carry secrets: site ids, counts and stage names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["emit", "set_hook"]

_hook: Callable[..., None] | None = None


def set_hook(hook: Callable[..., None] | None) -> None:
    global _hook
    _hook = hook


def emit(event: str, **fields: Any) -> None:
    if _hook is not None:
        _hook(event, **fields)
