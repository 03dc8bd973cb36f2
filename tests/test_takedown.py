"""Takedown reports: what each playlist held, what each screen holds, and who has acknowledged."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
import time
from pathlib import Path

import pytest
from flask import render_template

from tests.conftest import TODAY
from tests.support import upgrade_at_once
from wall.db import PLAYLIST_MEMORY_SECONDS, Database, NeedsUpgrade
from wall.takedown import HEARD_WITHIN_SECONDS, in_words, playlist_etag, takedown_report

DAY = 86400.0


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "storywall.db")


def beat(db: Database, screen: str, playlist: str | None, now: float) -> None:
    assert db.record_heartbeat(
        screen, story=None, playlist=playlist, uptime=10.0, shown={}, now=now
    )


# -- what a playlist held -------------------------------------------------------------------


def test_a_playlist_is_remembered_by_its_etag(db: Database) -> None:
    assert db.playlist_slugs("abc") is None
    db.remember_playlist("abc", ["maria", "dev", "maria"], now=1000.0)
    db.remember_playlist("def", [], now=1000.0)
    assert db.playlist_slugs("abc") == {"maria", "dev"}
    assert db.playlist_slugs("def") == frozenset()  # known, and empty: not None


def test_old_playlists_are_forgotten_unless_a_screen_holds_one(db: Database) -> None:
    start = 1_000_000.0
    db.remember_playlist("old", ["maria"], now=start)
    db.remember_playlist("held", ["maria"], now=start)
    db.remember_playlist("rebuilt", ["dev"], now=start)
    beat(db, "lobby", "held", now=start + 1)
    later = start + PLAYLIST_MEMORY_SECONDS - 10
    db.remember_playlist("rebuilt", ["dev"], now=later)  # built again: remembered anew
    db.remember_playlist("new", ["dev"], now=start + PLAYLIST_MEMORY_SECONDS + 1)
    assert db.playlist_slugs("old") is None
    assert db.playlist_slugs("held") == {"maria"}
    assert db.playlist_slugs("rebuilt") == {"dev"}
    assert db.playlist_slugs("new") == {"dev"}


# -- what a screen holds, and since when -----------------------------------------------------


def test_playlist_since_moves_only_when_the_playlist_does(db: Database) -> None:
    def since(name: str = "lobby") -> float | None:
        rows = {row["name"]: row for row in db.screens_heard_since(0)}
        return rows[name]["playlist_since"]

    beat(db, "lobby", None, now=100.0)
    assert since() == 100.0
    beat(db, "lobby", None, now=110.0)
    assert since() == 100.0  # still none: NULL is the same as NULL here
    beat(db, "lobby", "abc", now=120.0)
    assert since() == 120.0
    beat(db, "lobby", "abc", now=180.0)
    assert since() == 120.0
    beat(db, "lobby", "def", now=240.0)
    assert since() == 240.0
    beat(db, "cafe", "def", now=250.0)
    assert since("cafe") == 250.0 and since() == 240.0


def test_an_older_database_gets_the_new_column_and_keeps_its_screens(tmp_path: Path) -> None:
    path = tmp_path / "storywall.db"
    with sqlite3.connect(path) as conn:  # the screens table as the last release made it
        conn.execute(
            """CREATE TABLE screens (name TEXT PRIMARY KEY, story TEXT, playlist TEXT,
               uptime REAL, started_at REAL, last_seen REAL NOT NULL, address TEXT,
               user_agent TEXT)"""
        )
        conn.execute(
            "INSERT INTO screens (name, playlist, last_seen) VALUES ('lobby', 'abc', 50.0)"
        )
    conn.close()
    with pytest.raises(NeedsUpgrade, match="storywall db upgrade"):
        Database(path)  # a server refuses it until the operator upgrades
    db = Database(path, upgrade=True)
    [row] = db.screens_heard_since(0)
    assert row["name"] == "lobby" and row["playlist"] == "abc" and row["playlist_since"] is None
    beat(db, "lobby", "abc", now=100.0)
    assert db.screens_heard_since(0)[0]["playlist_since"] == 100.0
    db.close()
    Database(path).close()  # opened again: up to date, nothing fails


def test_servers_upgrading_at_once_add_the_column_once(tmp_path: Path) -> None:
    path = tmp_path / "storywall.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE screens (name TEXT PRIMARY KEY, last_seen REAL NOT NULL)")
    conn.close()
    assert upgrade_at_once(path, 6) == []
    columns = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(screens)")]
    assert columns.count("playlist_since") == 1


# -- a kiosk's ETag, as it reports it --------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "etag"),
    [
        ('"0a1b2c-gz"', "0a1b2c"),
        ('W/"0a1b2c-gz"', "0a1b2c"),
        ('"0a1b2c"', "0a1b2c"),
        ("0a1b2c", "0a1b2c"),
        (' W/"0a1b2c" ', "0a1b2c"),
        ("", None),
        (None, None),
        ('""', None),
    ],
)
def test_a_reported_etag_is_the_playlists_own(sent: str | None, etag: str | None) -> None:
    assert playlist_etag(sent) == etag


# -- takedown_report ---------------------------------------------------------------------------

NOW = 10 * DAY
SINCE = NOW - 600.0  # withdrawn ten minutes ago
STALE = 180.0


@pytest.fixture
def fleet(db: Database) -> Database:
    """Screens in every state a takedown can find them in; the story is `maria`."""
    db.remember_playlist("with", ["maria", "dev"], now=SINCE - 3600)
    db.remember_playlist("without", ["dev"], now=SINCE + 1)
    db.remember_playlist("never", ["ana"], now=SINCE - 3600)
    beat(db, "a-lobby", '"with-gz"', SINCE - 300)
    beat(db, "a-lobby", '"without-gz"', SINCE + 2)  # dropped it 2 s after
    beat(db, "a-lobby", '"without-gz"', NOW - 30)
    beat(db, "b-cafe", "with", SINCE - 300)
    beat(db, "b-cafe", "with", NOW - 20)  # heard since, still has it
    beat(db, "c-dock", "with", SINCE - 100)  # offline since before the withdrawal
    beat(db, "d-hall", "never", SINCE - 3000)
    beat(db, "d-hall", "never", NOW - 5)  # tagged for other stories: never had it
    beat(db, "e-gone", "forgotten", NOW - 10)  # a playlist the server does not know
    beat(db, "f-mute", None, NOW - 10)  # has not loaded a playlist yet
    beat(db, "g-old", "with", NOW - HEARD_WITHIN_SECONDS - 1)  # unplugged last week
    return db


def test_the_report_says_which_screens_acknowledged_and_why_others_have_not(fleet) -> None:
    report = takedown_report(fleet, "maria", SINCE, NOW, STALE)
    screens = {s.name: s for s in report.screens}
    assert list(screens) == ["a-lobby", "b-cafe", "c-dock", "d-hall", "e-gone", "f-mute"]

    lobby = screens["a-lobby"]
    assert lobby.acknowledged and lobby.acknowledged_at == SINCE + 2
    assert lobby.acknowledged_after == 2 and lobby.acknowledged_words == "2 s after the withdrawal"
    assert lobby.playlist == "without" and lobby.waiting_for == "" and not lobby.silent
    hall = screens["d-hall"]
    assert hall.acknowledged and hall.acknowledged_at == SINCE - 3000
    assert hall.acknowledged_words == "had no copy of it at the withdrawal"

    waiting = {s.name: s.waiting_for for s in report.waiting}
    assert waiting == {
        "b-cafe": "still holds a playlist with the story",
        "c-dock": "not heard from since the withdrawal",
        "e-gone": "holds a playlist the server no longer knows",
        "f-mute": "has not said which playlist it holds",
    }
    assert all(s.acknowledged_at is None for s in report.waiting)
    assert screens["c-dock"].silent and screens["c-dock"].last_heard_words == "12 min ago"
    assert not report.complete
    assert report.summary == "2 of 6 screens acknowledged; not yet: b-cafe, c-dock, e-gone, f-mute"

    data = report.as_json()
    assert data["complete"] is False and data["summary"] == report.summary
    assert [s["name"] for s in data["screens"]] == list(screens)
    assert data["screens"][0]["acknowledged_at"] == SINCE + 2


def test_a_screen_that_shows_the_story_again_is_not_acknowledged(db: Database) -> None:
    # A kiosk reloaded from an old offline copy would report the old playlist.
    db.remember_playlist("with", ["maria"], now=SINCE - 60)
    db.remember_playlist("without", [], now=SINCE + 1)
    beat(db, "lobby", "without", SINCE + 2)
    beat(db, "lobby", "with", SINCE + 60)
    [screen] = takedown_report(db, "maria", SINCE, NOW, STALE).screens
    assert not screen.acknowledged and screen.waiting_for == "still holds a playlist with the story"


@pytest.mark.parametrize(
    ("acknowledging", "summary"),
    [
        (["lobby", "cafe", "dock"], "all 3 screens acknowledged"),
        (["lobby", "cafe"], "2 of 3 screens acknowledged; not yet: dock"),
        ([], "0 of 3 screens acknowledged; not yet: cafe, dock, lobby"),
    ],
)
def test_the_summary_counts_screens(db: Database, acknowledging, summary) -> None:
    db.remember_playlist("with", ["maria"], now=SINCE - 60)
    db.remember_playlist("without", [], now=SINCE + 1)
    for name in ["lobby", "cafe", "dock"]:
        beat(db, name, "without" if name in acknowledging else "with", SINCE + 5)
    report = takedown_report(db, "maria", SINCE, NOW, STALE)
    assert report.summary == summary
    assert report.complete == (len(acknowledging) == 3)


def test_one_screen_or_none(db: Database) -> None:
    report = takedown_report(db, "maria", SINCE, NOW, STALE)
    assert report.screens == () and report.complete
    assert report.summary == "no screen has been heard from in the last 7 days"
    db.remember_playlist("without", [], now=SINCE + 1)
    beat(db, "lobby", "without", SINCE + 5)
    assert takedown_report(db, "maria", SINCE, NOW, STALE).summary == "the one screen acknowledged"


def test_spans_in_words() -> None:
    assert [in_words(s) for s in (-3, 0.4, 89, 90, 5399, 5400, 172799, 172800)] == [
        "0 s",
        "0 s",
        "89 s",
        "2 min",
        "90 min",
        "2 h",
        "48 h",
        "2 days",
    ]


# -- the partial ------------------------------------------------------------------------------


def test_the_partial_lists_every_screen_and_shows_names_as_text(app, fleet) -> None:
    beat(fleet, "<b>x</b>", "with", NOW - 1)
    report = takedown_report(fleet, "maria", SINCE, NOW, STALE)
    with app.test_request_context():
        html = render_template("admin/_takedown.html", takedown=report)
    assert "2 of 7 screens acknowledged; not yet:" in html
    assert html.count('<tr class="is-on">') == 2 and html.count('<tr class="is-off">') == 5
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "2 s after the withdrawal" in html and "not heard from since the withdrawal" in html
    assert "<script" not in html


def test_the_partial_for_no_screens(app, db) -> None:
    report = takedown_report(db, "maria", SINCE, NOW, STALE)
    with app.test_request_context():
        html = render_template("admin/_takedown.html", takedown=report)
    assert "No screen has been heard from in the last 7 days" in html and "<table" not in html


# -- through the app: the playlist a kiosk is sent, and the heartbeat it sends back -------------


def withdrawn_consent() -> dict:
    return {
        "given_by": "Maria Alvarez",
        "date": (TODAY - dt.timedelta(days=40)).isoformat(),
        "scope": ["hallway", "intranet"],
        "withdrawn": TODAY.isoformat(),
    }


def test_a_withdrawal_is_acknowledged_by_the_screens_that_fetched_the_new_playlist(
    app, client, write_story, index
) -> None:
    write_story("maria")
    write_story("dev", name="Dev Patel")
    index.rescan()
    db = app.extensions["storywall"].db

    def fetch() -> str:
        response = client.get("/api/stories", headers={"Accept-Encoding": "gzip"})
        assert response.headers["ETag"].endswith('-gz"')
        stories = json.loads(gzip.decompress(response.data))["stories"]
        slugs = {s["slug"] for s in stories}
        assert db.playlist_slugs(playlist_etag(response.headers["ETag"])) == slugs
        return response.headers["ETag"]

    def heartbeat(screen: str, etag: str) -> None:
        body = {"screen": screen, "story": None, "playlist": etag, "uptime": 5, "shown": {}}
        assert client.post("/api/heartbeat", json=body).status_code == 200

    before = fetch()
    for screen in ("lobby", "cafe"):
        heartbeat(screen, before)
    since = time.time()
    write_story("maria", consent=withdrawn_consent())
    index.rescan()
    after = fetch()
    assert after != before
    heartbeat("lobby", after)
    heartbeat("cafe", before)  # has not fetched the new playlist yet

    report = takedown_report(db, "maria", since, time.time(), STALE)
    state = {s.name: s.acknowledged for s in report.screens}
    assert state == {"lobby": True, "cafe": False}
    rows = {row["name"]: row for row in db.screens_heard_since(0)}
    assert rows["lobby"]["playlist"] == playlist_etag(after)  # stored without quotes or -gz
    heartbeat("cafe", f"W/{after}")
    assert takedown_report(db, "maria", since, time.time(), STALE).summary == (
        "all 2 screens acknowledged"
    )
