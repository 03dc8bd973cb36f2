"""Helpers for the kiosk's browser tests: a wall on disk, a real server, a real Chromium.

Playwright drives the system Chromium (`/usr/bin/chromium`); it never
downloads a browser. Pages run with Playwright's fake clock where a test needs
to step through many slides quickly: fetches, events and photo decoding stay
real, only the page's timers and `Date` are driven by the test.
"""

from __future__ import annotations

import colorsys
import datetime as dt
import gzip
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page

from tests.conftest import MODERATOR, story_text
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
# A weekday morning, in UTC like the pages' time zone: inside office hours, far
# from the quiet-hour reload.
MORNING = dt.datetime(2026, 10, 20, 10, 0, tzinfo=dt.UTC)

# Recorded in the page itself, so a test sees what happened between two of its
# own steps: every slide change with its time, every slide that came to the
# front without a decoded photo, CSP violations, and the timers still pending.
WATCH_SCRIPT = """
(() => {
  const pending = new Set(), intervals = new Set();
  const setT = window.setTimeout, clearT = window.clearTimeout;
  const setI = window.setInterval, clearI = window.clearInterval;
  window.setTimeout = function (fn, ms, ...args) {
    const id = setT.call(window, function () {
      pending.delete(id);
      if (typeof fn === "function") fn.apply(this, args);
    }, ms);
    pending.add(id);
    return id;
  };
  window.clearTimeout = function (id) { pending.delete(id); return clearT.call(window, id); };
  window.setInterval = function (...a) {
    const id = setI.apply(window, a); intervals.add(id); return id;
  };
  window.clearInterval = function (id) {
    intervals.delete(id); return clearI.call(window, id);
  };
  window.__timers = () => ({ timeouts: pending.size, intervals: intervals.size });

  window.__changes = [];   // [time, slug] of the last 100 slide changes
  window.__unready = [];   // names of slides that came to the front with no decoded photo
  window.__violations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (r.attributeName === "data-slides" && el === document.body) {
        window.__changes.push([Date.now(), el.dataset.current]);
        if (window.__changes.length > 100) window.__changes.shift();
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

# Resolves once body[data-slides] passes n: no timers, so it works on a paused clock.
WAIT_SLIDES = """n => new Promise(resolve => {
  const done = () => Number(document.body.dataset.slides || 0) > n;
  if (done()) return resolve();
  const o = new MutationObserver(() => { if (done()) { o.disconnect(); resolve(); } });
  o.observe(document.body, { attributes: true, attributeFilter: ["data-slides"] });
})"""


def photo(path: Path, hue: float, size: tuple[int, int] = (900, 1200)) -> Path:
    """A bright JPEG with a simple face where `photo_focus` [0.5, 0.3] says it is."""
    w, h = size
    r, g, b = (int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.8, 0.7))
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
        """Write a story bundle, with a generated photo unless hue is None; atomically."""
        folder = self.stories / slug
        folder.mkdir(exist_ok=True)
        if hue is not None and "photo" not in fields:
            fields["photo"] = "photo.jpg"
            fields.setdefault("photo_focus", [0.5, 0.3])
            if not (folder / "photo.jpg").exists():
                photo(folder / ".photo.jpg", hue).replace(folder / "photo.jpg")
        tmp = folder / ".index.md.tmp"
        tmp.write_text(story_text(**fields), encoding="utf-8")
        tmp.replace(folder / "index.md")
        return folder / "index.md"

    def config(self, text: str) -> None:
        (self.instance / "config.toml").write_text(text, encoding="utf-8")

    def add_moderator(self) -> None:
        """The moderator `sign_in` signs in as (a cheap hash: tests sign in often)."""
        from werkzeug.security import generate_password_hash

        from wall.db import Database

        db = Database(self.instance / "storywall.db")
        db.add_user(MODERATOR[0], generate_password_hash(MODERATOR[1], method="pbkdf2:sha256:1000"))
        db.close()

    def serve(self, port: int | None = None) -> Server:
        self.server = Server(self.stories, self.instance, port=port)
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def playlist(self, query: str = "") -> tuple[dict, str]:
        """/api/stories as a browser gets it (compressed): the JSON and its ETag."""
        request = urllib.request.Request(
            f"{self.url}/api/stories{query}", headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return json.loads(body), response.headers["ETag"]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class Kiosk:
    """A kiosk page in its own browser context, watched for errors and stray requests."""

    def __init__(
        self,
        browser: Browser,
        base_url: str,
        size: tuple[int, int] = (1920, 1080),
        *,
        clock: dt.datetime | None = None,
        reduced_motion: bool = False,
        service_workers: str = "allow",
    ) -> None:
        self.base_url = base_url
        self.context = browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            timezone_id="UTC",
            reduced_motion="reduce" if reduced_motion else "no-preference",
            service_workers=service_workers,  # type: ignore[arg-type]
        )
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", self._request)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        if clock is not None:
            # Paused from the start: the page's time moves only when the test says.
            self.page.clock.install(time=clock)
            self.page.clock.pause_at(clock + dt.timedelta(seconds=1))
        self.page.add_init_script(WATCH_SCRIPT)

    def _request(self, request) -> None:  # type: ignore[no-untyped-def]
        url = request.url
        if not (url.startswith(self.base_url + "/") or url.startswith("data:")):
            self.foreign.append(url)

    def open(self, path: str = "/kiosk") -> Kiosk:
        """Load the kiosk and wait for its first slide."""
        self.page.goto(self.base_url + path)
        self.wait_slides(0, timeout=15)
        return self

    def now(self) -> float:
        """The page's clock, in seconds."""
        return self.page.evaluate("Date.now()") / 1000

    @property
    def slides(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.slides || 0)"))

    @property
    def current(self) -> str | None:
        return self.page.evaluate("document.body.dataset.current || null")

    def wait_slides(self, after: int, timeout: float = 10) -> None:
        self.page.wait_for_function(
            "n => Number(document.body.dataset.slides || 0) > n", arg=after, timeout=timeout * 1000
        )

    def advance(self, ms: float, timeout: float = 10) -> str | None:
        """On a paused clock: run `ms` of page time, then wait for the next slide."""
        before = self.slides
        self.page.clock.run_for(int(ms))
        self.page.evaluate(WAIT_SLIDES, before)
        return self.current

    def front(self) -> dict[str, Any]:
        """What the visible slide shows."""
        return self.page.evaluate(
            """() => { const s = document.querySelector('.slide.is-front');
            return s && { name: s.querySelector('.slide-name').textContent,
              role: s.querySelector('.slide-role').textContent,
              quote: s.querySelector('.slide-quote').textContent,
              photo: !s.classList.contains('no-photo'),
              decoded: s.querySelector('.slide-img').naturalWidth > 0 }; }"""
        )

    def watched(self, name: str) -> Any:
        return self.page.evaluate(f"window.{name}")

    def check_clean(self) -> None:
        """No script errors, no CSP violations, nothing fetched from another host."""
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign
        assert self.watched("__violations") == []

    def close(self) -> None:
        self.context.close()


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    step: float = 0.05,
    page: Page | None = None,
) -> Any:
    """Poll `predicate` until it is truthy; fail saying `what` after `timeout` seconds.

    Playwright delivers a page's events (loads, requests) only while the test
    calls into it: pass the `page` when the predicate depends on them.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        if page is not None:
            page.wait_for_timeout(step * 1000)
        else:
            time.sleep(step)


def sign_in(page: Page, url: str) -> None:
    """Sign the test moderator in through the real form, and land on the queue."""
    from tests.conftest import MODERATOR

    page.goto(f"{url}/login")
    page.fill("#name", MODERATOR[0])
    page.fill("#password", MODERATOR[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
