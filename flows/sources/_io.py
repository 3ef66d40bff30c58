"""Bounded reads of what a source is given, and the reachability of its service.

Every local path and http(s) URL a source reads itself (STAC documents, SAFE metadata) goes
through :func:`read_local` or :func:`read_url`: a **type check** (a FIFO, a device or a folder
is refused unread: opening a FIFO would block, ``/dev/zero`` never ends), a **size cap**
(:data:`MAX_DOCUMENT_BYTES`) and, over http, a **deadline for the whole request**
(:func:`http_deadline`): the socket timeout of ``urllib`` and ``requests`` bounds each read,
so a server sending a byte every few seconds would otherwise hold a run forever.
:class:`DeadlineAdapter` gives the same deadline and cap to the requests-based clients
(pystac-client, sentinelhub-py). Rasters are read by GDAL (:mod:`flows.sources._reader`).

Failures become one-line :class:`~flows.sources.SourceError` s, URLs redacted, marked
``retryable`` where trying again could help (timeouts, resets, HTTP 408/429/5xx) and raised as
:class:`~flows.sources.SourceUnreachable` where the service cannot be reached at all (no DNS
answer, connection refused, no route): :func:`check_reachable` finds those before a run starts,
within :data:`REACH_TIMEOUT_S`.
"""

from __future__ import annotations

import base64
import errno
import http.client
import os
import socket
import stat
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from aoi.files import check_input
from flows.sources.base import SourceError, SourceUnreachable, redact

__all__ = ["CONNECT_TIMEOUT_S", "DeadlineAdapter", "HTTP_TIMEOUT_ENV", "MAX_DOCUMENT_BYTES",
           "REACH_TIMEOUT_S", "check_local", "check_reachable", "deadline_session", "http_deadline", "read_local",
           "read_url", "regular_file", "split_userinfo", "unreachable_reason"]

MAX_DOCUMENT_BYTES = 64 * 2**20
"""Largest catalogue document read (a STAC API page of 100 Sentinel-2 items is ~1 MB, a whole
static collection of a tile's decade of items ~30 MB)."""
CONNECT_TIMEOUT_S = 10.0
"""Seconds to connect to a server."""
REACH_TIMEOUT_S = 10.0
"""Seconds :func:`check_reachable` gives the name lookup and then the connection."""
HTTP_TIMEOUT_ENV = "BLUECARBON_HTTP_TIMEOUT"
"""Environment variable: the deadline of one http request (catalogue documents, STAC API
pages, Sentinel Hub requests), in seconds; default :data:`DEFAULT_HTTP_TIMEOUT_S`."""
DEFAULT_HTTP_TIMEOUT_S = 120.0

_UNREACHABLE_ERRNO = {errno.ECONNREFUSED: "connection refused",
                      errno.ENETUNREACH: "network unreachable",
                      errno.EHOSTUNREACH: "no route to host", errno.EHOSTDOWN: "host down"}


