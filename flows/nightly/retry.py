"""How the nightly run's steps are tried, and how the run fails.

A :class:`Step` is one I/O stage of a site's run with its :class:`Retry` (delays between
tries); :func:`retrying` tries a step again without Prefect, only on errors a retry can fix
(:func:`retryable_error`), and Prefect does the same from the same settings
(:mod:`flows.monitor`). :class:`SitesFailed` is how a run that wrote what it could says that
some sites failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flows.runtime.prefect import run_logger
from flows.runtime.termination import STOP, raise_termination_behind

__all__ = ["Retry", "SitesFailed", "Step", "retryable_error", "retrying"]


class SitesFailed(RuntimeError):
    """Some sites could not be processed; the others were written. ``unreachable``: the
    one-line reason when the run stopped because its source could not be reached."""

    def __init__(self, message: str, unreachable: str | None = None) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def retryable_error(exc: BaseException | None) -> bool:
    """Whether trying a step again can fix ``exc``: a :class:`~flows.sources.SourceError`
    marked ``retryable`` (timeouts, resets, HTTP 429 and 5xx), a timeout or dropped
    connection elsewhere. A bad item, a refused request, an unreachable service, an
    unreadable file or a full disk fail at once (issue 20, class 7)."""
    from flows.results.files import StoreError
    from flows.sources import SourceError, SourceUnreachable

    if isinstance(exc, SourceError):
        return exc.retryable and not isinstance(exc, SourceUnreachable)
    if isinstance(exc, StoreError):
        return isinstance(exc.__cause__, TimeoutError | ConnectionError | InterruptedError)
    return isinstance(exc, TimeoutError | ConnectionError)


@dataclass(frozen=True)
class Retry:
    """How a step is tried again when it raises: ``len(delays)`` more times, waiting
    ``delays[i]`` seconds before the ``i``-th retry. Prefect's ``retries`` and
    ``retry_delay_seconds`` for the flow's tasks; :func:`retrying` without Prefect."""

    delays: tuple[float, ...]

    @property
    def retries(self) -> int:
        return len(self.delays)


@dataclass(frozen=True)
class Step:
    """One step of a site's run: its name (the Prefect task's), its function, its retries."""

    name: str
    fn: Callable[..., Any]
    retry: Retry | None = None


def retrying(step: Step, *, sleep: Callable[[float], object] | None = None) -> Callable[..., Any]:
    """``step.fn``, tried again as its :class:`Retry` says when it raises an ``Exception``
    that a retry can fix (:func:`retryable_error`; a termination, ``KeyboardInterrupt`` or
    ``SystemExit``, is never retried, nor is anything once the run is stopping); the last
    failure is raised. ``sleep`` waits between tries (default: until the delay has passed
    or the run is stopping, :data:`~flows.runtime.termination.STOP`)."""
    if step.retry is None:
        return step.fn
    delays = step.retry.delays
    wait = sleep or STOP.wait

    def call(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(len(delays) + 1):
            try:
                return step.fn(*args, **kwargs)
            except Exception as exc:
                raise_termination_behind(exc)
                if attempt == len(delays) or not retryable_error(exc) or STOP.is_set():
                    raise
                run_logger().info("%s failed (%s: %s); retry %d of %d in %g s", step.name,
                                  type(exc).__name__, str(exc).splitlines()[0] if str(exc)
                                  else "", attempt + 1, len(delays), delays[attempt])
                wait(delays[attempt])
                if STOP.is_set():
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    call.__name__ = call.__qualname__ = step.fn.__name__
    call.__doc__ = step.fn.__doc__
    return call
