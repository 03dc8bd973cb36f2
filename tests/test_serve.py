"""A real `storywall serve` (gunicorn, two workers): every kind of change reaches clients.

Each change must show in /api/stories within a second and be announced on
/api/events, whichever worker a client talks to.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import story_text
from tests.support import LIVE_BOUND, EventListener, Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp("served")
    stories = root / "stories"
    stories.mkdir()
    (stories / "maria.md").write_text(story_text())
    server = Server(stories, root / "instance")
    yield server, stories
    server.stop()


def change_then_check(server: Server, listener: EventListener, action, expected) -> None:
    seen = len(listener.versions)
    started = time.monotonic()
    action()
    while not expected(server.slugs()):
        if time.monotonic() - started > LIVE_BOUND:
            raise AssertionError(f"not visible within {LIVE_BOUND}s: {server.slugs()}")
        time.sleep(0.02)
    left = max(LIVE_BOUND - (time.monotonic() - started), 0.05)
    assert listener.wait_for(lambda: len(listener.versions) > seen, left), "no version event"


@pytest.fixture
def listener(served) -> Iterator[EventListener]:
    events = EventListener(served[0].url)
    yield events
    events.close()


def test_pages_answer(served) -> None:
    server, _ = served
    for path in ["/", "/kiosk", "/stories/maria", "/api/stories", "/healthz"]:
        assert server.get(path)[0] == 200, path
    assert "WARNING" not in server.log.read_text()


def test_connections_are_kept_alive(served) -> None:
    server, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for path in ["/", "/api/stories", "/healthz"]:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, path
            assert response.getheader("Connection", "").lower() != "close", path
    finally:
        connection.close()


def test_every_kind_of_change_is_live(served, listener, tmp_path) -> None:
    server, stories = served
    maria = stories / "maria.md"

    def edit(role: str) -> Callable[[], None]:
        return lambda: maria.write_text(story_text(role=role))

    def sed() -> None:
        subprocess.run(["sed", "-i", "s/role: By hand/role: By sed/", str(maria)], check=True)

    def vim() -> None:
        subprocess.run(
            [
                "vim",
                "-Es",
                "-u",
                "NONE",
                "-i",
                "NONE",
                "--cmd",
                "set nocp backupcopy=no",
                "-c",
                "%s/role: By sed/role: By vim/",
                "-c",
                "wq",
                str(maria),
            ],
            check=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )

    def cp() -> None:
        (tmp_path / "x.md").write_text(story_text(role="By cp"))
        subprocess.run(["cp", str(tmp_path / "x.md"), str(maria)], check=True)

    def rsync() -> None:
        (tmp_path / "up").mkdir()
        (tmp_path / "up" / "maria.md").write_text(story_text(role="By rsync"))
        subprocess.run(["rsync", "-a", f"{tmp_path}/up/", f"{stories}/"], check=True)

    def renamed_in() -> None:
        tmp = stories / ".dev.md.tmp"
        tmp.write_text(story_text(name="Dev Patel", role="Payroll administrator"))
        os.replace(tmp, stories / "dev.md")

    def bundle() -> None:
        (stories / "ngozi").mkdir()
        (stories / "ngozi" / "index.md").write_text(story_text(name="Ngozi", role="Dock"))

    steps = [
        ("written directly", edit("By hand"), lambda s: s.get("maria") == "By hand"),
        ("sed -i", sed, lambda s: s.get("maria") == "By sed"),
        ("vim", vim, lambda s: s.get("maria") == "By vim"),
        ("cp over", cp, lambda s: s.get("maria") == "By cp"),
        ("rsync", rsync, lambda s: s.get("maria") == "By rsync"),
        ("temp + rename", renamed_in, lambda s: "dev" in s),
        ("new bundle", bundle, lambda s: "ngozi" in s),
        (
            "rename",
            lambda: (stories / "dev.md").rename(stories / "dev-patel.md"),
            lambda s: "dev-patel" in s and "dev" not in s,
        ),
        ("delete", lambda: (stories / "dev-patel.md").unlink(), lambda s: "dev-patel" not in s),
        ("rm -rf bundle", lambda: shutil.rmtree(stories / "ngozi"), lambda s: "ngozi" not in s),
        (
            "unapproved",
            lambda: maria.write_text(story_text(status="pending")),
            lambda s: "maria" not in s,
        ),
    ]
    for name, action, expected in steps:
        try:
            change_then_check(server, listener, action, expected)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def test_git_checkout_is_live(served, listener) -> None:
    server, stories = served

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(stories), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
        )

    (stories / "maria.md").write_text(story_text(role="On main"))
    (stories / "ana.md").write_text(story_text(name="Ana", role="DBA"))
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "main")
    git("checkout", "-qb", "other")
    (stories / "maria.md").write_text(story_text(role="On other"))
    (stories / "ana.md").unlink()
    (stories / "bo.md").write_text(story_text(name="Bo", role="Clerk"))
    git("add", "-A")
    git("commit", "-qm", "other")
    change_then_check(
        server,
        listener,
        lambda: git("checkout", "-q", "main"),
        lambda s: s.get("maria") == "On main" and "ana" in s and "bo" not in s,
    )


def test_malformed_files_never_stop_the_server(served) -> None:
    server, stories = served
    (stories / "broken.md").write_bytes(b"---\nname: \xff\n---\n")
    deadline = time.monotonic() + 5
    while json.loads(server.get("/healthz")[1])["index"]["problems"] < 1:
        assert time.monotonic() < deadline, "problem never counted"
        time.sleep(0.05)
    assert server.get("/")[0] == 200
    (stories / "broken.md").unlink()
