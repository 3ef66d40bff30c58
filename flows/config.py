"""Run settings: one frozen dataclass, read from a TOML file and/or the command line, validated once.

Every bad value is refused with a one-line ``ConfigError`` before any work starts. This is the
one place of each run setting's default: the flow's signature (:func:`flows.monitor.monitor_sites`),
the command line's help and ``prefect.yaml`` read or match :class:`RunConfig`
(``tests/test_layout.py`` checks they agree). The thresholds the tables and the reports share
are here too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aoi.files import check_input
from aoi.sites import DEFAULT_MAX_AREA_HA
from flows.sources import CHUNKS, SOURCES, get_source, redact

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aoi import Site
    from flows.sources import Source

__all__ = ["CLOSURE_RATIO", "SEEN_MIN", "ConfigError", "RunConfig", "check_environment",
           "check_period", "check_scheduler", "check_sites_path", "read_toml",
           "deployment_parameters", "hide_secret_url", "load_config", "make_source",
           "parse_date", "reveal_secret_url"]

SEEN_MIN = 0.3
"""Below this fraction of a site seen clear in a month, the month gets no figure in the partner
summary and the notebooks: gap-filled extent from older views would be presented as if it
were this month's."""
CLOSURE_RATIO = 0.9
"""Canopy closure: the restored area's NDVI reaches this fraction of the reference site's
(``change.canopy_closure_period``, and the words of the partner summary)."""

_DASK_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[A-Za-z0-9.\-\[\]:]+$")


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one line."""


@dataclass(frozen=True)
class RunConfig:
    sites: Path | None = None
    """Sites GeoJSON file or folder; None runs the bundled sites."""
    source: str = "demo"
    catalog: str | None = None
    start: dt.date | None = None
    """First day reported; default: each site's baseline_start."""
    end: dt.date | None = None
    """Last day reported; default: today (the demo's fixed end for the demo source)."""
    out: Path = Path("results")
    dask_address: str | None = None
    seed: int = 0
    """Seed of the demo source."""
    mmu_ha: float = 0.1
    """Minimum mapping unit of gain and loss patches, hectares (``indices.patches.MMU_HA``, the
    science functions' default, is the same: a test checks)."""
    max_area_ha: float = DEFAULT_MAX_AREA_HA
    chunks: int = CHUNKS
    """Spatial chunk size in pixels (the cube is chunked time=1, chunks x chunks)."""
    max_cloud: float | None = None
    """Scene-level cloud cover limit in percent for catalogue searches (None: the source's)."""
    factors: Path | None = None
    """``factors.toml`` of site carbon factors (field plots) overriding the IPCC defaults."""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"unknown source {self.source!r}; choose one of: {', '.join(SOURCES)}")
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"start {self.start} is after end {self.end}")
        today = dt.datetime.now(dt.UTC).date()
        if self.start and self.start > today + dt.timedelta(days=1):
            raise ConfigError(f"start {self.start} is in the future (today is {today}): "
                              "there is nothing to report yet")
        if not 0 <= self.mmu_ha <= 100:
            raise ConfigError(f"mmu_ha must be between 0 and 100 hectares, got {self.mmu_ha}")
        if not 0 < self.max_area_ha <= 10_000_000:
            raise ConfigError(f"max_area_ha must be positive (hectares), got {self.max_area_ha}")
        if self.max_cloud is not None and not 0 <= self.max_cloud <= 100:
            raise ConfigError(f"max_cloud must be a percentage 0-100, got {self.max_cloud}")
        if self.source != "demo" and self.source in ("stac", "safe") and not self.catalog:
            raise ConfigError(f"--source {self.source} needs --catalog URL_OR_PATH")
        if not 64 <= self.chunks <= 8192:
            raise ConfigError(f"chunks must be between 64 and 8192 pixels, got {self.chunks}")
        if self.dask_address is not None and not _DASK_ADDRESS.match(self.dask_address):
            raise ConfigError(f"dask address must look like tcp://HOST:PORT, got {self.dask_address!r}")
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out} exists and is not a folder")
        _check_out(self.out)
        _check_out_entries(self.out)
        if self.sites is not None:
            check_sites_path(self.sites)
        if self.catalog and self.source == "demo":
            raise ConfigError("--catalog is for the stac, safe and sentinelhub sources, "
                              "not the demo source")

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


RESULT_FOLDERS = ("observations", "change", "alerts", "alerts_geojson", "maps", "runs",
                  "reports", "outbox", "carbon", "accounts", "accuracy", "rules")
