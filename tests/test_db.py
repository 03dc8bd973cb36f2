"""The operational database: heartbeats, screens, rate limits and its connections."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from wall.db import Database, DatabaseError

pytestmark = pytest.mark.both_engines


@pytest.fixture
def db(db_target):  # type: ignore[no-untyped-def]
    db = Database(db_target)
    yield db
    db.close()


def beat(db: Database, screen: str, now: float = 1000.0, **fields: object) -> bool:
    values: dict = {"story": None, "playlist": None, "uptime": 10.0, "shown": {}, "now": now}
    values.update(fields)
    return db.record_heartbeat(screen, **values)


# -- heartbeats and screens ---------------------------------------------------------------


def test_a_heartbeat_records_the_screen_and_adds_up_its_showings(db: Database) -> None:
    assert beat(db, "lobby", story="maria", playlist="abc", uptime=60, shown={"maria": 2})
    assert beat(db, "lobby", now=1060.0, story="dev", uptime=120, shown={"maria": 1, "dev": 4})
    (row,) = db.screens()
    assert (row["name"], row["story"], row["playlist"]) == ("lobby", "dev", None)
    assert (row["last_seen"], row["started_at"], row["shown"]) == (1060.0, 940.0, 7)
    assert db.display_counts("maria") == (3, 1)


def test_new_screens_from_one_address_are_bounded(db: Database) -> None:
    limit = (2, 3600.0)
    for name in ("one", "two"):
        assert beat(db, name, address="10.0.0.9", new_screens=limit)
    assert not beat(db, "three", address="10.0.0.9", new_screens=limit, shown={"maria": 5})
    assert [r["name"] for r in db.screens()] == ["one", "two"]
    assert db.display_counts("maria") == (0, 0)  # nothing at all was recorded
    # Screens it has added already keep reporting; other addresses are not affected.
    assert beat(db, "one", address="10.0.0.9", new_screens=limit, now=1010.0)
    assert beat(db, "three", address="10.0.0.10", new_screens=limit)
    # Without a bound (a configured screen), any name is added.
    assert beat(db, "lobby", address="10.0.0.9")
    # An hour later the address may add more.
    assert beat(db, "four", address="10.0.0.9", new_screens=limit, now=1000.0 + 3601)


def test_renaming_a_screen_carries_its_counts(db: Database) -> None:
    beat(db, "unnamed 10.0.0.5", shown={"maria": 3, "dev": 1})
    beat(db, "cafe", shown={"maria": 1})
    assert db.rename_screen("unnamed 10.0.0.5", "lobby")
    assert [(r["name"], r["shown"]) for r in db.screens()] == [("cafe", 1), ("lobby", 4)]
    assert db.display_counts("maria") == (4, 2)
    assert not db.rename_screen("nowhere", "anything")


def test_renaming_onto_an_existing_screen_makes_them_one(db: Database) -> None:
    # The TV reported as "unnamed …" until its URL got ?screen=lobby; both are listed.
    beat(db, "unnamed 10.0.0.5", now=1000.0, story="old", shown={"maria": 3})
    beat(db, "lobby", now=2000.0, story="new", shown={"maria": 2, "dev": 1})
    assert db.rename_screen("unnamed 10.0.0.5", "lobby")
    (row,) = db.screens()
    assert (row["name"], row["story"], row["last_seen"], row["shown"]) == ("lobby", "new", 2000, 6)
    assert db.display_counts("maria") == (5, 1)
    # The other way round: the one heard from last wins whatever its name was.
    beat(db, "hall", now=3000.0, story="newest")
    assert db.rename_screen("hall", "lobby")
    (row,) = db.screens()
    assert (row["name"], row["story"], row["shown"]) == ("lobby", "newest", 6)


def test_forgetting_a_screen_keeps_its_counts_unless_asked(db: Database) -> None:
    beat(db, "lobby", shown={"maria": 3})
    beat(db, "fake", shown={"maria": 90000})
    assert db.forget_screen("lobby")
    assert db.forget_screen("fake", counts=True)
    assert db.screens() == []
    assert db.display_counts("maria") == (3, 1)
    assert not db.forget_screen("lobby")


# -- rate limits ----------------------------------------------------------------------------


def test_the_limit_slides_across_a_clock_boundary(db: Database) -> None:
    # Ten at 00:59.9, then more at 01:00.1: with windows on the clock the second
    # ten would start a fresh minute, and twenty would pass in 0.2 seconds.
    assert all(db.hit("login:1.2.3.4", 10, 60, now=59.9) for _ in range(10))
    assert not db.hit("login:1.2.3.4", 10, 60, now=60.1)
    assert not db.hit("login:1.2.3.4", 10, 60, now=119.8)
    assert db.hit("login:1.2.3.4", 10, 60, now=119.95)  # a minute after the first ten
    assert db.hit("login:5.6.7.8", 10, 60, now=60.1)  # every key has its own


def test_refused_attempts_are_not_stored(db: Database) -> None:
    for n in range(100):
        db.hit("submit:1.2.3.4", 3, 3600, now=float(n))
    assert db.query("SELECT COUNT(*) AS n FROM rate_hits")[0]["n"] == 3
    db.hit("submit:5.6.7.8", 3, 60, now=5000.0)  # forgets what has expired
    assert db.query("SELECT key FROM rate_hits")[0]["key"] == "submit:5.6.7.8"


def test_the_limit_holds_across_workers(db_target) -> None:  # type: ignore[no-untyped-def]
    one, two = Database(db_target), Database(db_target)
    answers = [(one, two)[n % 2].hit("k", 3, 60, now=100.0 + n) for n in range(5)]
    one.close(), two.close()
    assert answers == [True, True, True, False, False]


def test_concurrent_attempts_never_pass_the_limit(db: Database) -> None:
    answers: list[bool] = []
    threads = [
        threading.Thread(target=lambda: answers.append(db.hit("k", 5, 60))) for _ in range(30)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(True) == 5


# -- connections ------------------------------------------------------------------------------


def open_files(path: Path) -> int:
    """How many file descriptors this process holds on the database and its WAL."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        count += target.startswith(str(path))
    return count


