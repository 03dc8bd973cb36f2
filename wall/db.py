"""Operational data in SQLite, in the instance folder: screens, display counts,
the playlists screens were sent, the moderation audit log, moderator accounts,
rate limits, and the outbox of notifications.

SQLite works across gunicorn's worker processes without a server. Each call
borrows a connection from a small pool; WAL mode lets readers and one writer
work at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

DATABASE_FILE = "storywall.db"  # in the instance folder

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
DROP TABLE IF EXISTS rate_limits;
CREATE TABLE IF NOT EXISTS rate_hits (
    key     TEXT NOT NULL,
    at      REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_hits_key ON rate_hits (key, at);
CREATE INDEX IF NOT EXISTS rate_hits_expires ON rate_hits (expires);
CREATE TABLE IF NOT EXISTS logins (
    token_hash TEXT PRIMARY KEY,
    user       TEXT NOT NULL,
    created_at REAL NOT NULL,
    address    TEXT
);
CREATE INDEX IF NOT EXISTS logins_user ON logins (user);
CREATE TABLE IF NOT EXISTS playlists (
    etag     TEXT PRIMARY KEY,
    slugs    TEXT NOT NULL,
    built_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS playlists_built_at ON playlists (built_at);
"""

# Counts with time in them. Each heartbeat adds what a screen showed to the
# day's row per story and screen (`day` is the server's local date,
# YYYY-MM-DD), and to two small sums the impact page reads: per story and day,
# and per screen and day (with the seconds it was on). Days older than the
# retention are folded: story-and-screen rows into one per month (`month`
# YYYY-MM-01), and the two sums into one row dated the first of their month.
# `displays` above keeps the all-time totals. Keys start with the day, so a
# period and the daily fold read a range, not the whole table.
IMPACT_SCHEMA = """
CREATE TABLE IF NOT EXISTS displays_daily (
    day    TEXT NOT NULL,
    slug   TEXT NOT NULL,
    screen TEXT NOT NULL,
    shown  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, slug, screen)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS displays_monthly (
    month  TEXT NOT NULL,
    slug   TEXT NOT NULL,
    screen TEXT NOT NULL,
    shown  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (month, slug, screen)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS story_days (
    day   TEXT NOT NULL,
    slug  TEXT NOT NULL,
    shown INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, slug)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS screen_days (
    day     TEXT NOT NULL,
    screen  TEXT NOT NULL,
    shown   INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, screen)
) WITHOUT ROWID;
"""

