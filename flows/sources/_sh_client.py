"""The HTTP side of :mod:`flows.sources.sentinelhub`: sentinelhub-py's download client with a
deadline for each whole answer and no retries of a service that is not there, and the one-line
description of a failed call."""

from __future__ import annotations

import threading
from typing import Any

import requests
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from sentinelhub import SentinelHubDownloadClient
from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException

from flows.sources._io import deadline_session, unreachable_reason
from flows.sources.base import redact

__all__ = ["DeadlineClient", "Unreachable", "describe", "status"]

ENV_ID, ENV_SECRET = "SH_CLIENT_ID", "SH_CLIENT_SECRET"  # as flows.sources.sentinelhub
RATE_LIMITED = "rate limited (HTTP 429) beyond the allowed retries"


class Unreachable(Exception):
    """The service cannot be reached (no DNS answer, refused, no route): not a
    ``requests`` exception, so that sentinelhub-py does not retry it with backoff."""


_SESSIONS = threading.local()


class DeadlineClient(SentinelHubDownloadClient):
    """sentinelhub-py's client with a deadline for each whole answer (a requests session
    with :class:`flows.sources._io.DeadlineAdapter`, one per thread), and connections that
    cannot be made at all failing at once."""

    def _do_download(self, request: Any) -> Any:
        if request.url is None:
            raise ValueError(f"Faulty request {request}, no URL specified.")
        session = getattr(_SESSIONS, "session", None)
        if session is None:
            session = _SESSIONS.session = deadline_session()
        try:
            return session.request(request.request_type.value, url=request.url,
                                   json=request.post_values,
                                   headers=self._prepare_headers(request),
                                   timeout=self.config.download_timeout_seconds)
        except requests.ConnectionError as exc:
            reason = unreachable_reason(exc)
            if reason is not None:
                raise Unreachable(f"cannot reach {redact(request.url.split('?')[0])}: "
                                   f"{reason}") from None
            raise


def status(exc: DownloadFailedException) -> int | None:
    response = getattr(exc.request_exception, "response", None)
    return None if response is None else int(response.status_code)


def describe(exc: BaseException) -> str:
    """One line about a failed call: HTTP status and the service's message, no URL query."""
    if isinstance(exc, OAuth2Error):
        return (f"the token service refused the client credentials in {ENV_ID}/{ENV_SECRET} "
                f"({exc.error})")
    if isinstance(exc, OutOfRequestsException):
        return RATE_LIMITED
    if isinstance(exc, DownloadFailedException):
        inner = exc.request_exception
        code = status(exc)
        if code is not None:
            message = ""
            try:
                body = inner.response.json()
                error = body.get("error", body) if isinstance(body, dict) else body
                message = error.get("message", "") if isinstance(error, dict) else str(error)
            except (ValueError, AttributeError):
                pass
            return f"HTTP {code}" + (f": {message}" if message else "")
        if isinstance(inner, requests.RequestException):
            return f"connection failed ({type(inner).__name__})"
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
