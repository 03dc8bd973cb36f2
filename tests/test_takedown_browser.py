"""A withdrawal reaches every screen, proven: three kiosks in a real Chromium, one offline.

Against a real `storywall serve`, with the kiosks' own service workers. The
story is withdrawn by its customer, who opens their private link on a phone and
presses "Take my story down"; the takedown report is read from the instance's
SQLite, as the admin page reads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser import Kiosk, Wall, wait_until
from wall.core import Wall as CoreWall
from wall.db import Database
from wall.settings import load_settings
from wall.takedown import playlist_etag, takedown_report

pytestmark = pytest.mark.slow

LIVE_SECONDS = 2.0  # from the issue: off every screen within 2 s
# The regular heartbeat is a minute away: only the one sent right after a
# playlist change can tell the server within seconds.
HEARTBEAT_SECONDS = 60
ACK_SECONDS = LIVE_SECONDS + 1.5  # the drop, then a heartbeat about a second later
INTERVAL = 4  # seconds per slide: each kiosk goes round the three stories quickly
SCREENS = ("lobby", "cafe", "dock")  # the dock's kiosk is the one that goes offline

# Counts the event streams the page opens (the browser's own retries are not counted).
COUNT_STREAMS = """(() => { const Real = window.EventSource; window.__streams = 0;
  function Counted(url, init) { window.__streams += 1; return new Real(url, init); }
  Counted.prototype = Real.prototype;
  Object.assign(Counted, { CONNECTING: 0, OPEN: 1, CLOSED: 2 });
  window.EventSource = Counted; })()"""

CACHED = """() => caches.keys().then(names => Promise.all(names.map(n => caches.open(n)
  .then(c => c.keys())))).then(lists => lists.flat().map(r => new URL(r.url).pathname))"""


@pytest.fixture
def wall(tmp_path) -> Iterator[Wall]:
    wall = Wall(tmp_path)
    for i, slug in enumerate(["ana", "bo", "cy"]):
        wall.story(slug, hue=i / 3, name=f"{slug.title()} Lee", role="Clerk")
    wall.config(f"heartbeat_seconds = {HEARTBEAT_SECONDS}\n")
    wall.serve()
    yield wall
    wall.stop()


def query(screen: str) -> str:
    return f"?screen={screen}&interval={INTERVAL}"


def customer_link(wall: Wall, slug: str) -> str:
    """The private link a moderator makes for the story's customer."""
    core = CoreWall.from_settings(
        load_settings(
            {"STORIES_DIR": str(wall.stories), "INSTANCE_PATH": str(wall.instance), "WATCH": "off"},
            environ={},
        )
    )
    core.index.rescan()
    return f"{wall.url}/consent/{core.consent.make_link(slug, 'alex')}"


def test_a_withdrawal_reaches_every_screen_and_the_report_proves_it(browser, wall) -> None:
    kiosks = {name: Kiosk(browser, wall.url) for name in SCREENS}
    kiosks["dock"].page.add_init_script(COUNT_STREAMS)
    try:
        run(browser, wall, kiosks)
        for kiosk in kiosks.values():
            kiosk.check_clean()
    finally:
        for kiosk in kiosks.values():
            kiosk.close()