@pytest.mark.sqlite_only
def test_connections_do_not_grow_with_the_threads_that_used_the_database(db: Database) -> None:
    # A gthread worker's threads (gevent's greenlets) come and go; a connection
    # per thread outlives its thread.
    def use() -> None:
        beat(db, f"screen-{threading.get_ident()}")
        db.screens()

    for _ in range(10):
        batch = [threading.Thread(target=use) for _ in range(20)]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
    assert len(db.screens()) >= 1
    # The pool keeps 8; each has the file and its WAL open, and SQLite may hold
    # on to a few more for its locks.
    assert open_files(db.path) <= 4 * 8
    assert db.open_connections <= db.pool_size
    db.close()
    assert db.open_connections == 0 and open_files(db.path) == 0


@pytest.mark.sqlite_only
def test_a_failed_commit_does_not_leave_a_connection_in_a_transaction(db: Database) -> None:
    # A deferred foreign key fails at COMMIT, as a full disk can: the next call
    # must not find its connection still inside the failed transaction.
    with db.transaction() as conn:
        conn.run("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.run(
            "CREATE TABLE child "
            "(parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    pooled = db.engine.raw_connection()  # the connection the next call gets
    pooled.driver_connection.execute("PRAGMA foreign_keys = ON")  # outside any transaction
    pooled.close()
    with pytest.raises(DatabaseError, match="FOREIGN KEY"), db.transaction() as conn:
        conn.run("INSERT INTO child VALUES (42)")
    assert beat(db, "lobby")
    assert [r["name"] for r in db.screens()] == ["lobby"]
