"""Operational data in SQLite, in the instance folder: screens, display counts,
the moderation audit log, moderator accounts and rate limits.

SQLite works across gunicorn's worker processes without a server. Each thread
gets its own connection; WAL mode lets readers and one writer work at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS screens (
    name       TEXT PRIMARY KEY,
    story      TEXT,
    playlist   TEXT,
    uptime     REAL,
    started_at REAL,
    last_seen  REAL NOT NULL,
    address    TEXT,
    user_agent TEXT
);
CREATE TABLE IF NOT EXISTS displays (
    slug   TEXT NOT NULL,
    screen TEXT NOT NULL,
    shown  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (slug, screen)
);
CREATE TABLE IF NOT EXISTS audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     REAL NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    slug   TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_slug ON audit (slug, at);
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_limits (
    key    TEXT NOT NULL,
    window INTEGER NOT NULL,
    hits   INTEGER NOT NULL,
    PRIMARY KEY (key, window)
);
"""


class Database:
    """One SQLite file; a connection per thread, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.connection().executescript(SCHEMA)  # runs in its own transaction

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=15000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    # -- screens and display counts -----------------------------------------------

    def record_heartbeat(
        self,
        screen: str,
        *,
        story: str | None,
        playlist: str | None,
        uptime: float,
        shown: dict[str, int],
        address: str | None = None,
        user_agent: str | None = None,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                """INSERT INTO screens (name, story, playlist, uptime, started_at, last_seen,
                                        address, user_agent)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET story = excluded.story,
                       playlist = excluded.playlist, uptime = excluded.uptime,
                       started_at = excluded.started_at, last_seen = excluded.last_seen,
                       address = excluded.address, user_agent = excluded.user_agent""",
                (screen, story, playlist, uptime, now - uptime, now, address, user_agent),
            )
            db.executemany(
                """INSERT INTO displays (slug, screen, shown) VALUES (?, ?, ?)
                   ON CONFLICT (slug, screen) DO UPDATE SET shown = shown + excluded.shown""",
                [(slug, screen, count) for slug, count in shown.items() if count > 0],
            )

    def screens(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM screens ORDER BY name")

    def display_counts(self, slug: str) -> tuple[int, int]:
        """How many times a story was shown, and on how many screens."""
        row = self.query(
            "SELECT COALESCE(SUM(shown), 0) AS shown, COUNT(*) AS screens "
            "FROM displays WHERE slug = ? AND shown > 0",
            (slug,),
        )[0]
        return int(row["shown"]), int(row["screens"])

    # -- audit log ---------------------------------------------------------------

    def audit(self, actor: str, action: str, slug: str | None = None, detail: str = "") -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audit (at, actor, action, slug, detail) VALUES (?, ?, ?, ?, ?)",
                (time.time(), actor, action, slug, detail),
            )

    def audit_log(self, slug: str | None = None, limit: int = 200) -> list[sqlite3.Row]:
        if slug is None:
            return self.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return self.query(
            "SELECT * FROM audit WHERE slug = ? ORDER BY id DESC LIMIT ?", (slug, limit)
        )

    # -- rate limits -------------------------------------------------------------

    def hit(self, key: str, limit: int, per_seconds: int, now: float | None = None) -> bool:
        """Count one attempt for `key`; False once more than `limit` fall in the window."""
        now = time.time() if now is None else now
        window = int(now // per_seconds)
        with self.transaction() as db:
            db.execute("DELETE FROM rate_limits WHERE window < ?", (window - 1,))
            db.execute(
                """INSERT INTO rate_limits (key, window, hits) VALUES (?, ?, 1)
                   ON CONFLICT (key, window) DO UPDATE SET hits = hits + 1""",
                (key, window),
            )
            hits = db.execute(
                "SELECT hits FROM rate_limits WHERE key = ? AND window = ?", (key, window)
            ).fetchone()[0]
        return hits <= limit
