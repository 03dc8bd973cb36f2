"""Kiosk heartbeats: which screens are alive, and how often each story was shown."""

from __future__ import annotations

import re
import time

import pytest

from wall import create_app


@pytest.fixture
def two_workers(stories, instance, write_story):
    """Two apps on one instance folder, as two gunicorn workers are."""
    write_story("maria")
    write_story("dev", name="Dev Patel")
    config = {"STORIES_DIR": str(stories), "INSTANCE_PATH": str(instance), "WATCH": "off"}
    return create_app(config), create_app(config)


def beat(client, **fields):  # type: ignore[no-untyped-def]
    body = {"screen": "lobby", "story": "maria", "playlist": "abc", "uptime": 61.5, "shown": {}}
    body.update(fields)
    return client.post("/api/heartbeat", json=body)


def test_heartbeats_from_any_worker_land_in_one_place(two_workers) -> None:
    one, two = (app.test_client() for app in two_workers)
    before = time.time()
    assert beat(one, shown={"maria": 3}).status_code == 200
    answer = beat(two, screen="cafe", story="dev", shown={"maria": 2, "dev": 5}).get_json()
    assert answer["ok"] and answer["every"] == 60
    assert before <= answer["now"] <= time.time()  # grouped screens keep time by it
    beat(two, shown={"maria": 1})  # lobby again, through the other worker

    for app in two_workers:
        db = app.extensions["storywall"].db
        screens = {row["name"]: row for row in db.screens()}
        assert set(screens) == {"lobby", "cafe"}
        assert screens["cafe"]["story"] == "dev" and screens["lobby"]["playlist"] == "abc"
        assert screens["lobby"]["uptime"] == 61.5 and screens["lobby"]["last_seen"] >= before
        assert db.display_counts("maria") == (6, 2)
        assert db.display_counts("dev") == (5, 1)
        assert db.display_counts("nobody") == (0, 0)


def test_a_kiosk_needs_no_session_or_csrf_token(app, write_story) -> None:
    # CSRF protection is on for forms; kiosks have no session, and post JSON.
    assert app.config.get("WTF_CSRF_ENABLED", True)
    response = app.test_client().post("/api/heartbeat", json={"screen": "lobby"})
    assert response.status_code == 200


def test_a_screen_without_a_name_is_known_by_its_address(client) -> None:
    assert beat(client, screen="").status_code == 200
    names = [row["name"] for row in client.application.extensions["storywall"].db.screens()]
    assert names == ["unnamed 127.0.0.1"]


@pytest.mark.parametrize(
    "junk",
    [
        b"not json",
        b"[1, 2, 3]",
        b'"lobby"',
        b"",
    ],
)
def test_junk_is_refused(client, junk: bytes) -> None:
    response = client.post("/api/heartbeat", data=junk, content_type="application/json")
    assert response.status_code == 400 and "error" in response.get_json()
    assert client.application.extensions["storywall"].db.screens() == []


def test_a_form_post_is_refused(client) -> None:
    response = client.post("/api/heartbeat", data={"screen": "lobby"})
    assert response.status_code == 400


def test_bad_screen_names_are_refused(client) -> None:
    response = beat(client, screen="<script>alert(1)</script>")
    assert response.status_code == 400 and "screen names" in response.get_json()["error"]


def test_junk_fields_are_cleaned_not_fatal(client, write_story, index) -> None:
    write_story("maria")
    index.rescan()
    response = beat(
        client,
        story="x" * 5000,
        playlist={"a": 1},
        uptime="forever",
        shown={"maria": 2, "ghost": 4, "dev": -1, "x": "many", "y": 10**9, "z": True},
    )
    assert response.status_code == 200
    db = client.application.extensions["storywall"].db
    row = db.screens()[0]
    assert len(row["story"]) == 200 and row["uptime"] == 0.0
    # Only real stories, counted sensibly, are kept.
    assert db.display_counts("maria") == (2, 1)
    assert db.display_counts("ghost") == (0, 0)


def test_shown_is_a_json_object_or_nothing(client, write_story, index) -> None:
    write_story("maria")
    index.rescan()
    assert beat(client, shown=["maria"]).status_code == 200
    assert beat(client, shown=None).status_code == 200
    assert client.application.extensions["storywall"].db.display_counts("maria") == (0, 0)


def test_the_story_page_says_how_often_it_was_shown(client, write_story, index) -> None:
    write_story("maria")
    index.rescan()
    html = client.get("/stories/maria").get_data(as_text=True)
    assert "Shown" not in html  # never shown yet: no line at all
    for screen, count in [("lobby", 1000), ("cafe", 200), ("door", 40)]:
        beat(client, screen=screen, shown={"maria": count})
    html = client.get("/stories/maria").get_data(as_text=True)
    assert "Shown 1,240 times on 3 hallway screens" in html


def test_a_silent_screen_is_flagged(admin_client) -> None:
    db = admin_client.application.extensions["storywall"].db
    db.record_heartbeat(
        "old-tv", story=None, playlist=None, uptime=5, shown={}, now=time.time() - 181
    )
    beat(admin_client, screen="new-tv")
    html = admin_client.get("/admin/screens").get_data(as_text=True)
    rows = re.findall(r'<tr class="([^"]*)">\s*<td><strong>([^<]+)</strong>', html)
    assert ("is-off", "old-tv") in rows and ("is-on", "new-tv") in rows
