"""What ``bluecarbon`` returns and says when a command ends: the exit codes and the one line.

The meaning of each code is in :mod:`flows.cli`'s module doc. Every command's bad input is one
line on stderr (:func:`fail`) and exit 2; warnings are lines of their own (:func:`warn`).
"""

from __future__ import annotations

import sys

__all__ = ["EXIT_CODES", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL",
           "EXIT_UNREACHABLE", "EXIT_USAGE", "fail", "warn"]


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # as flows.runtime.termination.EXIT_INTERRUPTED (not imported: Prefect)
EXIT_CODES = (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_UNREACHABLE, EXIT_INTERRUPTED)
"""Every exit status ``bluecarbon`` documents (the module doc says what each means)."""


def fail(message: str, code: int = EXIT_USAGE) -> int:
    """The one error line of a command, and its exit code (bad input by default)."""
    print(f"bluecarbon: error: {message}", file=sys.stderr)
    return code


def warn(warnings: list[str]) -> None:
    """Each warning as its own line on stderr."""
    for line in warnings:
        print(f"bluecarbon: warning: {line}", file=sys.stderr)

