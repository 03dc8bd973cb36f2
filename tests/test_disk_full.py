"""A full disk: a plain answer that says so, and nothing half-written.

The stories folder or the instance folder is a real small filesystem (a
tmpfs), filled to the last byte with one filler file.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from tests.conftest import MODERATOR, csrf_token, story_text
from tests.support import Server, files_under, fill_disk, small_filesystem
from tests.test_submit import fields, jpeg, post, value_of
from wall import create_app

SAID = "The server's disk is full; nothing was saved. Tell the wall's operator."


@pytest.fixture
def small_stories(stories: Path) -> Iterator[Path]:
    with small_filesystem(stories):
        yield stories


@pytest.fixture
def small_instance(instance: Path) -> Iterator[Path]:
    with small_filesystem(instance):
        yield instance


def make_app(stories: Path, instance: Path):  # type: ignore[no-untyped-def]
    config = {"STORIES_DIR": str(stories), "INSTANCE_PATH": str(instance), "WATCH": "off"}
    return create_app({**config, "TESTING": True})


def assert_plain_page(response, status: int = 507) -> str:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:500]
    assert SAID in html.replace("&#39;", "'")
    assert "Traceback" not in html
    return html


# -- the stories folder ------------------------------------------------------------------------


def test_a_submission_to_a_full_stories_folder_keeps_the_form_and_writes_nothing(
    small_stories: Path, instance: Path
) -> None:
    app = make_app(small_stories, instance)
    client = app.test_client()
    fill_disk(small_stories)
    before = files_under(small_stories)
    response = post(
        client, name="Dev Patel", photo=(io.BytesIO(jpeg()), "dev.jpg"), photo_alt="Dev"
    )
    html = assert_plain_page(response)
    assert value_of(html, "name") == "Dev Patel"  # nothing typed is lost
    assert files_under(small_stories) == before  # no temp files, no half bundle, no staging
    assert app.extensions["storywall"].index.stories() == []
    # Room again: the same form goes through.
    (small_stories / "_filler").unlink()
    token = re.search(r'name="photo_token" value="([0-9a-f]+)"', html).group(1)
    sent = post(client, name="Dev Patel", photo_token=token, photo_alt="Dev")
    assert sent.status_code == 303
    assert {p.name for p in small_stories.iterdir()} == {"dev-patel"}


# -- the instance folder -------------------------------------------------------------------------


@pytest.fixture
def full_instance(stories: Path, small_instance: Path, write_story):  # type: ignore[no-untyped-def]
    """An app whose instance folder (SQLite, secret key, uploads) is full."""
    write_story("maria")
    app = make_app(stories, small_instance)
    app.extensions["storywall"].db.add_user("alex", "pbkdf2:sha256:1000$salt$" + "0" * 64)
    token = csrf_token(client := app.test_client(), "/login")
    filler = fill_disk(small_instance, "filler")
    return app, client, token, filler


def test_sign_in_with_a_full_instance_folder_says_so(full_instance) -> None:
    _, client, token, _ = full_instance
    response = client.post("/login", data={"csrf_token": token, "name": "alex", "password": "x"})
    assert_plain_page(response)


def test_a_submission_with_a_full_instance_folder_says_so(full_instance, stories: Path) -> None:
    _, client, _, _ = full_instance
    before = files_under(stories)
    html = assert_plain_page(post(client, name="Dev Patel"))
    assert value_of(html, "name") == "Dev Patel"
    assert files_under(stories) == before


def test_a_heartbeat_with_a_full_instance_folder_answers_json(full_instance) -> None:
    app, client, _, filler = full_instance
    response = client.post("/api/heartbeat", json={"screen": "lobby", "shown": {"maria": 3}})
    assert response.status_code == 507
    assert response.get_json() == {"error": "disk full", "message": SAID}
    # Room again: the database works, no connection stuck in a failed transaction.
    filler.unlink()
    for _ in range(3):
        response = client.post("/api/heartbeat", json={"screen": "lobby", "shown": {"maria": 3}})
        assert response.status_code == 200
    assert app.extensions["storywall"].db.display_counts("maria") == (9, 1)


def test_other_os_errors_are_still_faults(app, client, monkeypatch) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(app.extensions["storywall"].db, "record_heartbeat", broken)
    with pytest.raises(PermissionError):
        client.post("/api/heartbeat", json={"screen": "lobby"})


def test_approving_with_a_full_instance_folder_leaves_the_story_file_unchanged(
    stories: Path, small_instance: Path, write_story
) -> None:
    path = write_story("maria", status="pending")
    app = make_app(stories, small_instance)
    name, password = MODERATOR
    app.extensions["storywall"].db.add_user(
        name, generate_password_hash(password, method="pbkdf2:sha256:1000")
    )
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "name": name, "password": password})
    page = client.get("/admin/stories/maria").get_data(as_text=True)
    form_token = re.search(r'name="token" value="([^"]*)"', page).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    before = path.read_bytes()
    fill_disk(small_instance, "filler")
    response = client.post(
        "/admin/stories/maria/approve", data={"csrf_token": csrf, "token": form_token}
    )
    assert response.status_code == 507
    assert path.read_bytes() == before
    assert SAID.split(";")[0] in response.get_data(as_text=True).replace("&#39;", "'")


# -- through a real server --------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_server_answers_a_full_disk_plainly(tmp_path: Path) -> None:
    stories, instance = tmp_path / "stories", tmp_path / "instance"
    with small_filesystem(stories), small_filesystem(instance):
        (stories / "maria").mkdir()
        (stories / "maria" / "index.md").write_text(story_text())
        server = Server(stories, instance)
        try:
            fill_disk(instance, "filler")
            beat = urllib.request.Request(
                server.url + "/api/heartbeat",
                data=json.dumps({"screen": "lobby", "shown": {"maria": 1}}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(beat, timeout=10)
            assert refused.value.code == 507
            assert json.loads(refused.value.read())["message"] == SAID
            (instance / "filler").unlink()

            # A story sent while the stories folder is full: said, and nothing left behind.
            fill_disk(stories)
            before = files_under(stories)
            browser = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
            )
            form = browser.open(server.url + "/submit", timeout=10).read().decode()
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            data = {**fields(), "consent_scope": "hallway", "csrf_token": token}
            with pytest.raises(urllib.error.HTTPError) as refused:
                browser.open(
                    server.url + "/submit", urllib.parse.urlencode(data).encode(), timeout=10
                )
            assert refused.value.code == 507
            html = refused.value.read().decode()
            assert SAID in html.replace("&#39;", "'") and "Maria Alvarez" in html
            assert files_under(stories) == before
            assert server.get("/healthz")[0] == 200
        finally:
            server.stop()
        log = server.log.read_text()
        assert "disk full" in log and "Traceback" not in log