# The customer's own voice: private links (only their hashes), the consent
# statements customers agreed to, and the evidence of each answer they gave.
CONSENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_links (
    token_hash TEXT PRIMARY KEY,
    slug       TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    opened_at  REAL,
    state      TEXT NOT NULL DEFAULT 'not opened',
    state_at   REAL
);
CREATE INDEX IF NOT EXISTS consent_links_slug ON consent_links (slug, created_at);
CREATE TABLE IF NOT EXISTS consent_statements (
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    text       TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_records (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    slug              TEXT NOT NULL,
    at                REAL NOT NULL,
    event             TEXT NOT NULL,
    statement_version INTEGER,
    statement_text    TEXT,
    content_hash      TEXT,
    content           TEXT,
    choices           TEXT,
    signature         TEXT,
    changes           TEXT,
    address           TEXT,
    user_agent        TEXT
);
CREATE INDEX IF NOT EXISTS consent_records_slug ON consent_records (slug, at);
"""


# Notifications. Every email and webhook is a row before it is sent. `state` moves pending ->
# sending (claimed, with a lease) -> sent, or back to pending with a later
# `due_at` after a failure, or to failed after the last retry. A moderator's
# daily digest collects `held` rows (due at the digest time) into one message;
# they become `digested`. `dedupe_key` names one event for one recipient on
# one channel, so publishing the same event twice queues it once.
NOTIFY_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key  TEXT NOT NULL UNIQUE,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    event       TEXT NOT NULL,
    slug        TEXT,
    subject     TEXT NOT NULL DEFAULT '',
    body_text   TEXT NOT NULL DEFAULT '',
    body_html   TEXT,
    payload     TEXT,
    message_id  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    due_at      REAL NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    claimed_by  TEXT,
    lease_until REAL,
    sent_at     REAL,
    last_error  TEXT,
    digest_id   INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, due_at);
CREATE TABLE IF NOT EXISTS notify_prefs (
    user  TEXT NOT NULL,
    event TEXT NOT NULL,
    mode  TEXT NOT NULL,
    PRIMARY KEY (user, event)
);
"""

OUTBOX_COLUMNS = (
    "dedupe_key",
    "channel",
    "recipient",
    "event",
    "slug",
    "subject",
    "body_text",
    "body_html",
    "payload",
    "message_id",
    "due_at",
    "state",
)


def _outbox_values(message: dict[str, object], now: float) -> tuple[object, ...]:
    row = {"due_at": now, "state": "pending", "subject": "", "body_text": "", **message}
    return (*(row.get(column) for column in OUTBOX_COLUMNS), now)


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


# Columns added to a table after its first release: (table, column, type). A
# database made before gets them when it is opened; a new one gets them the
# same way, so there is one path to test.
ADDED_COLUMNS = [
    # When the screen first reported the playlist it holds now.
    ("screens", "playlist_since", "REAL"),
    # Where a moderator's notifications go (empty: none).
    ("users", "email", "TEXT NOT NULL DEFAULT ''"),
]


def day_of(timestamp: float) -> str:
    """The server's local date of a moment, as display counts are keyed: YYYY-MM-DD."""
    return dt.date.fromtimestamp(timestamp).isoformat()


# How long the server remembers what a playlist held, after it last built it.
# One a screen still holds is kept however old; one forgotten makes a screen
# "not yet" in a takedown report, which errs on the safe side.
PLAYLIST_MEMORY_SECONDS = 14 * 86400.0


class Database:
    """One SQLite file, and a small pool of connections to it.

    By default the file, its folder and its tables are created as needed (the
    web app, `storywall user add`). `Database.existing()` opens only a database
    that is already there, for commands that must not leave state behind.
    """

    # What "now" is when a caller gives no time: tests and benchmarks set their own.
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, path: Path, *, pool_size: int = 8, mode: str = "rwc") -> None:
        # mode is SQLite's own: rwc creates the file, rw and ro never do.
        if mode not in ("rwc", "rw", "ro"):
            raise ValueError(f"unknown database mode {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.pool_size = pool_size
        self.open_connections = 0  # idle in the pool or lent out
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._folded_on: str | None = None  # the day old display rows were last folded
        if mode == "rwc":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as conn:
                # Runs in its own transaction.
                conn.executescript(SCHEMA + CONSENT_SCHEMA + NOTIFY_SCHEMA + IMPACT_SCHEMA)
            self._add_columns()
            self._date_running_totals()
        elif not self.path.is_file():
            raise FileNotFoundError(f"no database at {self.path}")

    def _add_columns(self) -> None:
        # Checked and added under the write lock: two workers starting at once
        # must not both try to add the same column.
        with self.transaction() as db:
            for table, column, kind in ADDED_COLUMNS:
                have = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _date_running_totals(self) -> None:
        # A database from before daily counts has only running totals per story
        # and screen. They become one row each, dated the day of the upgrade, so
        # nothing shown is lost (the impact page's notes say so). Once there is
        # any dated row this never runs again: the dated tables are only empty
        # before the first heartbeat after the upgrade.
        with self.transaction() as db:
            dated = db.execute(
                "SELECT EXISTS (SELECT 1 FROM displays_daily) "
                "OR EXISTS (SELECT 1 FROM displays_monthly)"
            ).fetchone()[0]
            if not dated:
                rows = db.execute(
                    "SELECT slug, screen, shown FROM displays WHERE shown > 0"
                ).fetchall()
                self._add_shown(db, day_of(self.clock()), [tuple(r) for r in rows])

    @classmethod
    def existing(cls, path: Path, *, read_only: bool = True) -> Database:
        """Open a database that is already there; FileNotFoundError if there is none.

        Neither the file, its folder nor its tables are created, and a
        read-only connection cannot change anything.
        """
        return cls(path, mode="ro" if read_only else "rw")

    def _open(self) -> sqlite3.Connection:
        # Lent to one thread at a time, so any thread may use it.
        uri = f"file:{quote(str(self.path.absolute()))}?mode={self.mode}"
        conn = sqlite3.connect(
            uri, uri=True, timeout=15, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        if self.mode != "ro":  # a reader takes the file as it is
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=15000")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call, from the pool and back to it.

        A pool rather than a connection per thread: a worker's threads (or
        gevent's greenlets) come and go, and a connection kept per thread
        stays open after its thread has gone. At most `pool_size` wait idle;
        any more that a burst needs are closed after use.
        """
        with self._lock:
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                self.open_connections += 1
        if conn is None:
            try:
                conn = self._open()
            except BaseException:
                with self._lock:
                    self.open_connections -= 1
                raise
        try:
            yield conn
        finally:
            try:
                reusable = not conn.in_transaction
            except sqlite3.Error:
                reusable = False
            with self._lock:
                keep = reusable and len(self._idle) < self.pool_size
                if keep:
                    self._idle.append(conn)
                else:
                    self.open_connections -= 1
            if not keep:
                conn.close()

    def close(self) -> None:
        """Close the idle connections; ones lent out close when they come back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self.open_connections -= len(idle)
            self.pool_size = 0
        for conn in idle:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk does that); a
                # connection still in a transaction is closed, never reused.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

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
        new_screens: tuple[int, float] | None = None,
        alive_max: float = 120.0,
        keep_days: int | None = None,
        now: float | None = None,
    ) -> bool:
        """Record that `screen` is alive, and add up the stories it showed, today's too.

        The time since the screen's last heartbeat counts as time it was on,
        at most `alive_max` seconds (about two heartbeats: a screen that was
        off for an hour does not get the hour) and no more than the kiosk's
        uptime. With `keep_days`, the first heartbeat of a day folds daily
        counts older than that into monthly ones.

        With `new_screens` (count, seconds), a screen not heard from before is
        added only while its address added fewer than `count` in the last
        `seconds`; past that, nothing is recorded and the answer is False.
        """
        now = self.clock() if now is None else now
        day = day_of(now)
        with self.transaction() as db:
            known = db.execute("SELECT last_seen FROM screens WHERE name = ?", (screen,)).fetchone()
            if (
                new_screens is not None
                and known is None
                and not self._take(db, f"new screen:{address}", *new_screens, now)
            ):
                return False
            # playlist_since moves only when the playlist does (IS: NULL-safe).
            db.execute(
                """INSERT INTO screens (name, story, playlist, uptime, started_at, last_seen,
                                        address, user_agent, playlist_since)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET story = excluded.story,
                       playlist_since = CASE WHEN screens.playlist IS excluded.playlist
                           THEN COALESCE(screens.playlist_since, excluded.playlist_since)
                           ELSE excluded.playlist_since END,
                       playlist = excluded.playlist, uptime = excluded.uptime,
                       started_at = excluded.started_at, last_seen = excluded.last_seen,
                       address = excluded.address, user_agent = excluded.user_agent""",
                (screen, story, playlist, uptime, now - uptime, now, address, user_agent, now),
            )
            db.executemany(
                """INSERT INTO displays (slug, screen, shown) VALUES (?, ?, ?)
                   ON CONFLICT (slug, screen) DO UPDATE SET shown = shown + excluded.shown""",
                [(slug, screen, count) for slug, count in shown.items() if count > 0],
            )
            counted = [(slug, screen, n) for slug, n in shown.items() if n > 0]
            alive = 0.0 if known is None else min(now - known["last_seen"], uptime, alive_max)
            self._add_shown(db, day, counted, {screen: max(alive, 0.0)})
        if keep_days is not None and self._folded_on != day:
            self.fold_display_days(keep_days, now=now)
            self._folded_on = day
        return True

    def screens(self) -> list[sqlite3.Row]:
        """Every screen heard from, by name, with how many showings it has counted."""
        return self.query(
            "SELECT screens.*, (SELECT COALESCE(SUM(shown), 0) FROM displays "
            "WHERE displays.screen = screens.name) AS shown FROM screens ORDER BY name"
        )

    def rename_screen(self, old: str, new: str, *, actor: str = "") -> bool:
        """Call a screen by a new name, its display counts with it; False if it is unknown.

        When a screen called `new` exists already (the same TV, back under the
        name its URL now gives), the two become one: counts add up, and the
        one heard from last says what is on it. With an `actor`, the audit
        record is written in the same transaction.
        """
        with self.transaction() as db:
            row = db.execute("SELECT last_seen FROM screens WHERE name = ?", (old,)).fetchone()
            if row is None:
                return False
            if old == new:
                return True
            if actor:
                self._audit(db, actor, "renamed a screen", None, f"from {old} to {new}")
            other = db.execute("SELECT last_seen FROM screens WHERE name = ?", (new,)).fetchone()
            if other is not None:
                older = old if other["last_seen"] >= row["last_seen"] else new
                db.execute("DELETE FROM screens WHERE name = ?", (older,))
            db.execute("UPDATE screens SET name = ? WHERE name = ?", (new, old))
            db.execute(
                """INSERT INTO displays (slug, screen, shown)
                   SELECT slug, ?, shown FROM displays WHERE screen = ?
                   ON CONFLICT (slug, screen) DO UPDATE SET shown = shown + excluded.shown""",
                (new, old),
            )
            db.execute("DELETE FROM displays WHERE screen = ?", (old,))
            for table, key in (("displays_daily", "day"), ("displays_monthly", "month")):
                db.execute(
                    f"INSERT INTO {table} ({key}, slug, screen, shown) "
                    f"SELECT {key}, slug, ?, shown FROM {table} WHERE screen = ? "
                    "ON CONFLICT DO UPDATE SET shown = shown + excluded.shown",
                    (new, old),
                )
                db.execute(f"DELETE FROM {table} WHERE screen = ?", (old,))
            db.execute(
                "INSERT INTO screen_days (day, screen, shown, seconds) "
                "SELECT day, ?, shown, seconds FROM screen_days WHERE screen = ? "
                "ON CONFLICT DO UPDATE SET shown = shown + excluded.shown, "
                "seconds = seconds + excluded.seconds",
                (new, old),
            )
            db.execute("DELETE FROM screen_days WHERE screen = ?", (old,))
        return True

    def forget_screen(self, name: str, *, counts: bool = False, actor: str = "") -> bool:
        """Take a screen off the list (and, with `counts`, what it showed); False if unknown.

        A kiosk still running under that name comes back with its next heartbeat.
        With an `actor`, the audit record is written in the same transaction.
        """
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM screens WHERE name = ?", (name,))
            if cursor.rowcount != 1:
                return False
            if counts:
                db.execute("DELETE FROM displays WHERE screen = ?", (name,))
                # Its share of each story's daily sums goes too.
                db.execute(
                    """UPDATE story_days SET shown = shown - (SELECT SUM(d.shown)
                           FROM displays_daily AS d WHERE d.day = story_days.day
                           AND d.slug = story_days.slug AND d.screen = :screen)
                       WHERE EXISTS (SELECT 1 FROM displays_daily AS d WHERE d.day =
                           story_days.day AND d.slug = story_days.slug AND d.screen = :screen)""",
                    {"screen": name},
                )
                for table in ("displays_daily", "displays_monthly", "screen_days"):
                    db.execute(f"DELETE FROM {table} WHERE screen = ?", (name,))
            if actor:
                detail = name + (", and what it has shown" if counts else "")
                self._audit(db, actor, "forgot a screen", None, detail)
        return True

    def screens_heard_since(self, since: float) -> list[sqlite3.Row]:
        """Screens whose last heartbeat came after `since`, by name: the playlist each
        holds and when it first reported it (`playlist_since`)."""
        return self.query(
            "SELECT name, last_seen, playlist, playlist_since FROM screens "
            "WHERE last_seen > ? ORDER BY name",
            (since,),
        )

    # -- playlists: what each one sent to the screens held ---------------------------

    def remember_playlist(self, etag: str, slugs: Iterable[str], now: float | None = None) -> None:
        """Remember which stories the playlist `etag` holds, and forget old ones.

        Called each time a worker builds a playlist body (once per index
        version and screen), so one still in use is remembered again.
        """
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                """INSERT INTO playlists (etag, slugs, built_at) VALUES (?, ?, ?)
                   ON CONFLICT (etag) DO UPDATE SET built_at = excluded.built_at""",
                (etag, json.dumps(sorted(set(slugs)), separators=(",", ":")), now),
            )
            db.execute(
                """DELETE FROM playlists WHERE built_at < ? AND etag NOT IN
                   (SELECT playlist FROM screens WHERE playlist IS NOT NULL)""",
                (now - PLAYLIST_MEMORY_SECONDS,),
            )

    def playlist_slugs(self, etag: str) -> frozenset[str] | None:
        """The stories the playlist `etag` holds; None if it is not (or no longer) known."""
        rows = self.query("SELECT slugs FROM playlists WHERE etag = ?", (etag,))
        return frozenset(json.loads(rows[0]["slugs"])) if rows else None

    def display_counts(self, slug: str) -> tuple[int, int]:
        """How many times a story was shown, and on how many screens."""
        row = self.query(
            "SELECT COALESCE(SUM(shown), 0) AS shown, COUNT(*) AS screens "
            "FROM displays WHERE slug = ? AND shown > 0",
            (slug,),
        )[0]
        return int(row["shown"]), int(row["screens"])

    # -- displays with time in them: per story, screen and day --------------------------

    @staticmethod
    def _add_shown(
        db: sqlite3.Connection,
        day: str,
        shown: list[tuple[str, str, int]],
        alive: dict[str, float] | None = None,
    ) -> None:
        """Add (slug, screen, count) rows and screens' seconds on to one day's counts."""
        db.executemany(
            """INSERT INTO displays_daily (day, slug, screen, shown) VALUES (?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET shown = shown + excluded.shown""",
            [(day, slug, screen, n) for slug, screen, n in shown],
        )
        per_story: dict[str, int] = {}
        per_screen: dict[str, list[float]] = {s: [0, t] for s, t in (alive or {}).items()}
        for slug, screen, n in shown:
            per_story[slug] = per_story.get(slug, 0) + n
            per_screen.setdefault(screen, [0, 0.0])[0] += n
        db.executemany(
            """INSERT INTO story_days (day, slug, shown) VALUES (?, ?, ?)
               ON CONFLICT DO UPDATE SET shown = shown + excluded.shown""",
            [(day, slug, n) for slug, n in per_story.items()],
        )
        db.executemany(
            """INSERT INTO screen_days (day, screen, shown, seconds) VALUES (?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET shown = shown + excluded.shown,
               seconds = seconds + excluded.seconds""",
            [(day, screen, int(n), t) for screen, (n, t) in per_screen.items() if n or t],
        )

    def fold_display_days(self, keep_days: int, now: float | None = None) -> int:
        """Fold daily counts older than `keep_days` into monthly ones; how many rows went.

        Whole months only: a month is either all its days or one row, so a
        period that starts on the first of a month adds up the same either way.
        """
        now = self.clock() if now is None else now
        oldest = dt.date.fromtimestamp(now) - dt.timedelta(days=keep_days)
        before = oldest.replace(day=1).isoformat()
        month = "substr(day, 1, 8) || '01'"
        with self.transaction() as db:
            db.execute(
                f"""INSERT INTO displays_monthly (month, slug, screen, shown)
                   SELECT {month}, slug, screen, SUM(shown) FROM displays_daily
                   WHERE day < ? GROUP BY {month}, slug, screen
                   ON CONFLICT DO UPDATE SET shown = shown + excluded.shown""",
                (before,),
            )
            moved = db.execute("DELETE FROM displays_daily WHERE day < ?", (before,)).rowcount
            # The sums become one row on the first of each month; rows folded
            # before are that row already, and are left alone.
            for table, key, sums in (
                ("story_days", "slug", "SUM(shown)"),
                ("screen_days", "screen", "SUM(shown), SUM(seconds)"),
            ):
                days = "day < ? AND substr(day, 9) != '01'"
                rows = db.execute(
                    f"SELECT {month}, {key}, {sums} FROM {table} WHERE {days} "
                    f"GROUP BY {month}, {key}",
                    (before,),
                ).fetchall()
                moved += db.execute(f"DELETE FROM {table} WHERE {days}", (before,)).rowcount
                if table == "story_days":
                    db.executemany(
                        "INSERT INTO story_days (day, slug, shown) VALUES (?, ?, ?) "
                        "ON CONFLICT DO UPDATE SET shown = shown + excluded.shown",
                        [tuple(r) for r in rows],
                    )
                else:
                    db.executemany(
                        "INSERT INTO screen_days (day, screen, shown, seconds) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                        "shown = shown + excluded.shown, seconds = seconds + excluded.seconds",
                        [tuple(r) for r in rows],
                    )
        return moved

    def add_display_days(
        self,
        day: str,
        shown: list[tuple[str, str, int]],
        alive: dict[str, float] | None = None,
    ) -> None:
        """Add one day's counts in bulk: (slug, screen, shown) rows, and seconds per screen.

        For imports and benchmarks; kiosks' counts arrive by `record_heartbeat`.
        """
        with self.transaction() as db:
            self._add_shown(db, day, shown, alive)

    # A period is its first and last days, YYYY-MM-DD, both included; a month
    # folded into one row counts when the month starts inside the period.

    def displays_per_story(self, first: str, last: str) -> list[sqlite3.Row]:
        """Per story shown in the period: slug, shown; the most shown first."""
        return self.query(
            "SELECT slug, SUM(shown) AS shown FROM story_days WHERE day >= ? AND day <= ? "
            "GROUP BY slug ORDER BY shown DESC, slug",
            (first, last),
        )

    def displays_per_day(self, first: str, last: str) -> list[sqlite3.Row]:
        """Per day in the period: day, shown, screens (how many showed anything)."""
        return self.query(
            "SELECT day, SUM(shown) AS shown, SUM(shown > 0) AS screens FROM screen_days "
            "WHERE day >= ? AND day <= ? GROUP BY day HAVING SUM(shown) > 0 ORDER BY day",
            (first, last),
        )

    def screens_showing(self, first: str, last: str) -> int:
        """How many screens showed anything in the period."""
        row = self.query(
            "SELECT COUNT(DISTINCT screen) FROM screen_days "
            "WHERE day >= ? AND day <= ? AND shown > 0",
            (first, last),
        )[0]
        return int(row[0])

    def screen_seconds(self, first: str, last: str) -> float:
        """Seconds the screens were on in the period, added up."""
        row = self.query(
            "SELECT COALESCE(SUM(seconds), 0) FROM screen_days WHERE day >= ? AND day <= ?",
            (first, last),
        )[0]
        return float(row[0])

    def proof_of_play(self, first: str, last: str, slug: str | None = None) -> list[sqlite3.Row]:
        """Where and how often stories were shown: slug, screen, day, shown, by slug then
        day; `day` is YYYY-MM for a month folded into one row."""
        which = "" if slug is None else "AND slug = :slug"
        return self.query(
            f"""SELECT slug, screen, day, shown FROM displays_daily
                WHERE day >= :first AND day <= :last {which}
                UNION ALL SELECT slug, screen, substr(month, 1, 7), shown FROM displays_monthly
                WHERE month >= :first AND month <= :last {which}
                ORDER BY 1, 3, 2""",
            {"first": first, "last": last, "slug": slug},
        )

    def first_display_day(self) -> str | None:
        """The earliest day anything was counted on (the first of a folded month)."""
        return self.query("SELECT MIN(day) FROM screen_days")[0][0]

    # -- audit log ---------------------------------------------------------------

    def audit(self, actor: str, action: str, slug: str | None = None, detail: str = "") -> None:
        with self.transaction() as db:
            self._audit(db, actor, action, slug, detail)

    def audit_all(
        self,
        records: list[tuple[str, str, str | None, str]],
        *,
        renamed: tuple[str, str] | None = None,
    ) -> None:
        """Several audit records of one action: all written, or none. With `renamed`
        (old, new), the story's customer link and consent evidence follow it."""
        with self.transaction() as db:
            for actor, action, slug, detail in records:
                self._audit(db, actor, action, slug, detail)
            if renamed is not None and renamed[0] != renamed[1]:
                old, new = renamed
                db.execute("UPDATE consent_links SET slug = ? WHERE slug = ?", (new, old))
                db.execute("UPDATE consent_records SET slug = ? WHERE slug = ?", (new, old))

    def _audit(
        self, db: sqlite3.Connection, actor: str, action: str, slug: str | None, detail: str
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, actor, action, slug, detail) VALUES (?, ?, ?, ?, ?)",
            (self.clock(), actor, action, slug, detail),
        )

    def audit_events(
        self, actions: tuple[str, ...], until: float, since: float = 0.0
    ) -> list[sqlite3.Row]:
        """Records of `actions` from `since` up to (not including) `until`, oldest first:
        at, action, slug, actor, detail."""
        marks = ", ".join("?" for _ in actions)
        return self.query(
            f"SELECT at, action, slug, actor, detail FROM audit WHERE action IN ({marks}) "
            "AND at >= ? AND at < ? ORDER BY at, id",
            (*actions, since, until),
        )

    def last_audit_time(self, slug: str, actions: tuple[str, ...]) -> float | None:
        """When one of `actions` was last recorded for a story, if ever."""
        marks = ", ".join("?" for _ in actions)
        rows = self.query(
            f"SELECT MAX(at) AS at FROM audit WHERE slug = ? AND action IN ({marks})",
            (slug, *actions),
        )
        return rows[0]["at"] if rows and rows[0]["at"] is not None else None

    def audit_log(self, slug: str | None = None, limit: int = 200) -> list[sqlite3.Row]:
        if slug is None:
            return self.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return self.query(
            "SELECT * FROM audit WHERE slug = ? ORDER BY id DESC LIMIT ?", (slug, limit)
        )

    # -- customer consent: links, statements, evidence ----------------------------------

    def add_consent_link(
        self,
        token_hash: str,
        slug: str,
        *,
        created_by: str,
        expires_at: float,
        now: float | None = None,
    ) -> None:
        """A new private link for a story's customer; older links of the story stop working."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                "UPDATE consent_links SET revoked_at = ? WHERE slug = ? AND revoked_at IS NULL",
                (now, slug),
            )
            db.execute(
                "INSERT INTO consent_links (token_hash, slug, created_at, created_by, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_hash, slug, now, created_by, expires_at),
            )
            self._audit(db, created_by, "customer link made", slug, "older links stopped")

    def consent_link(self, token_hash: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM consent_links WHERE token_hash = ?", (token_hash,))
        return rows[0] if rows else None

    def current_consent_link(self, slug: str) -> sqlite3.Row | None:
        """The story's newest link that has not been revoked, if any."""
        rows = self.query(
            "SELECT * FROM consent_links WHERE slug = ? AND revoked_at IS NULL "
            "ORDER BY created_at DESC LIMIT 1",
            (slug,),
        )
        return rows[0] if rows else None

    def revoke_consent_links(self, slug: str, actor: str, now: float | None = None) -> bool:
        """Stop every link of a story; False if it had none working."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE consent_links SET revoked_at = ? WHERE slug = ? AND revoked_at IS NULL",
                (now, slug),
            )
            if cursor.rowcount:
                self._audit(db, actor, "customer link revoked", slug, "")
        return cursor.rowcount > 0

    def link_opened(self, token_hash: str, now: float | None = None) -> None:
        """Note that the customer opened their link: the first time, it is 'opened'."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                "UPDATE consent_links SET opened_at = COALESCE(opened_at, ?), "
                "state = CASE state WHEN 'not opened' THEN 'opened' ELSE state END, "
                "state_at = CASE state WHEN 'not opened' THEN ? ELSE state_at END "
                "WHERE token_hash = ?",
                (now, now, token_hash),
            )

    def statement_version(self, text: str, now: float | None = None) -> int:
        """The version number of a consent statement's text; a new text gets the next one."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                "INSERT INTO consent_statements (text, created_at) VALUES (?, ?) "
                "ON CONFLICT (text) DO NOTHING",
                (text, now),
            )
            row = db.execute(
                "SELECT version FROM consent_statements WHERE text = ?", (text,)
            ).fetchone()
        return int(row["version"])

    def record_consent_event(
        self,
        slug: str,
        event: str,
        *,
        token_hash: str | None,
        link_state: str | None,
        actor: str,
        detail: str = "",
        evidence: dict[str, object] | None = None,
        now: float | None = None,
    ) -> int:
        """Keep the evidence of one answer the customer gave (consented, suggested changes,
        declined, withdrew), move their link to its new state, and audit it, all at once."""
        now = time.time() if now is None else now
        fields = dict(evidence or {})
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO consent_records (slug, at, event, statement_version, "
                "statement_text, content_hash, content, choices, signature, changes, address, "
                "user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    slug,
                    now,
                    event,
                    fields.get("statement_version"),
                    fields.get("statement_text"),
                    fields.get("content_hash"),
                    _json(fields.get("content")),
                    _json(fields.get("choices")),
                    fields.get("signature"),
                    _json(fields.get("changes")),
                    fields.get("address"),
                    fields.get("user_agent"),
                ),
            )
            if token_hash is not None and link_state is not None:
                db.execute(
                    "UPDATE consent_links SET state = ?, state_at = ? WHERE token_hash = ?",
                    (link_state, now, token_hash),
                )
            self._audit(db, actor, f"customer {event}", slug, detail)
        return int(cursor.lastrowid or 0)

    def consent_records(self, slug: str) -> list[sqlite3.Row]:
        """Every answer the story's customer gave, oldest first."""
        return self.query("SELECT * FROM consent_records WHERE slug = ? ORDER BY at, id", (slug,))

    def last_consent_record(self, slug: str, event: str = "consented") -> sqlite3.Row | None:
        rows = self.query(
            "SELECT * FROM consent_records WHERE slug = ? AND event = ? ORDER BY at DESC, id DESC "
            "LIMIT 1",
            (slug, event),
        )
        return rows[0] if rows else None

    # -- rate limits -------------------------------------------------------------

    def hit(self, key: str, limit: int, per_seconds: float, now: float | None = None) -> bool:
        """Count one attempt for `key`; False, and not counted, once `limit` attempts
        were let through in the last `per_seconds`.

        A sliding window: no span of `per_seconds`, wherever it starts, lets more
        than `limit` through (windows on the clock let twice the limit through
        across their edge). Refused attempts are not stored, so a key never
        holds more than `limit` rows.
        """
        now = time.time() if now is None else now
        with self.transaction() as db:
            return self._take(db, key, limit, per_seconds, now)

    @staticmethod
    def _take(db: sqlite3.Connection, key: str, limit: int, per: float, now: float) -> bool:
        db.execute("DELETE FROM rate_hits WHERE expires <= ?", (now,))
        used = db.execute(
            "SELECT COUNT(*) FROM rate_hits WHERE key = ? AND at > ?", (key, now - per)
        ).fetchone()[0]
        if used >= limit:
            return False
        db.execute(
            "INSERT INTO rate_hits (key, at, expires) VALUES (?, ?, ?)", (key, now, now + per)
        )
        return True

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

    # -- notifications: the outbox -----------------------------------------------------------

    def enqueue_notifications(
        self, messages: Iterable[dict[str, object]], now: float | None = None
    ) -> int:
        """Queue messages (dicts of outbox columns) at once; one already queued under the
        same dedupe_key is left as it is. Returns how many were new."""
        now = time.time() if now is None else now
        marks = ", ".join("?" for _ in OUTBOX_COLUMNS)
        sql = (
            f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}, created_at) VALUES ({marks}, ?) "
            "ON CONFLICT (dedupe_key) DO NOTHING"
        )
        added = 0
        with self.transaction() as db:
            for message in messages:
                added += db.execute(sql, _outbox_values(message, now)).rowcount
        return added

    def claim_notification(
        self, worker: str, lease_seconds: float, now: float | None = None
    ) -> sqlite3.Row | None:
        """Take the next due delivery for `worker`, or one whose sender's lease ran out.

        Under SQLite's write lock (BEGIN IMMEDIATE), so of several workers
        asking at once, each row goes to exactly one.
        """
        now = time.time() if now is None else now
        with self.transaction() as db:
            row = db.execute(
                "SELECT id FROM outbox WHERE (state = 'pending' AND due_at <= ?) "
                "OR (state = 'sending' AND lease_until <= ?) ORDER BY due_at, id LIMIT 1",
                (now, now),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE outbox SET state = 'sending', claimed_by = ?, lease_until = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                (worker, now + lease_seconds, row["id"]),
            )
            return db.execute("SELECT * FROM outbox WHERE id = ?", (row["id"],)).fetchone()

    def notification_sent(self, message_id: int, worker: str, now: float | None = None) -> bool:
        """Mark a delivery sent; False if `worker` no longer held it (its lease ran out)."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, lease_until = NULL, "
                "last_error = NULL WHERE id = ? AND claimed_by = ? AND state = 'sending'",
                (now, message_id, worker),
            )
        return cursor.rowcount == 1

    def notification_failed(
        self, message_id: int, worker: str, error: str, retry_at: float | None
    ) -> bool:
        """Keep the error; due again at `retry_at`, or failed for good when it is None."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = ?, due_at = COALESCE(?, due_at), lease_until = NULL, "
                "last_error = ? WHERE id = ? AND claimed_by = ? AND state = 'sending'",
                (
                    "pending" if retry_at is not None else "failed",
                    retry_at,
                    error[:2000],
                    message_id,
                    worker,
                ),
            )
        return cursor.rowcount == 1

    def retry_notification(self, message_id: int, actor: str, now: float | None = None) -> bool:
        """Send a failed (or waiting) delivery again now, with a fresh set of retries."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            row = db.execute(
                "SELECT channel, recipient, event, slug FROM outbox WHERE id = ? "
                "AND state IN ('failed', 'pending')",
                (message_id,),
            ).fetchone()
            if row is None:
                return False
            db.execute(
                "UPDATE outbox SET state = 'pending', due_at = ?, attempts = 0, claimed_by = NULL "
                "WHERE id = ?",
                (now, message_id),
            )
            detail = f"{row['event']} by {row['channel']} to {row['recipient']}"
            self._audit(db, actor, "notification retried", row["slug"], detail)
        return True

    def compose_digests(
        self,
        build: Callable[[str, list[sqlite3.Row]], dict[str, object]],
        now: float | None = None,
    ) -> int:
        """Fold each recipient's held messages that are due into one digest message, built
        by `build(recipient, rows)`; all under one write lock, so each digest is made once."""
        now = time.time() if now is None else now
        made = 0
        with self.transaction() as db:
            rows = db.execute(
                "SELECT * FROM outbox WHERE state = 'held' AND due_at <= ? "
                "ORDER BY recipient, created_at, id",
                (now,),
            ).fetchall()
            by_recipient: dict[str, list[sqlite3.Row]] = {}
            for row in rows:
                by_recipient.setdefault(row["recipient"], []).append(row)
            for recipient, held in by_recipient.items():
                cursor = db.execute(
                    f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}, created_at) "
                    f"VALUES ({', '.join('?' for _ in OUTBOX_COLUMNS)}, ?) "
                    "ON CONFLICT (dedupe_key) DO NOTHING",
                    _outbox_values(build(recipient, held), now),
                )
                made += cursor.rowcount
                ids = [row["id"] for row in held]
                db.execute(
                    f"UPDATE outbox SET state = 'digested', sent_at = ?, digest_id = ? "
                    f"WHERE id IN ({', '.join('?' for _ in ids)})",
                    (now, cursor.lastrowid if cursor.rowcount else None, *ids),
                )
        return made

    def outbox(self, states: tuple[str, ...], limit: int = 200) -> list[sqlite3.Row]:
        """Deliveries in `states`, the most recent first."""
        marks = ", ".join("?" for _ in states)
        return self.query(
            f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY created_at DESC, id DESC "
            "LIMIT ?",
            (*states, limit),
        )

    def outbox_counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        rows = self.query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}

    def outbox_message(self, dedupe_key: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM outbox WHERE dedupe_key = ?", (dedupe_key,))
        return rows[0] if rows else None

    # -- notifications: moderators' addresses and what each wants to hear ------------------

    def set_user_email(self, name: str, email: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute("UPDATE users SET email = ? WHERE name = ?", (email, name))
        return cursor.rowcount == 1

    def notify_prefs(self, name: str) -> dict[str, str]:
        """The moderator's choice per event (immediate, digest, off); unlisted: the default."""
        rows = self.query("SELECT event, mode FROM notify_prefs WHERE user = ?", (name,))
        return {row["event"]: row["mode"] for row in rows}

    def set_notify_settings(self, name: str, email: str, modes: dict[str, str], actor: str) -> bool:
        """Save a moderator's address and their choice per event, and audit it."""
        with self.transaction() as db:
            cursor = db.execute("UPDATE users SET email = ? WHERE name = ?", (email, name))
            if cursor.rowcount != 1:
                return False
            db.execute("DELETE FROM notify_prefs WHERE user = ?", (name,))
            db.executemany(
                "INSERT INTO notify_prefs (user, event, mode) VALUES (?, ?, ?)",
                [(name, event, mode) for event, mode in sorted(modes.items())],
            )
            detail = f"email {email or 'none'}; " + ", ".join(
                f"{event} {mode}" for event, mode in sorted(modes.items())
            )
            self._audit(db, actor, "notification settings changed", None, detail)
        return True

    def notify_recipients(self, event: str, default: str = "immediate") -> list[sqlite3.Row]:
        """Moderators with an address who hear about `event`: name, email and mode."""
        return self.query(
            "SELECT users.name, users.email, COALESCE(notify_prefs.mode, ?) AS mode "
            "FROM users LEFT JOIN notify_prefs "
            "ON notify_prefs.user = users.name AND notify_prefs.event = ? "
            "WHERE users.email != '' AND COALESCE(notify_prefs.mode, ?) != 'off' "
            "ORDER BY users.name",
            (default, event, default),
        )
