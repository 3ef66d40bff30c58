"""The errors of aoi/: each message is one line, naming the file, the feature and the problem."""

from __future__ import annotations

__all__ = ["CalibrationError", "SitesError"]


class SitesError(ValueError):
    """A sites file was refused; the message is one line naming file, feature and problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


class CalibrationError(ValueError):
    """A site's calibration polygons were refused; the message is one line naming the file,
    the feature and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))
