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


def beat(client, environ_base=None, **fields):  # type: ignore[no-untyped-def]
    body = {"screen": "lobby", "story": "maria", "playlist": "abc", "uptime": 61.5, "shown": {}}
    body.update(fields)
    return client.post("/api/heartbeat", json=body, environ_base=environ_base or {})


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


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"screen": 42}, "screen"),
        ({"screen": "x" * 65}, "screen names"),
        ({"screen": "lobby\n"}, None),  # stripped, as a name typed in a URL is
        ({"story": "x" * 5000}, "story"),
        ({"story": "<b>maria</b>"}, "story"),
        ({"story": ["maria"]}, "story"),
        ({"playlist": {"a": 1}}, "playlist"),
        ({"uptime": "forever"}, "uptime"),
        ({"uptime": True}, "uptime"),
        ({"shown": ["maria"]}, "shown"),
        ({"shown": {"maria": -1}}, "shown"),
        ({"shown": {"maria": "many"}}, "shown"),
        ({"shown": {"maria": True}}, "shown"),
        ({"shown": {"maria": 2.5}}, "shown"),
        ({"shown": {"maria": 10**9}}, "shown"),
        ({"shown": {"<script>": 1}}, "shown"),
        ({"shown": {f"s{n}": 1 for n in range(2001)}}, "at most 2000"),
    ],
)
def test_junk_fields_are_refused_and_nothing_is_recorded(client, index, fields, complaint) -> None:
    response = beat(client, **fields)
    db = client.application.extensions["storywall"].db
    if complaint is None:
        assert response.status_code == 200 and [r["name"] for r in db.screens()] == ["lobby"]
        return
    assert response.status_code == 400
    assert complaint in response.get_json()["error"]
    assert db.screens() == []


def test_counts_for_stories_not_here_are_left_out(client, write_story, index) -> None:
    # A kiosk may report a story deleted since it last fetched its playlist.
    write_story("maria")
    index.rescan()
    response = beat(client, story="ghost", shown={"maria": 2, "ghost": 4, "dev": 0})
    assert response.status_code == 200
    db = client.application.extensions["storywall"].db
    assert db.screens()[0]["story"] == "ghost"  # the Screens page says what is on it
    assert db.display_counts("maria") == (2, 1)
    assert db.display_counts("ghost") == (0, 0)


def test_a_kiosk_clock_stepping_back_is_not_junk(client) -> None:
    assert beat(client, uptime=-3.5).status_code == 200
    assert client.application.extensions["storywall"].db.screens()[0]["uptime"] == 0.0


def test_nothing_is_a_json_object_or_nothing(client) -> None:
    assert beat(client, shown=None, story=None, playlist=None).status_code == 200
    assert client.post("/api/heartbeat", json={}).status_code == 200


def test_a_large_or_deep_body_is_refused(client) -> None:
    huge = b'{"screen": "lobby", "pad": "' + b"x" * 70_000 + b'"}'
    response = client.post("/api/heartbeat", data=huge, content_type="application/json")
    assert response.status_code == 413 and "error" in response.get_json()
    deep = b'{"screen": "lobby", "pad": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post("/api/heartbeat", data=deep, content_type="application/json")
    assert response.status_code == 400 and "error" in response.get_json()
    assert client.application.extensions["storywall"].db.screens() == []


def test_one_address_may_add_only_so_many_screens(app, client) -> None:
    app.config["SCREENS"] = {"lobby": {}, "cafe": {}}
    for n in range(20):
        assert beat(client, screen=f"fake-{n}").status_code == 200
    refused = beat(client, screen="fake-20")
    assert refused.status_code == 429 and "SCREENS" in refused.get_json()["error"]
    assert beat(client, screen="fake-3").status_code == 200  # screens it added keep reporting
    assert beat(client, screen="lobby").status_code == 200  # configured: always welcome
    elsewhere = {"REMOTE_ADDR": "10.1.2.3"}
    assert beat(client, screen="fake-20", environ_base=elsewhere).status_code == 200
    names = {r["name"] for r in app.extensions["storywall"].db.screens()}
    assert len(names) == 22 and "lobby" in names and "fake-20" in names