def http_deadline() -> float:
    """The deadline of one http request from :data:`HTTP_TIMEOUT_ENV` (checked before a run
    by :func:`flows.config.check_environment`); a bad value here falls back to the default."""
    text = os.environ.get(HTTP_TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_HTTP_TIMEOUT_S
    except ValueError:
        return DEFAULT_HTTP_TIMEOUT_S
    return value if 0 < value < 86_400 else DEFAULT_HTTP_TIMEOUT_S


# -- local files ------------------------------------------------------------------------------
def read_local(path: str | os.PathLike[str], *, what: str,
               max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; a one-line SourceError for a
    missing file, a folder, a FIFO, a device or socket (opened without blocking, never read)
    and a larger file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SourceError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise SourceError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{what} {path} is not a regular file")
        if st.st_size > max_bytes:
            raise SourceError(f"{what} {path} is {st.st_size / 2**20:.0f} MB; files over "
                              f"{max_bytes // 2**20} MB are refused")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # grew while read
            raise SourceError(f"{what} {path} is over {max_bytes // 2**20} MB; refused")
        return b"".join(chunks)
    except OSError as exc:
        raise SourceError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def check_local(path: str | os.PathLike[str], *, what: str,
                max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
    """What :func:`read_local` would refuse, found without opening ``path``
    (:func:`aoi.files.check_input`)."""
    check_input(path, max_bytes, SourceError, what=what)


def regular_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file (never opens it: a FIFO stays unopened)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# -- http ---------------------------------------------------------------------------------------
def split_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without ``user:password@`` and the Basic ``Authorization`` header it stood for
    (urllib would take ``user:password@host`` for a host name)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": f"Basic {token}"}


def unreachable_reason(exc: BaseException | None) -> str | None:
    """Why a connection could not be made at all (no DNS answer, refused, no route, connect
    timeout), looking through causes; None for anything else."""
    seen = 0
    while exc is not None and seen < 10:
        seen += 1
        if isinstance(exc, socket.gaierror):
            return "cannot resolve the host name (no DNS answer)"
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNO:
            return _UNREACHABLE_ERRNO[exc.errno]
        name = type(exc).__name__
        if name in ("NameResolutionError",):
            return "cannot resolve the host name (no DNS answer)"
        if name in ("ConnectTimeoutError", "ConnectTimeout"):
            return "connection timed out"
        if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
            exc = exc.reason if isinstance(exc.reason, BaseException) else None
            continue
        nxt = exc.__cause__ or exc.__context__
        if nxt is None and exc.args and isinstance(exc.args[-1], BaseException):
            nxt = exc.args[-1]  # urllib3 wraps its cause in args (MaxRetryError.reason)
        exc = getattr(exc, "reason", None) if isinstance(getattr(exc, "reason", None),
                                                         BaseException) else nxt
    return None


def read_url(url: str, *, what: str, deadline: float | None = None,
             max_bytes: int = MAX_DOCUMENT_BYTES, headers: dict[str, str] | None = None) -> bytes:
    """The body of a GET of ``url``, whole within ``deadline`` seconds (default
    :func:`http_deadline`) and at most ``max_bytes``; one-line SourceErrors (see the module
    doc). ``user:password@`` in the URL is sent as Basic authentication."""
    deadline = http_deadline() if deadline is None else float(deadline)
    clean, auth = split_userinfo(url)
    request = urllib.request.Request(clean, headers={**(headers or {}), **auth})
    shown = redact(url)
    end = time.monotonic() + deadline
    try:
        with urllib.request.urlopen(request, timeout=min(CONNECT_TIMEOUT_S, deadline)) as resp:  # noqa: S310
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise SourceError(f"{what} {shown} is {int(length) / 2**20:.0f} MB; documents "
                                  f"over {max_bytes // 2**20} MB are refused")
            return _read_body(resp, end, deadline, max_bytes, f"{what} {shown}")
    except SourceError:
        raise
    except urllib.error.HTTPError as exc:
        code = exc.code
        raise SourceError(f"cannot read {what} {shown}: HTTP {code}",
                          retryable=code in (408, 425, 429) or code >= 500) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = unreachable_reason(exc)
        if reason is not None:
            raise SourceUnreachable(f"cannot reach {what} {shown}: {reason}") from None
        if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in str(exc):
            raise SourceError(f"cannot read {what} {shown}: timed out",
                              retryable=True) from None
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        text = " ".join(str(why).split()) or type(why).__name__
        raise SourceError(f"cannot read {what} {shown}: {text[:200]}",
                          retryable=not isinstance(exc, ValueError)) from None


def _read_body(resp: Any, end: float, deadline: float, max_bytes: int, where: str) -> bytes:
    sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
    chunks, size = [], 0
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise SourceError(f"{where}: no complete answer within {deadline:g} s "
                              f"({size} bytes received)", retryable=True)
        if sock is not None:
            sock.settimeout(min(left, CONNECT_TIMEOUT_S * 3))
        try:
            chunk = resp.read1(65536)
        except TimeoutError:
            if time.monotonic() < end:
                raise
            chunk = None
        if chunk is None:
            continue  # the deadline passed: said at the top of the loop
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(f"{where} is over {max_bytes // 2**20} MB; documents over that "
                              "are refused")
        chunks.append(chunk)


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """The whole answer did not arrive within the request's deadline."""


class TooLarge(requests.exceptions.RequestException):
    """The answer was larger than the cap."""


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose requests end within ``deadline`` seconds and
    ``max_bytes``, body included: the body is read here, a chunk at a time, against the
    clock (requests' own timeout bounds each socket read, not the answer)."""

    def __init__(self, deadline: float | None = None, max_bytes: int = 4 * MAX_DOCUMENT_BYTES,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = http_deadline() if deadline is None else float(deadline)
        self.max_bytes = max_bytes

    def send(self, request, stream=False, timeout=None, **kwargs):  # noqa: ANN001
        start = time.monotonic()
        per_read = min(self.deadline, CONNECT_TIMEOUT_S * 3)
        response = super().send(request, stream=True,
                                timeout=(min(CONNECT_TIMEOUT_S, self.deadline), per_read),
                                **kwargs)
        if stream:
            return response
        raw, chunks, size = response.raw, [], 0
        try:
            while True:
                if time.monotonic() - start > self.deadline:
                    raise DeadlineExceeded(f"no complete answer within {self.deadline:g} s",
                                           request=request, response=response)
                chunk = raw.read1(65536, decode_content=True) if hasattr(raw, "read1") else \
                    raw.read(65536, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise TooLarge(f"answer over {self.max_bytes // 2**20} MB", request=request,
                                   response=response)
                chunks.append(chunk)
        except (DeadlineExceeded, TooLarge):
            response.close()
            raise
        except Exception as exc:  # urllib3's read errors, as requests itself maps them
            response.close()
            raise requests.exceptions.ChunkedEncodingError(exc, request=request) from exc
        response._content = b"".join(chunks)
        response._content_consumed = True
        return response


def deadline_session(session: Any = None, deadline: float | None = None) -> Any:
    """``session`` (a new ``requests.Session`` if None) with :class:`DeadlineAdapter` mounted
    for http and https."""
    session = session if session is not None else requests.Session()
    adapter = DeadlineAdapter(deadline)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- reachability -------------------------------------------------------------------------------
def check_reachable(url: str, *, what: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """Raise :class:`SourceUnreachable` (one line, URL redacted) unless a TCP connection to
    the host of ``url`` (or to the proxy the environment names for it) can be made: the name
    lookup and the connection together within ``timeout`` seconds. Nothing is sent."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname
    if not host:
        raise SourceError(f"{what} {redact(url)} names no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise SourceError(f"{what} {redact(url)} has no valid port") from None
    shown = redact(url)
    answer: list[Any] = []
    end = time.monotonic() + timeout  # the lookup and the connection share the time

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            answer.append(exc)

    thread = threading.Thread(target=lookup, daemon=True, name="bluecarbon-dns")
    thread.start()
    thread.join(timeout)
    if not answer:
        raise SourceUnreachable(f"cannot reach {what} {shown}: no DNS answer within "
                                f"{timeout:g} s")
    if isinstance(answer[0], BaseException):
        reason = unreachable_reason(answer[0]) or " ".join(str(answer[0]).split())
        raise SourceUnreachable(f"cannot reach {what} {shown}: {reason}")
    last: BaseException | None = None
    for family, kind, proto, _, address in answer[0][:4]:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(max(0.5, end - time.monotonic()))
        try:
            sock.connect(address)
            return
        except OSError as exc:
            last = exc
        finally:
            sock.close()
    if isinstance(last, TimeoutError | socket.timeout):
        reason = f"connection timed out after {timeout:g} s"
    else:
        reason = unreachable_reason(last) or " ".join(str(last).split())
    raise SourceUnreachable(f"cannot reach {what} {shown}: {reason}")
