"""A real gunicorn: workers start from the master's index, and catch up with the disk.

The master reads the stories once, before it forks; each worker then starts
watching and compares stats to catch what changed in between. Here the
changes are made in exactly that gap, from gunicorn's `pre_fork` hook: after
the master's load, before any worker watches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TODAY, story_text
from tests.support import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

# `storywall serve`'s own server class, with a pre_fork hook that changes the
# stories the master has just read.
GATED = """
import os, shutil, sys
from pathlib import Path
from wall.server import WallServer, gunicorn_options
from wall.settings import load_settings

stories, port = Path(sys.argv[1]), int(sys.argv[2])
changes = Path(sys.argv[3])

class ChangedWhileForking(WallServer):
    def load_config(self):
        super().load_config()
        self.cfg.set("pre_fork", self.change)

    def change(self, server, worker):
        if not changes.exists():
            return
        for name in sorted(os.listdir(changes)):
            step = changes / name
            kind, slug = name.split("-", 1)[1].split(".", 1)[0].split("@")
            target = stories / slug / "index.md"
            if kind == "write":
                target.parent.mkdir(exist_ok=True)
                os.replace(step, target)
            elif kind == "inplace":
                # Same size, same mtime, same inode: only the change time tells.
                before = os.stat(target)
                with open(target, "r+b") as f:
                    f.write(step.read_bytes())
                os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
                step.unlink()
            elif kind == "delete":
                shutil.rmtree(target.parent)
                step.unlink()

settings = load_settings({"STORIES_DIR": str(stories)})
options = gunicorn_options(host="127.0.0.1", port=port, workers=2, threads=8)
ChangedWhileForking(dict(settings), options).run()
"""


def listing(url: str) -> dict[str, dict]:
    with urllib.request.urlopen(url + "/api/stories", timeout=10) as response:
        return {s["slug"]: s for s in json.loads(response.read())["stories"]}


def test_changes_made_while_the_workers_start_are_served(tmp_path: Path) -> None:
    stories, changes = tmp_path / "stories", tmp_path / "changes"
    stories.mkdir()
    changes.mkdir()
    for slug in ("kept", "edited", "inplace", "withdrawn", "deleted"):
        (stories / slug).mkdir()
        (stories / slug / "index.md").write_text(story_text(name=slug.title(), role="Role AAA"))
    withdrawn = {"given_by": "W", "date": TODAY.isoformat(), "scope": ["hallway"]}
    steps = {
        "1-write@edited": story_text(name="Edited", role="Payroll lead"),
        "2-inplace@inplace": story_text(name="Inplace", role="Role BBB"),
        "3-write@withdrawn": story_text(
            name="Withdrawn", consent={**withdrawn, "withdrawn": TODAY.isoformat()}
        ),
        "4-delete@deleted": "",
        "5-write@added": story_text(name="Added"),
    }
    for name, text in steps.items():
        (changes / f"{name}.md").write_text(text)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALL_")}
    env["WALL_INSTANCE_PATH"] = str(tmp_path / "instance")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-c", GATED, str(stories), str(port), str(changes)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                listing(url)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.1)
        assert list(changes.iterdir()) == []  # every change made, before the first fork
        # Each request on a new connection: both workers answer in turn.
        for _ in range(12):
            listed = listing(url)
            assert set(listed) == {"kept", "edited", "inplace", "added"}
            assert listed["edited"]["role"] == "Payroll lead"
            assert listed["inplace"]["role"] == "Role BBB"
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def test_the_index_cache_is_written_while_the_workers_start(tmp_path: Path) -> None:
    from tests.support import Server

    stories = tmp_path / "stories"
    stories.mkdir()
    for n in range(20):
        (stories / f"story-{n}.md").write_text(story_text(name=f"Person {n}"))
    cache = tmp_path / "instance" / "index-cache.pickle"
    server = Server(stories, tmp_path / "instance")
    try:
        deadline = time.monotonic() + 30
        while not cache.exists():  # written by a child of the master, beside the workers
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.05)
        first = {slug: s["name"] for slug, s in listing(server.url).items()}
    finally:
        server.stop()
    again = Server(stories, tmp_path / "instance")
    try:
        assert {slug: s["name"] for slug, s in listing(again.url).items()} == first
        assert "Traceback" not in again.log.read_text()
    finally:
        again.stop()


def _ask(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url + "/api/stories", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:  # a 304 arrives as one
        return error.code, dict(error.headers), error.read()


def test_kiosks_get_gzip_and_304_from_every_worker(tmp_path: Path) -> None:
    import gzip

    from tests.support import Server

    stories = tmp_path / "stories"
    stories.mkdir()
    for n in range(30):
        (stories / f"story-{n}.md").write_text(story_text(name=f"Person {n}"))
    server = Server(stories, tmp_path / "instance")
    try:
        _, plain_headers, plain = _ask(server.url, {})
        seen = set()
        # Each on a new connection, so both workers answer, from Flask and then again.
        for _ in range(12):
            status, headers, body = _ask(server.url, {"Accept-Encoding": "gzip"})
            assert status == 200 and headers["Content-Encoding"] == "gzip"
            assert headers["Vary"] == "Accept-Encoding" and headers["Date"]
            assert gzip.decompress(body) == plain
            seen.add(headers["ETag"])
        assert seen == {plain_headers["ETag"][:-1] + '-gz"'}
        etag = seen.pop()
        for _ in range(12):
            status, headers, body = _ask(
                server.url, {"Accept-Encoding": "gzip", "If-None-Match": etag}
            )
            assert (status, body, headers["ETag"]) == (304, b"", etag)
        # A withdrawal: the old ETag gets the new playlist, from whichever worker.
        (stories / "story-7.md").write_text(
            story_text(
                name="Person 7",
                consent={
                    "given_by": "Person 7",
                    "date": TODAY.isoformat(),
                    "scope": ["hallway"],
                    "withdrawn": TODAY.isoformat(),
                },
            )
        )
        deadline = time.monotonic() + 10
        while True:
            status, headers, body = _ask(
                server.url, {"Accept-Encoding": "gzip", "If-None-Match": etag}
            )
            if status == 200:
                break
            assert time.monotonic() < deadline, "the withdrawal never reached /api/stories"
            time.sleep(0.02)
        for _ in range(12):
            status, headers, body = _ask(server.url, {"Accept-Encoding": "gzip"})
            assert status == 200 and b"Person 7" not in gzip.decompress(body)
    finally:
        server.stop()
