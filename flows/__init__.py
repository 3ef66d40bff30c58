"""Prefect flows and the I/O edges of bluecarbon: sources, the Parquet store, the command line."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    PROCESSING_VERSION = version("bluecarbon")
except PackageNotFoundError:  # running from a source tree that was not installed
    PROCESSING_VERSION = "0+unknown"

__all__ = ["PROCESSING_VERSION"]
