"""Pages as a person sees them: headless Chromium driven over its DevTools protocol (CDP).

Chromium's command line cannot lay a page out narrower than 500 px (``--window-size=390,...``
still lays it out at 500 px and crops the screenshot), so phone widths need CDP's device
metrics override. One browser per test session (:class:`Browser`), one page a call:
:meth:`Browser.look` loads a file at a width and returns the full-page screenshot and the
boxes of the page's blocks, measured in the DOM. Loopback only (the DevTools socket).

Layout checks on those boxes (:func:`overlaps`, :func:`overflowing`) and on PDF pages
(:func:`page_fill`) are here too, shared by tests/test_report.py and tests/test_annual.py.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["BLOCKS", "Box", "Browser", "Look", "overflowing", "overlaps", "page_fill"]

BLOCKS = ("header", "h1", "h2", "h3", "h4", "p", "table", "figure", "figcaption", "img", "ul",
          "footer")
"""CSS selectors of the blocks whose boxes are measured (leaf-ish blocks: a box that contains
another is not an overlap)."""

_MEASURE = """
(() => {
  const sel = %s;
  const out = [];
  const seen = new Set();
  for (const s of sel) {
    for (const el of document.querySelectorAll(s)) {
      if (seen.has(el)) continue;
      seen.add(el);
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      out.push({sel: s, tag: el.tagName.toLowerCase(), id: el.id || '',
                cls: el.className && el.className.baseVal === undefined ? el.className : '',
                text: (el.innerText || el.alt || '').trim().slice(0, 60),
                x: r.left + window.scrollX, y: r.top + window.scrollY,
                w: r.width, h: r.height,
                sw: el.scrollWidth, cw: el.clientWidth});
    }
  }
  return {boxes: out, width: document.documentElement.clientWidth,
          scrollWidth: document.documentElement.scrollWidth,
          height: document.documentElement.scrollHeight};
})()
"""


@dataclass(frozen=True)
class Box:
    """A block's box in CSS pixels, page coordinates."""

    sel: str
    tag: str
    cls: str
    text: str
    x: float
    y: float
    w: float
    h: float
    scroll_w: float
    client_w: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def contains(self, other: Box, slack: float = 0.5) -> bool:
        return (self.x - slack <= other.x and self.y - slack <= other.y
                and other.right <= self.right + slack and other.bottom <= self.bottom + slack)

    def intersection(self, other: Box) -> float:
        w = min(self.right, other.right) - max(self.x, other.x)
        h = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(w, 0.0) * max(h, 0.0)

    def __str__(self) -> str:
        name = f"{self.tag}.{self.cls}" if self.cls else self.tag
        return (f"{name} '{self.text[:30]}' at ({self.x:.0f}, {self.y:.0f}) "
                f"{self.w:.0f}x{self.h:.0f}")


@dataclass(frozen=True)
class Look:
    """A page at one width: its screenshot and the boxes of its blocks."""

    width: int
    image: Image.Image
    boxes: tuple[Box, ...]
    scroll_width: float
    """Width of the laid-out document: over :attr:`width`, the page scrolls sideways."""
    height: float


def overlaps(boxes: tuple[Box, ...], slack: float = 1.0) -> list[tuple[Box, Box]]:
    """Pairs of blocks that overlap by more than ``slack`` px in both directions and where
    neither contains the other (a table in a section, an image in its figure: nesting is not
    overlap)."""
    found = []
    for a, b in itertools.combinations(boxes, 2):
        if a.contains(b) or b.contains(a):
            continue
        w = min(a.right, b.right) - max(a.x, b.x)
        h = min(a.bottom, b.bottom) - max(a.y, b.y)
        if w > slack and h > slack:
            found.append((a, b))
    return found


def overflowing(look: Look, slack: float = 1.0) -> list[Box]:
    """Blocks that stick out of the viewport to the right, or whose content is wider than
    their box (cut off, or scrolling inside)."""
    return [b for b in look.boxes
            if b.right > look.width + slack or b.scroll_w > b.client_w + slack]


def page_fill(page: Image.Image, *, top_mm: float = 14.0, bottom_mm: float = 16.0,
              page_mm: float = 297.0, white: int = 245) -> float:
    """Share of a PDF page's content area (between the top and bottom margins, where the
    running footer lives) that lies above the lowest non-white pixel row: 1.0 is a full
    page, 0.3 a page two-thirds empty."""
    gray = np.asarray(page.convert("L"))
    px_mm = gray.shape[0] / page_mm
    top, bottom = int(top_mm * px_mm), int(gray.shape[0] - bottom_mm * px_mm)
    area = gray[top:bottom]
    inked = np.nonzero((area < white).any(axis=1))[0]
    if not inked.size:
        return 0.0
    return float((inked[-1] + 1) / area.shape[0])


class Browser:
    """A headless Chromium for the session; :meth:`look` renders files at given widths."""

    def __init__(self, binary: str):
        self._dir = Path(tempfile.mkdtemp(prefix="bluecarbon-cdp-"))
        self._proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={self._dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self._dir / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        from websockets.sync.client import connect

        self._ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30)
        self._ids = itertools.count(1)

    def _send(self, method: str, params: dict | None = None, session: str | None = None,
              timeout: float = 60.0) -> dict:
        msg_id = next(self._ids)
        msg: dict = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if time.monotonic() > deadline:
                raise TimeoutError(method)

    def _wait_event(self, name: str, session: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("method") == name and reply.get("sessionId") == session:
                return
        raise TimeoutError(name)

    def look(self, html_file: Path, width: int, height: int = 900, *,
             blocks: tuple[str, ...] = BLOCKS, media: str = "screen") -> Look:
        """``html_file`` laid out ``width`` CSS px wide (a phone's viewport under 600 px:
        mobile emulation, so ``<meta name=viewport>`` counts, at 2 device pixels per CSS px),
        screenshot of the whole page (in device pixels);
        ``media="print"`` lays it out with the page's print styles (as for a PDF)."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        try:
            # a phone draws 2-3 device pixels per CSS px (a 390-px iPhone: 3); 2 here
            metrics = {"width": width, "height": height, "deviceScaleFactor": 2 if width < 600
                       else 1, "mobile": width < 600}
            self._send("Emulation.setDeviceMetricsOverride", metrics, session)
            self._send("Emulation.setEmulatedMedia", {"media": media}, session)
            self._send("Page.enable", session=session)
            self._send("Page.navigate", {"url": html_file.resolve().as_uri()}, session)
            self._wait_event("Page.loadEventFired", session)
            measured = self._send("Runtime.evaluate", {
                "expression": _MEASURE % json.dumps(list(blocks)), "returnByValue": True},
                session)["result"]["value"]
            full = int(measured["height"])
            self._send("Emulation.setDeviceMetricsOverride", {**metrics, "height": full},
                       session)
            shot = self._send("Page.captureScreenshot", {"format": "png"}, session)
        finally:
            self._send("Target.closeTarget", {"targetId": target})
        image = Image.open(io.BytesIO(base64.b64decode(shot["data"])))
        boxes = tuple(Box(b["sel"], b["tag"], b["cls"] or "", b["text"], b["x"], b["y"], b["w"],
                          b["h"], b["sw"], b["cw"]) for b in measured["boxes"])
        return Look(width, image, boxes, measured["scrollWidth"], measured["height"])

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