def test_the_bound_counts_kiosks_behind_a_trusted_proxy_apart(app, client) -> None:
    for n in range(20):
        one = {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}
        assert beat(client, screen=f"tv-{n}", environ_base=one).status_code == 200
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.2"}
    response = beat(client, screen="tv-20", environ_base=other)
    assert response.status_code == 200
    rows = {r["name"]: r for r in app.extensions["storywall"].db.screens()}
    assert rows["tv-20"]["address"] == "198.51.100.2"


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


# -- moderators rename and forget screens ---------------------------------------------------


def screens_page(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    html = client.get("/admin/screens").get_data(as_text=True)
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_moderator_renames_a_screen_and_its_counts_go_with_it(admin_client, write_story):
    write_story("maria")
    admin_client.application.extensions["storywall"].index.rescan()
    beat(admin_client, screen="", shown={"maria": 7})
    beat(admin_client, screen="lobby", shown={"maria": 2})
    html, token = screens_page(admin_client)
    assert 'value="unnamed 127.0.0.1"' in html and "Rename" in html and "Forget" in html
    response = admin_client.post(
        "/admin/screens/rename",
        data={"csrf_token": token, "name": "unnamed 127.0.0.1", "new_name": " lobby "},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "unnamed 127.0.0.1 is now called lobby" in html and "/kiosk?screen=lobby" in html
    db = admin_client.application.extensions["storywall"].db
    assert [(r["name"], r["shown"]) for r in db.screens()] == [("lobby", 9)]
    assert db.display_counts("maria") == (9, 1)
    (entry,) = [r for r in db.audit_log() if r["action"] == "renamed a screen"]
    assert entry["actor"] == "alex" and entry["detail"] == "from unnamed 127.0.0.1 to lobby"


def test_a_bad_new_name_or_a_gone_screen_is_said_and_nothing_changes(admin_client) -> None:
    beat(admin_client, screen="lobby")
    _, token = screens_page(admin_client)
    for form, said in [
        ({"name": "lobby", "new_name": "<b>hall</b>"}, "is not a screen name"),
        ({"name": "lobby", "new_name": ""}, "is not a screen name"),
        ({"name": "cafe", "new_name": "hall"}, "no screen called cafe"),
    ]:
        response = admin_client.post(
            "/admin/screens/rename", data={"csrf_token": token, **form}, follow_redirects=True
        )
        assert said in response.get_data(as_text=True)
    db = admin_client.application.extensions["storywall"].db
    assert [r["name"] for r in db.screens()] == ["lobby"]


def test_a_moderator_forgets_a_fake_screen(admin_client, write_story) -> None:
    write_story("maria")
    admin_client.application.extensions["storywall"].index.rescan()
    beat(admin_client, screen="lobby", shown={"maria": 3})
    beat(admin_client, screen="fake", shown={"maria": 99999})
    beat(admin_client, screen="old-tv", shown={"maria": 5})
    _, token = screens_page(admin_client)
    admin_client.post(
        "/admin/screens/forget", data={"csrf_token": token, "name": "fake", "counts": "1"}
    )
    response = admin_client.post(
        "/admin/screens/forget", data={"csrf_token": token, "name": "old-tv"}, follow_redirects=True
    )
    assert "Forgot old-tv" in response.get_data(as_text=True)
    db = admin_client.application.extensions["storywall"].db
    assert [r["name"] for r in db.screens()] == ["lobby"]
    assert db.display_counts("maria") == (8, 2)  # old-tv's showings stay in the story's history
    details = [r["detail"] for r in db.audit_log() if r["action"] == "forgot a screen"]
    assert details == ["old-tv", "fake, and what it has shown"]


def test_renaming_and_forgetting_need_a_moderator_and_a_form_token(app, client, admin_client):
    beat(client, screen="lobby")
    for path in ["/admin/screens/rename", "/admin/screens/forget"]:
        form = {"name": "lobby", "new_name": "hall"}
        assert client.post(path, data=form).status_code in (303, 400)
        assert admin_client.post(path, data=form).status_code == 400  # no CSRF token
    assert [r["name"] for r in app.extensions["storywall"].db.screens()] == ["lobby"]