"""What a run and the reports write under ``--out`` (each must be a folder if present)."""
MAX_SITES_FILE_BYTES = 256 * 2**20
"""Largest sites file read (a GeoJSON of thousands of detailed polygons is a few MB)."""
MAX_CONFIG_FILE_BYTES = 2**20
"""Largest run settings (TOML) file read."""


def read_toml(path: str | os.PathLike[str], what: str, max_bytes: int,
              error: type[Exception] = ConfigError) -> dict[str, Any]:
    """The tables of a TOML input file (the run's config, a factors file), refused with one
    line of ``error`` when it is missing, not a regular file, over ``max_bytes``
    (:func:`aoi.files.check_input`), unreadable or not TOML."""
    check_input(path, max_bytes, error, what=what)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {path} is not valid TOML: {exc}") from None


ENV_NUMBERS = {"BLUECARBON_MEMORY_GB": (1e-6, 1e6), "BLUECARBON_HTTP_TIMEOUT": (0.1, 86_400.0),
               "GDAL_HTTP_MAX_RETRY": (0, 100), "GDAL_HTTP_RETRY_DELAY": (0, 3600),
               "GDAL_HTTP_TIMEOUT": (1, 86_400), "GDAL_HTTP_CONNECTTIMEOUT": (1, 3600),
               "GDAL_HTTP_LOW_SPEED_TIME": (0, 86_400), "GDAL_HTTP_LOW_SPEED_LIMIT": (0, 1e12)}
"""Numeric settings read from the environment, with their allowed ranges."""