def run(browser: Browser, wall: Wall, kiosks: dict[str, Kiosk]) -> None:
    db = Database.existing(wall.instance / "storywall.db")
    dock = kiosks["dock"]

    def held(name: str) -> str:
        return kiosks[name].page.evaluate("document.body.dataset.playlist || ''")

    def cached(kiosk: Kiosk) -> list[str]:
        return kiosk.page.evaluate(CACHED)

    def shown_since(kiosk: Kiosk, since_ms: float) -> list[str | None]:
        """Every story that came on screen since `since_ms`, by the page's clock."""
        changes = kiosk.watched("__changes")
        return [slug for at, slug in changes if at >= since_ms] + [kiosk.current]

    def report():  # type: ignore[no-untyped-def]
        return takedown_report(db, "bo", since, time.time(), stale_after=180)

    # Three screens, each with the wall, and each known to the server with its playlist.
    for name, kiosk in kiosks.items():
        kiosk.open(f"/kiosk{query(name)}")
    before = {name: wall.playlist(query(name))[1] for name in SCREENS}
    for name, kiosk in kiosks.items():
        kiosk.page.wait_for_function("() => !!navigator.serviceWorker.controller")
        wait_until(lambda: held(name) == before[name], 10, f"{name} has the playlist")  # noqa: B023
    wait_until(
        lambda: (
            {"/photos/bo", "/stories/bo/qr.svg"}
            <= {p if p.endswith("qr.svg") else p[:10] for p in cached(dock)}
        ),
        10,
        f"the dock's offline copy of bo, have {cached(dock)}",
    )

    def reported() -> dict[str, str | None]:
        rows = db.screens_heard_since(time.time() - 60)
        return {row["name"]: row["playlist"] for row in rows}

    wait_until(
        lambda: reported() == {n: playlist_etag(e) for n, e in before.items()},
        5,
        "every screen reported its playlist",
    )

    # The dock loses its network; it keeps what it has.
    dock.context.set_offline(True)
    dock.page.wait_for_timeout(300)

    # The customer opens their link on a phone, and takes the story down in one click.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    customer = phone.new_page()
    customer.goto(customer_link(wall, "bo"))
    since = time.time()
    customer.click("button[value=withdraw]")
    customer.wait_for_url("**done=withdrawn")
    assert "taken down from every screen" in customer.inner_text("main")
    phone.close()
    after = {}
    dropped_at: dict[str, float] = {}

    def dropped(name: str) -> bool:
        if name not in after:
            data, etag = wall.playlist(query(name))
            if "bo" in {s["slug"] for s in data["stories"]}:
                return False  # the server has not applied the change yet
            after[name] = etag
        if held(name) == after[name] and kiosks[name].current != "bo":
            # From here on it may never come back; before, it rightly could have.
            dropped_at.setdefault(name, time.time())
            return True
        return False

    # The two online screens drop it within 2 s...
    for name in ("lobby", "cafe"):
        wait_until(lambda: dropped(name), LIVE_SECONDS, f"{name} dropped bo")  # noqa: B023
    assert time.time() - since <= LIVE_SECONDS + 0.5
    # ...and say so within about a second; the offline one cannot.
    wait_until(
        lambda: {s.name for s in report().acknowledged} == {"lobby", "cafe"},
        ACK_SECONDS,
        f"lobby and cafe acknowledged: {report().summary}",
    )
    assert report().summary == "2 of 3 screens acknowledged; not yet: dock"

    # Meanwhile the offline kiosk keeps running, on what it had.
    slides = dock.slides
    dock.wait_slides(slides, timeout=INTERVAL + 4)
    assert held("dock") == before["dock"]
    assert dock.page.evaluate("document.body.classList.contains('is-offline')")
    assert not next(s for s in report().screens if s.name == "dock").acknowledged

    # The online ones never show it again.
    for name in ("lobby", "cafe"):
        assert "bo" not in shown_since(kiosks[name], dropped_at[name] * 1000), name

    # Back online: the dock drops it within 2 s, and its photo leaves the cache.
    streams = dock.watched("__streams")
    dock.context.set_offline(False)
    back = time.time()
    # It asks at once, and opens a fresh event stream, rather than wait for a timer.
    wait_until(lambda: dock.watched("__streams") > streams, 1.0, "a fresh event stream")

    def dock_clean() -> bool:
        paths = cached(dock)
        return dropped("dock") and not any("/bo/" in p for p in paths)

    wait_until(dock_clean, LIVE_SECONDS, f"the dock dropped bo and its photo: {cached(dock)}")
    assert "/api/stories" in cached(dock) and any(
        p.startswith("/photos/ana/") for p in cached(dock)
    )

    # It acknowledged only after it reconnected.
    def dock_acknowledged():  # type: ignore[no-untyped-def]
        return next((s for s in report().screens if s.name == "dock" and s.acknowledged), None)

    entry = wait_until(dock_acknowledged, ACK_SECONDS, "the dock acknowledged")
    assert entry.acknowledged_at >= back
    final = report()
    assert final.complete and final.summary == "all 3 screens acknowledged"
    assert [s.name for s in final.screens] == sorted(SCREENS)
    assert all(s.acknowledged_at < back for s in final.screens if s.name != "dock")
    assert "bo" not in shown_since(dock, back * 1000)

    # Reloaded while offline again, from its own cache: the wall without bo.
    dock.context.set_offline(True)
    dock.page.reload()
    dock.wait_slides(0, timeout=15)
    assert dock.page.evaluate("document.body.classList.contains('is-offline')")
    assert held("dock") == after["dock"]
    reloaded = time.time()
    dock.wait_slides(2, timeout=3 * INTERVAL + 6)  # three slides: round all it has
    assert "bo" not in shown_since(dock, 0)
    assert dock.front()["decoded"]
    assert not any("/bo/" in p for p in cached(dock))
    assert time.time() - reloaded < 3 * INTERVAL + 6
    db.close()
