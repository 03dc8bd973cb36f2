"""Faults a production server meets: a graceful reload (SIGHUP), a worker that
dies, and more load than it can take. Kiosks keep showing stories throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import story_text
from tests.support import Server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[Server, Path]]:
    stories = tmp_path / "stories"
    stories.mkdir()
    for name in ["Maria Alvarez", "Dev Patel", "Ngozi Okafor"]:
        slug = name.split()[0].lower()
        (stories / f"{slug}.md").write_text(story_text(name=name))
    server = Server(stories, tmp_path / "instance")
    yield server, stories
    server.stop()


@pytest.fixture
def kiosk(served):
    server, _ = served
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{server.url}/kiosk?interval=3")
        wait_js(page, "Number(document.body.dataset.slides || 0) >= 1")
        yield page
        browser.close()


def wait_js(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JavaScript expression until true. (wait_for_function evaluates strings
    with eval, which the kiosk's Content-Security-Policy rightly refuses.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.05)


def slides(page) -> int:
    return int(page.evaluate("Number(document.body.dataset.slides || 0)"))


def workers(server: Server) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
    ).stdout
    return [int(pid) for pid in out.split()]


def test_sighup_keeps_kiosks_rotating_and_they_reconnect(served, kiosk) -> None:
    server, stories = served
    before = workers(server)
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    while set(workers(server)) & set(before) or len(workers(server)) < 2:
        assert time.monotonic() < deadline, "workers were not replaced"
        time.sleep(0.2)
    count = slides(kiosk)
    wait_js(kiosk, f"Number(document.body.dataset.slides) > {count}")
    assert kiosk.locator(".slide.is-front .slide-name").inner_text() != ""
    # Reconnected: a change made now reaches the screen through the new workers.
    (stories / "zoe.md").write_text(story_text(name="Zoe Quist"))
    wait_js(
        kiosk,
        "[...document.querySelectorAll('.slide-name')].some(el => el.textContent.includes('Zoe'))",
        timeout=15,
    )
    assert server.process.poll() is None


def test_a_dying_worker_leaves_the_wall_up(served, kiosk) -> None:
    server, _ = served
    victim = workers(server)[0]
    os.kill(victim, signal.SIGKILL)
    count = slides(kiosk)
    wait_js(kiosk, f"Number(document.body.dataset.slides) > {count}")
    deadline = time.monotonic() + 20
    while len(workers(server)) < 2 or victim in workers(server):
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.2)
    assert server.get("/healthz")[0] == 200


def test_overload_gets_503_with_retry_after_never_a_hang(tmp_path) -> None:
    """More kiosks than a worker's stream slots: the rest are told to come back later."""
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "maria.md").write_text(story_text())
    server = Server(stories, tmp_path / "instance", "--workers", "1", "--threads", "8")
    opened: list = []
    try:
        statuses: list[int] = []
        retry_after: list[str | None] = []
        for _ in range(12):  # 8 threads keep 4 back for pages: 4 stream slots
            try:
                response = urllib.request.urlopen(server.url + "/api/events", timeout=5)
                opened.append(response)
                statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                retry_after.append(exc.headers.get("Retry-After"))
                exc.close()
        assert statuses.count(200) == 4
        assert statuses.count(503) == 8 and set(retry_after) == {"30"}
        # Pages still answer, quickly, while every stream slot is taken.
        errors: list[int] = []

        def load() -> None:
            for _ in range(20):
                status, _ = server.get("/api/stories")
                if status >= 500:
                    errors.append(status)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
    finally:
        for response in opened:
            response.close()
        server.stop()
