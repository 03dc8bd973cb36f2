"""A real `storywall serve` given hostile story files: links out of the folder, alias bombs.

Git keeps symlinks, so anyone who can merge into a stories repository could
point a photo or a story at any file the server can read. Nothing outside the
stories folder is ever served, and no file can make a worker balloon.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.security import generate_password_hash

from tests.conftest import story_text
from tests.support import Server
from wall.db import Database

pytestmark = pytest.mark.slow

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]\n" for n in range(8)
)


def jpeg() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (400, 500), (200, 40, 40)).save(image, "JPEG")
    return image.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp("hostile")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(jpeg())
    (outside / "story.md").write_text(story_text(name="Outside Person"))
    (outside / "bundle").mkdir()
    (outside / "bundle" / "index.md").write_text(story_text(name="Outside Bundle"))
    stories = root / "stories"
    stories.mkdir()
    # A photo that leads out of the folder.
    (stories / "maria").mkdir()
    (stories / "maria" / "index.md").write_text(story_text(photo="face.jpg", photo_alt="Maria"))
    os.symlink(outside / "secret.jpg", stories / "maria" / "face.jpg")
    # A photo link that stays inside is fine.
    (stories / "dev").mkdir()
    (stories / "dev" / "real.jpg").write_bytes(jpeg())
    os.symlink("real.jpg", stories / "dev" / "face.jpg")
    (stories / "dev" / "index.md").write_text(
        story_text(name="Dev Patel", photo="face.jpg", photo_alt="Dev")
    )
    # A story file, and a whole bundle, that are links to elsewhere.
    os.symlink(outside / "story.md", stories / "linked.md")
    os.symlink(outside / "bundle", stories / "linked-bundle")
    # An alias bomb under an unknown key.
    bomb = story_text(name="Bomb Person").replace("---\n", "---\n" + ALIAS_BOMB, 1)
    assert len(bomb) < 1500
    (stories / "bomb.md").write_text(bomb)
    # Named pipes nobody writes to, as a story file and as a bundle's: reading
    # one the ordinary way waits forever.
    os.mkfifo(stories / "pipe.md")
    (stories / "piped").mkdir()
    os.mkfifo(stories / "piped" / "index.md")
    server = Server(stories, root / "instance")
    yield server, stories
    server.stop()


def status(server: Server, path: str) -> int:
    try:
        return server.get(path)[0]
    except urllib.error.HTTPError as exc:
        return exc.code


def test_only_stories_inside_the_folder_are_served(served) -> None:
    server, _ = served
    # A story whose photo leads out is a problem for its moderators, like a missing photo.
    assert set(server.slugs()) == {"dev"}
    for path in (
        "/stories/maria",
        "/stories/linked",
        "/stories/linked-bundle",
        "/stories/bomb",
        "/stories/pipe",
        "/stories/piped",
    ):
        assert status(server, path) == 404, path


def test_a_photo_link_that_stays_inside_is_served(served) -> None:
    server, _ = served
    dev = server.json("/api/stories")["stories"][0]
    assert status(server, dev["photo"]["src"]) == 200


def test_check_names_each_hostile_file(served, tmp_path: Path) -> None:
    import subprocess
    import sys

    _, stories = served
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "wall", "--instance", str(tmp_path), "check", str(stories)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    out = done.stdout
    assert "face.jpg is a link to a file outside the stories folder" in out
    assert "linked.md" in out and "linked-bundle" in out
    assert "YAML aliases" in out and "bomb.md" in out
    pipes = [line for line in out.splitlines() if "is not a plain file" in line]
    assert len(pipes) == 2, out
    assert any("pipe.md" in line for line in pipes) and any("piped" in line for line in pipes)


def test_a_pipe_appearing_while_serving_holds_nothing_up(tmp_path: Path) -> None:
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "ana.md").write_text(story_text(name="Ana Lee"))
    server = Server(stories, tmp_path / "instance")
    try:
        os.mkfifo(stories / "late.md")
        (stories / "after.md").write_text(story_text(name="After Pipe", role="Seen"))
        deadline = time.monotonic() + 10  # the watcher must get past the pipe to see this
        while "after" not in server.slugs():
            assert time.monotonic() < deadline, "the watcher is stuck on the pipe"
            time.sleep(0.05)
        assert set(server.slugs()) == {"ana", "after"}
        assert status(server, "/stories/late") == 404
    finally:
        server.stop()


def worker_memory(server: Server) -> int:
    """The largest resident size of the server's processes, in KB."""
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    pids += [int(p) for p in children.read_text().split()]
    sizes = []
    for pid in pids:
        status_file = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status_file).group(1)))
    return max(sizes)


def test_the_admin_page_of_a_bomb_story_costs_nothing(served) -> None:
    server, _ = served
    Database(server.instance / "storywall.db").add_user(
        "alex", generate_password_hash("correct horse", method="pbkdf2:sha256:1000")
    )
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = browser.open(server.url + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode(
        {"csrf_token": token, "name": "alex", "password": "correct horse"}
    )
    assert "/admin" in browser.open(server.url + "/login", data=form.encode()).url
    started = time.monotonic()
    for _ in range(5):
        try:
            page = browser.open(server.url + "/admin/stories/bomb")
            code, html = page.status, page.read().decode()
        except urllib.error.HTTPError as exc:
            code, html = exc.code, exc.read().decode()
        assert code == 422  # the page says what is wrong with the file, and shows none of it
        assert "YAML aliases" in html and len(html) < 50_000
    assert time.monotonic() - started < 5
    assert worker_memory(server) < 300_000  # KB: nowhere near the gigabyte it took before
