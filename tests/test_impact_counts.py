"""Display counts with time in them: per story, screen and day, folded into months."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from wall.db import Database


def at(day: dt.date, hour: int = 12, minute: int = 0) -> float:
    """A moment on a local day, as the server's clock gives it."""
    return dt.datetime.combine(day, dt.time(hour, minute)).timestamp()


DAY = dt.date(2026, 3, 10)


def beat(db: Database, screen: str, when: float, shown: dict[str, int], **kw) -> None:  # type: ignore[no-untyped-def]
    db.record_heartbeat(
        screen, story=None, playlist=None, uptime=kw.pop("uptime", 3600.0), shown=shown,
        now=when, **kw,
    )  # fmt: skip


def test_each_heartbeat_adds_to_its_story_screen_and_day(tmp_path) -> None:
    db = Database(tmp_path / "w.db")
    beat(db, "lobby", at(DAY), {"maria": 2})
    beat(db, "lobby", at(DAY, 12, 1), {"maria": 1, "dev": 1})
    beat(db, "cafe", at(DAY + dt.timedelta(days=1)), {"maria": 4})
    rows = [tuple(r.values()) for r in db.proof_of_play("2026-03-01", "2026-03-31")]
    assert rows == [
        ("dev", "lobby", "2026-03-10", 1),
        ("maria", "lobby", "2026-03-10", 3),
        ("maria", "cafe", "2026-03-11", 4),
    ]
    per_story = {r["slug"]: r["shown"] for r in db.displays_per_story("2026-03-01", "2026-03-31")}
    assert per_story == {"maria": 7, "dev": 1}
    assert db.display_counts("maria") == (7, 2)  # the running total goes on as before
    assert db.screens_showing("2026-03-11", "2026-03-11") == 1


def test_screen_time_counts_the_gap_between_heartbeats_up_to_a_bound(tmp_path) -> None:
    db = Database(tmp_path / "w.db")
    start = at(DAY, 9)
    beat(db, "lobby", start, {})  # first heard from: no time yet
    for minute in range(1, 61):  # an hour of heartbeats a minute apart
        beat(db, "lobby", start + 60 * minute, {}, alive_max=120)
    assert db.screen_seconds("2026-03-10", "2026-03-10") == 3600
    beat(db, "lobby", start + 60 * 60 + 5 * 3600, {}, alive_max=120)  # off for five hours
    assert db.screen_seconds("2026-03-10", "2026-03-10") == 3600 + 120
    # A kiosk that restarted 30 seconds ago was not on for the whole gap.
    beat(db, "lobby", start + 6 * 3600 + 100, {}, alive_max=120, uptime=30)
    assert db.screen_seconds("2026-03-10", "2026-03-10") == 3600 + 120 + 30


def test_old_days_fold_into_months_and_add_up_the_same(tmp_path) -> None:
    db = Database(tmp_path / "w.db")
    old = dt.date(2025, 1, 30)
    beat(db, "lobby", at(old), {"maria": 2})
    beat(db, "lobby", at(old + dt.timedelta(days=1)), {"maria": 3}, alive_max=120)
    beat(db, "lobby", at(DAY), {"maria": 5})
    before = db.displays_per_story("2025-01-01", "2026-12-31")[0]["shown"]
    moved = db.fold_display_days(400, now=at(DAY))  # 400 days before: February 2025
    assert moved == 6  # two days: per story and screen, per story, per screen
    assert db.displays_per_story("2025-01-01", "2026-12-31")[0]["shown"] == before == 10
    assert [tuple(r.values()) for r in db.proof_of_play("2025-01-01", "2025-12-31")] == [
        ("maria", "lobby", "2025-01", 5)
    ]
    assert db.screen_seconds("2025-01-01", "2025-01-31") == 120
    assert db.fold_display_days(400, now=at(DAY)) == 0  # nothing more to fold


def test_the_first_heartbeat_of_a_day_folds_what_is_past_retention(tmp_path) -> None:
    db = Database(tmp_path / "w.db")
    beat(db, "lobby", at(dt.date(2024, 12, 1)), {"maria": 2}, keep_days=400)
    beat(db, "lobby", at(DAY), {"maria": 1}, keep_days=400)
    assert [r["day"] for r in db.proof_of_play("2024-01-01", "2026-12-31")] == [
        "2024-12",
        "2026-03-10",
    ]


def test_running_totals_from_before_are_dated_the_day_of_the_upgrade(tmp_path) -> None:
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path)  # a database as the release before left it
    conn.executescript(
        "CREATE TABLE displays (slug TEXT NOT NULL, screen TEXT NOT NULL, "
        "shown INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (slug, screen));"
        "INSERT INTO displays VALUES ('maria', 'lobby', 40), ('dev', 'cafe', 0);"
    )
    conn.close()
    db = Database(path, upgrade=True)
    today = dt.date.today().isoformat()
    assert [tuple(r.values()) for r in db.proof_of_play(today, today)] == [
        ("maria", "lobby", today, 40)
    ]
    db.close()
    assert len(Database(path, upgrade=True).proof_of_play(today, today)) == 1  # once only


def test_renaming_a_screen_takes_its_days_along(tmp_path) -> None:
    db = Database(tmp_path / "w.db")
    beat(db, "old", at(DAY), {"maria": 2})
    beat(db, "new", at(DAY), {"maria": 3})
    assert db.rename_screen("old", "new")
    assert [tuple(r.values()) for r in db.proof_of_play("2026-03-01", "2026-03-31")] == [
        ("maria", "new", "2026-03-10", 5)
    ]
    assert db.forget_screen("new", counts=True)
    assert db.proof_of_play("2026-03-01", "2026-03-31") == []


def test_periods_and_the_period_before_them() -> None:
    from wall.impact import Period, PeriodError

    day = dt.date(2026, 11, 30)
    quarter = Period.of("quarter", day)
    assert (quarter.first, quarter.last, quarter.label) == (
        dt.date(2026, 10, 1), dt.date(2026, 12, 31), "Q4 2026")  # fmt: skip
    assert quarter.previous() == Period("quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    # So far this quarter (61 days) against the same 61 days of the last.
    so_far = quarter.to_date(day)
    assert (so_far.first, so_far.last, so_far.label) == (
        dt.date(2026, 7, 1), dt.date(2026, 8, 30), "Q3 2026 to 30 Aug")  # fmt: skip
    month = Period.of("month", dt.date(2026, 1, 15)).previous()
    assert (month.first, month.last, month.label) == (
        dt.date(2025, 12, 1), dt.date(2025, 12, 31), "December 2025")  # fmt: skip
    assert Period.of("year", day).previous().label == "2025"
    custom = Period.of("custom", day, dt.date(2026, 3, 1), dt.date(2026, 3, 10)).previous()
    assert (custom.first, custom.last) == (dt.date(2026, 2, 19), dt.date(2026, 2, 28))
    for bad in (("custom", None, None), ("custom", DAY, DAY - dt.timedelta(days=1)),
                ("week", None, None)):  # fmt: skip
        with pytest.raises(PeriodError):
            Period.of(bad[0], day, bad[1], bad[2])
