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
from urllib.parse import quote

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
CREATE TABLE IF NOT EXISTS logins (
    token_hash TEXT PRIMARY KEY,
    user       TEXT NOT NULL,
    created_at REAL NOT NULL,
    address    TEXT
);
CREATE INDEX IF NOT EXISTS logins_user ON logins (user);
"""


class Database:
    """One SQLite file; a connection per thread, opened on first use.

    By default the file, its folder and its tables are created as needed (the
    web app, `storywall user add`). `Database.existing()` opens only a database
    that is already there, for commands that must not leave state behind.
    """

    def __init__(self, path: Path, *, mode: str = "rwc") -> None:
        # mode is SQLite's own: rwc creates the file, rw and ro never do.
        if mode not in ("rwc", "rw", "ro"):
            raise ValueError(f"unknown database mode {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self._local = threading.local()
        if mode == "rwc":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.connection().executescript(SCHEMA)  # runs in its own transaction
        elif not self.path.is_file():
            raise FileNotFoundError(f"no database at {self.path}")

    @classmethod
    def existing(cls, path: Path, *, read_only: bool = True) -> Database:
        """Open a database that is already there; FileNotFoundError if there is none.

        Neither the file, its folder nor its tables are created, and a
        read-only connection cannot change anything.
        """
        return cls(path, mode="ro" if read_only else "rw")

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{quote(str(self.path.absolute()))}?mode={self.mode}"
            conn = sqlite3.connect(uri, uri=True, timeout=15, isolation_level=None)
            conn.row_factory = sqlite3.Row
            if self.mode != "ro":  # a reader takes the file as it is
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

    # -- moderator accounts and their sign-ins -------------------------------------------

    def add_user(self, name: str, password_hash: str, now: float | None = None) -> bool:
        """Create a moderator account; False if the name is taken."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, password_hash, now),
            )
        return cursor.rowcount == 1

    def set_password(self, name: str, password_hash: str) -> bool:
        """Change a moderator's password, signing them out everywhere."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name)
            )
            db.execute("DELETE FROM logins WHERE user = ?", (name,))
        return cursor.rowcount == 1

    def get_user(self, name: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM users WHERE name = ?", (name,))
        return rows[0] if rows else None

    def users(self) -> list[sqlite3.Row]:
        return self.query(
            "SELECT users.name, users.created_at, users.password_hash, "
            "MAX(logins.created_at) AS last_login "
            "FROM users LEFT JOIN logins ON logins.user = users.name "
            "GROUP BY users.name ORDER BY users.name"
        )

    def remove_user(self, name: str) -> bool:
        """Delete a moderator account and end its sessions."""
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM users WHERE name = ?", (name,))
            db.execute("DELETE FROM logins WHERE user = ?", (name,))
        return cursor.rowcount == 1

    def start_login(
        self, token_hash: str, user: str, address: str | None = None, now: float | None = None
    ) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                "INSERT INTO logins (token_hash, user, created_at, address) VALUES (?, ?, ?, ?)",
                (token_hash, user, now, address),
            )

    def login_user(self, token_hash: str, max_age: float, now: float | None = None) -> str | None:
        """The moderator a session belongs to, while it is young enough and they exist."""
        now = time.time() if now is None else now
        rows = self.query(
            "SELECT logins.user FROM logins JOIN users ON users.name = logins.user "
            "WHERE logins.token_hash = ? AND logins.created_at > ?",
            (token_hash, now - max_age),
        )
        return rows[0]["user"] if rows else None

    def end_login(self, token_hash: str, max_age: float = 30 * 86400.0) -> None:
        """Sign one session out, and forget sessions too old to be used."""
        with self.transaction() as db:
            db.execute("DELETE FROM logins WHERE token_hash = ?", (token_hash,))
            db.execute("DELETE FROM logins WHERE created_at < ?", (time.time() - max_age,))
