"""Helpers for the kiosk's browser tests: a wall on disk, a real server, a real Chromium.

Playwright drives the system Chromium; it never downloads a browser.
"""

from __future__ import annotations

import colorsys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from tests.conftest import story_text
from tests.support import Server

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SIZES = [(1920, 1080), (3840, 2160), (1080, 1920)]

# Recorded from the page itself, so a test sees what happened between two of its
# own steps: every slide change with the time it happened, every slide that
# came to the front without a decoded photo, and the timers still pending.
WATCH_SCRIPT = """
(() => {
  const pending = new Set();
  const realSetTimeout = window.setTimeout, realClearTimeout = window.clearTimeout;
  const realSetInterval = window.setInterval, realClearInterval = window.clearInterval;
  window.setTimeout = function (fn, ms, ...args) {
    const id = realSetTimeout.call(window, function () {
      pending.delete(id);
      if (typeof fn === "function") fn.apply(this, args);
    }, ms);
    pending.add(id);
    return id;
  };
  window.clearTimeout = function (id) { pending.delete(id); return realClearTimeout.call(window, id); };
  const intervals = new Set();
  window.setInterval = function (...a) { const id = realSetInterval.apply(window, a); intervals.add(id); return id; };
  window.clearInterval = function (id) { intervals.delete(id); return realClearInterval.call(window, id); };
  window.__timers = () => ({ timeouts: pending.size, intervals: intervals.size });

  window.__changes = [];
  window.__unready = [];
  window.__blank = 0;
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (r.attributeName === "data-slides" && el === document.body) {
        window.__changes.push([Date.now(), el.dataset.current]);
        if (window.__changes.length > 5000) window.__changes.splice(0, 1000);
      }
      if (r.attributeName === "class" && el.classList && el.classList.contains("slide")
          && el.classList.contains("is-front") && !(r.oldValue || "").includes("is-front")) {
        const img = el.querySelector(".slide-img");
        if (!el.classList.contains("no-photo") && !(img.complete && img.naturalWidth > 0)) {
          window.__unready.push(el.querySelector(".slide-name").textContent);
        }
      }
    }
  }).observe(document, { subtree: true, attributes: true, attributeOldValue: true,
                         attributeFilter: ["class", "data-slides"] });
})();
"""


def photo(path: Path, hue: float, size: tuple[int, int] = (900, 1200)) -> Path:
    """A bright JPEG with a simple face where `photo_focus` [0.5, 0.3] says it is."""
    w, h = size
    r, g, b = (int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.78, 0.7))
    image = Image.new("RGB", size, (r, g, b))
    draw = ImageDraw.Draw(image)
    cx, cy = w // 2, int(h * 0.3)
    draw.ellipse((cx - w // 5, cy - w // 4, cx + w // 5, cy + w // 4), fill=(240, 200, 170))
    draw.ellipse((cx - w // 3, int(h * 0.62), cx + w // 3, h + w // 3), fill=(250, 250, 245))
    image.save(path, "JPEG", quality=85)
    return path


class Wall:
    """A stories folder and an instance folder on disk, served by a real `storywall serve`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stories = root / "stories"
        self.instance = root / "instance"
        self.stories.mkdir(parents=True, exist_ok=True)
        self.instance.mkdir(parents=True, exist_ok=True)
        self.server: Server | None = None

    def story(self, slug: str, hue: float | None = 0.1, **fields: Any) -> Path:
        """Write a story bundle, with a generated photo unless hue is None; atomic."""
        folder = self.stories / slug
        folder.mkdir(exist_ok=True)
        if hue is not None:
            fields.setdefault("photo", "photo.jpg")
            fields.setdefault("photo_focus", [0.5, 0.3])
            photo(folder / "photo.tmp.jpg", hue).replace(folder / "photo.jpg")
        tmp = folder / ".index.md.tmp"
        tmp.write_text(story_text(**fields), encoding="utf-8")
        tmp.replace(folder / "index.md")
        return folder / "index.md"

    def config(self, text: str) -> None:
        (self.instance / "config.toml").write_text(text, encoding="utf-8")

    def serve(self, port: int | None = None) -> Server:
        self.server = Server(self.stories, self.instance, port=port)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    """Poll `predicate` until it is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        time.sleep(step)


def slides(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("Number(document.body.dataset.slides || 0)"))


def current(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate("document.body.dataset.current || null")


def advance(page, ms: int, timeout: float = 10.0) -> str | None:  # type: ignore[no-untyped-def]
    """With Playwright's fake clock: run `ms` of page time and wait for the next slide."""
    before = slides(page)
    page.clock.run_for(ms)
    page.wait_for_function(f"() => Number(document.body.dataset.slides || 0) > {before}", timeout=timeout * 1000)
    return current(page)


def lines(page) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from page.evaluate("window.__changes.map(c => c[1])")