def check_environment(environ: dict[str, str] | None = None) -> None:
    """Refuse, before any work, a numeric setting from the environment that is not a number
    in range (:data:`ENV_NUMBERS`): read where it is used, it would fail every site after
    its search, or be silently replaced by a default."""
    env = os.environ if environ is None else environ
    for name, (low, high) in ENV_NUMBERS.items():
        text = env.get(name, "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ConfigError(f"{name}={text[:40]!r} must be a number from {low:g} to {high:g}")


def check_scheduler(address: str | None, timeout: float = 5.0) -> None:
    """Refuse, before any work, a ``--dask-address`` nothing answers at (a TCP connection to
    its host and port within ``timeout`` seconds)."""
    if not address or address.startswith("inproc://"):
        return
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ConfigError(f"dask address must look like tcp://HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        why = ("connection refused" if isinstance(exc, ConnectionRefusedError) else
               f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else
               "cannot resolve the host name" if isinstance(exc, socket.gaierror) else
               " ".join(str(exc).split())[:120])
        raise ConfigError(f"cannot reach the dask scheduler at {address}: {why}") from None


def check_sites_path(path: Path) -> None:
    """Refuse a sites path that is not a regular file or a folder (a FIFO or ``/dev/zero``
    would block or never end) or a file too large to be a sites file; a missing path is left
    to the sites loader, which names it (:func:`aoi.files.check_input`)."""
    check_input(path, MAX_SITES_FILE_BYTES, ConfigError, what="sites", folders=True,
                missing_ok=True)


def _check_out(out: Path) -> None:
    """The results folder, or its nearest existing ancestor, must be a writable folder:
    otherwise every site would fail at its first write, after all the work."""
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out {out}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: {probe} is not writable")


_SECRET_URLS: dict[str, str] = {}
SECRET_URLS_ENV = "BLUECARBON_SECRET_URLS"
"""Environment variable holding the redacted -> real URL pairs of :func:`hide_secret_url`
(JSON), so that the flow runs ``bluecarbon serve`` starts in its subprocesses read them too."""


def hide_secret_url(url: str) -> str:
    """``url`` redacted (:func:`flows.sources.redact`); this process (and the subprocesses it
    starts later, through :data:`SECRET_URLS_ENV`) remembers the original, so that a flow run
    given the redacted form (Prefect stores and shows flow and deployment parameters) still
    reads from the real one (:func:`reveal_secret_url`)."""
    shown = redact(url)
    if shown != url:
        _SECRET_URLS[shown] = url
        os.environ[SECRET_URLS_ENV] = json.dumps(_SECRET_URLS)
    return shown


def reveal_secret_url(url: str) -> str:
    """The URL :func:`hide_secret_url` redacted into ``url`` in this process or the one that
    started it, else ``url``."""
    if url in _SECRET_URLS:
        return _SECRET_URLS[url]
    try:
        inherited = json.loads(os.environ.get(SECRET_URLS_ENV) or "{}")
    except ValueError:
        return url
    real = inherited.get(url) if isinstance(inherited, dict) else None
    return real if isinstance(real, str) else url


def _check_out_entries(out: Path) -> None:
    """What a run writes under ``--out`` must be a folder where a folder goes, and nothing at
    its top level may be a link (nothing is ever written through one): found now, not by a
    write after all the work."""
    if not out.is_dir():
        return
    try:
        entries = list(os.scandir(out))
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot list it: {exc.strerror or exc}") from None
    for entry in entries:
        if entry.is_symlink():
            raise ConfigError(f"--out {out}: {entry.path} is a symbolic link; bluecarbon never "
                              "writes through links inside the results folder (remove it)")
        if entry.name in RESULT_FOLDERS and not entry.is_dir(follow_symlinks=False):
            raise ConfigError(f"--out {out}: {entry.path} is not a folder; move it away")


def parse_date(value: Any, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _coerce(name: str, value: Any) -> Any:
    """Normalise one setting from TOML or argparse to the field's type."""
    if value is None:
        return None
    try:
        if name in ("start", "end"):
            return parse_date(value, name)
        if name in ("sites", "out", "factors"):
            return Path(value).expanduser()
        if name in ("seed", "chunks"):
            if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if name in ("mmu_ha", "max_area_ha", "max_cloud"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if name in ("source", "catalog", "dask_address"):
            if not isinstance(value, str):
                raise ValueError
            return value
    except ConfigError:  # already says what is wrong (a malformed date)
        raise
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} has a value of the wrong type: {str(value)[:40]!r}") from None
    raise ConfigError(f"unknown setting {name!r}")


def load_config(path: Path | None = None, **overrides: Any) -> RunConfig:
    """Settings from an optional TOML file (a ``[run]`` table or top-level keys) plus overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        data = read_toml(path, "config file", MAX_CONFIG_FILE_BYTES)
        data = data.get("run", data)
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: [run] must be a table of settings, "
                              f"got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(RunConfig)}
        for key, value in data.items():
            key = key.replace("-", "_")
            if key not in known:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig(**{k: _coerce(k, v) for k, v in values.items()})


# --------------------------------------------------------------------------- what a run needs


def make_source(config: RunConfig) -> Source:
    """The configured scene source; raises ``SourceError`` (one line) when it cannot be used.
    Prefect-free, so that ``bluecarbon serve`` checks it before Prefect is imported."""
    kwargs: dict[str, Any] = {}
    if config.source == "demo":
        kwargs["seed"] = config.seed
    if config.catalog:
        kwargs["catalog"] = reveal_secret_url(config.catalog)
    if config.max_cloud is not None and config.source != "demo":
        kwargs["max_cloud"] = config.max_cloud
    return get_source(config.source, **kwargs)


def check_period(config: RunConfig, sites: Sequence[Site]) -> None:
    """Refuse, in one line, a run that could report nothing: its last day (``--end``; for the
    demo source without one, the demo's fixed 'today') before a site's baseline ends. The
    change is measured against the baseline composite, so there would be no month to report,
    and the run would end "0 scenes found" with exit code 0 (issue 21)."""
    end, why = config.end, "--end"
    if end is None and config.source == "demo":
        from flows.sources.demo import DemoScenario

        end, why = DemoScenario().end, "the demo source simulates scenes up to"
    if end is None:
        return
    early = [s for s in sites if end < s.baseline_end]
    if not early:
        return
    site = early[0]
    others = f" (and {len(early) - 1} other site(s))" if len(early) > 1 else ""
    advice = ("give the site an earlier baseline, or use a real source (--source stac)"
              if config.end is None else f"set --end on or after {site.baseline_end}")
    raise ConfigError(f"{why} {end}, before the baseline of site {site.id}{others} ends "
                      f"({site.baseline_start}..{site.baseline_end}): no month to compare with "
                      f"it; {advice}")


def deployment_parameters(config: RunConfig) -> dict[str, Any]:
    """The nightly deployment's parameters for ``config`` (``bluecarbon serve``): every run
    setting, as JSON (dates ISO, paths absolute: flow runs start in the worker's folder; a
    local catalog path too, URLs as they are but for a password or token, which Prefect
    would store: :func:`hide_secret_url`)."""
    params: dict[str, Any] = {}
    for f in dataclasses.fields(RunConfig):
        value = getattr(config, f.name)
        if isinstance(value, Path):
            value = str(value.expanduser().resolve())
        elif isinstance(value, dt.date):
            value = value.isoformat()
        params[f.name] = value
    catalog = config.catalog
    if (catalog and not re.match(r"^[a-z][a-z0-9+.-]*://", catalog, re.I)
            and Path(catalog).expanduser().exists()):
        params["catalog"] = str(Path(catalog).expanduser().resolve())
    elif catalog:
        params["catalog"] = hide_secret_url(catalog)
    return params
