"""Operational data: screens, display counts, the playlists screens were sent,
the moderation audit log, moderator accounts, rate limits, customer links and
consent evidence, and the outbox of notifications.

One layer, two engines, through SQLAlchemy Core. SQLite is the default: a file
in the instance folder, no server, shared by gunicorn's workers (WAL mode lets
readers and one writer work at once). PostgreSQL (`WALL_DATABASE_URL`) lets
several servers be one wall. Every statement is written once, in SQL both
engines speak, and bound by name. Writes take the database's one write lock
(SQLite's BEGIN IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock),
so each read-then-write rule here (a rate limit, a claim on the outbox, a
digest made once) holds the same on both, across workers and servers.

The schema lives in Alembic migrations (`wall/migrations/`). A new database is
made at the newest revision; one made by an older release is upgraded only by
`storywall db upgrade`, and until then `Database()` refuses it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
# Alembic narrates its plugins and each step at INFO, from its first import on;
# `storywall db upgrade` says what happened itself.
logging.getLogger("alembic").setLevel(logging.WARNING)

DATABASE_FILE = "storywall.db"  # in the instance folder, on SQLite
MIGRATIONS = Path(__file__).parent / "migrations"

# PostgreSQL: the advisory lock every write holds, and the channel a server
# announces a story it changed on. Any fixed number will do; this one spells
# "story wall" as a CRC.
WRITE_LOCK = zlib.crc32(b"storywall write lock")
STORY_CHANNEL = "storywall_stories"

Row = RowMapping  # a result row: row["column"], dict(row), row.get("column")
# What a database call raises when the database refuses or cannot be reached.
DatabaseError = DBAPIError
# Everything a caller that must carry on without the database catches: those, a
# pool with no connection free in time, and sqlite3's own from code that
# speaks to SQLite directly.
DATABASE_TROUBLE = (DBAPIError, sa.exc.TimeoutError, sqlite3.OperationalError)


class NeedsUpgrade(RuntimeError):
    """The database was made by an older release; `storywall db upgrade` brings it up."""

    def __init__(self, where: str, have: str | None, want: str) -> None:
        self.have, self.want = have, want
        now = f"is at revision {have}" if have else "was made before release 0.2"
        super().__init__(
            f"the database at {where} {now}; this release needs revision {want}: "
            "run `storywall db upgrade` (back it up first)"
        )


def is_disk_full(error: BaseException) -> bool:
    """Whether a database error is SQLite's full disk (or full instance folder)."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, sqlite3.OperationalError):
        code = getattr(cause, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(cause)
    return False


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means the database cannot be reached (PostgreSQL down,
    restarting, or the connection lost), as opposed to a fault in what was asked."""
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated) or isinstance(error, sa.exc.OperationalError)
    return isinstance(error, sa.exc.TimeoutError)  # no connection free in the pool in time


def database_url(target: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL for a database: a path is a SQLite file; postgresql:// and
    postgres:// URLs use psycopg 3."""
    text = str(target)
    for scheme in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if text.startswith(scheme):
            return "postgresql+psycopg://" + text[len(scheme) :]
    if "://" in text:
        raise ValueError(f"unsupported database URL {sa.make_url(text).render_as_string()}")
    return f"sqlite:///{Path(text).absolute()}"


def _outbox_row(message: Mapping[str, object], now: float) -> dict[str, object]:
    row = {"due_at": now, "state": "pending", "subject": "", "body_text": "", **message}
    return {column: row.get(column) for column in OUTBOX_COLUMNS} | {"created_at": now}


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
OUTBOX_INSERT = (
    f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}, created_at) "
    f"VALUES ({', '.join(':' + c for c in OUTBOX_COLUMNS)}, :created_at) "
    "ON CONFLICT (dedupe_key) DO NOTHING"
)


STORY_DAYS_ADD = (
    "INSERT INTO story_days (day, slug, shown) VALUES (:day, :slug, :shown) "
    "ON CONFLICT (day, slug) DO UPDATE SET shown = story_days.shown + excluded.shown"
)
SCREEN_DAYS_ADD = (
    "INSERT INTO screen_days (day, screen, shown, seconds) "
    "VALUES (:day, :screen, :shown, :seconds) "
    "ON CONFLICT (day, screen) DO UPDATE SET shown = screen_days.shown + excluded.shown, "
    "seconds = screen_days.seconds + excluded.seconds"
)


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def day_of(timestamp: float) -> str:
    """The server's local date of a moment, as display counts are keyed: YYYY-MM-DD."""
    return dt.date.fromtimestamp(timestamp).isoformat()


# How long the server remembers what a playlist held, after it last built it.
# One a screen still holds is kept however old; one forgotten makes a screen
# "not yet" in a takedown report, which errs on the safe side.
PLAYLIST_MEMORY_SECONDS = 14 * 86400.0


def _statement(sql: str, params: Mapping[str, object] | None) -> sa.TextClause:
    """SQL text with its parameters bound by name; a list or tuple value fills `IN :name`."""
    statement = sa.text(sql)
    if params:
        expanding = [
            sa.bindparam(k, expanding=True)
            for k, v in params.items()
            if isinstance(v, list | tuple | set | frozenset)
        ]
        if expanding:
            statement = statement.bindparams(*expanding)
    return statement


class Tx:
    """One transaction on one connection: run statements, read rows."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> sa.CursorResult:
        return self.conn.execute(_statement(sql, params), dict(params or {}))

    def run(self, sql: str, params: Mapping[str, object] | None = None) -> int:
        """Run a statement; how many rows it changed."""
        return self.execute(sql, params).rowcount

    def many(self, sql: str, rows: list[dict[str, object]]) -> None:
        """Run a statement once per row (nothing when there are none)."""
        if rows:
            self.conn.execute(sa.text(sql), rows)

    def one(self, sql: str, params: Mapping[str, object] | None = None) -> Row | None:
        return self.execute(sql, params).mappings().first()

    def all(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]:
        return list(self.execute(sql, params).mappings())

    def scalar(self, sql: str, params: Mapping[str, object] | None = None) -> Any:
        return self.execute(sql, params).scalar()


@cache
def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# The schema revision this release needs: the newest migration's. Written here
# so that opening the database at every start need not import Alembic (a tenth
# of a second); tests/test_migrations.py checks it against the migrations.
SCHEMA_REVISION = "0002"


def head_revision() -> str:
    """The schema revision this release needs: the newest migration."""
    return SCHEMA_REVISION


class Database:
    """One database, SQLite or PostgreSQL, and a pool of connections to it.

    `target` is the SQLite file's path, or a PostgreSQL URL. By default a new
    database (and, on SQLite, its folder) is made at the newest schema; one
    made by an older release raises NeedsUpgrade unless `upgrade` is asked
    for. `Database.existing()` opens only a database that is already there,
    for commands that must not leave state behind.
    """

    # What "now" is when a caller gives no time: tests and benchmarks set their own.
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        pool_size: int = 8,
        mode: str = "rwc",
        upgrade: bool = False,
    ) -> None:
        # mode is SQLite's own: rwc creates the file, rw and ro never do.
        if mode not in ("rwc", "rw", "ro"):
            raise ValueError(f"unknown database mode {mode!r}")
        self.url = database_url(target)
        self.is_postgres = self.url.startswith("postgresql")
        self.path = None if self.is_postgres else Path(str(target)).absolute()
        self.mode = mode
        self.pool_size = pool_size
        self._folded_on: str | None = None  # the day old display rows were last folded
        if self.path is not None and mode != "rwc" and not self.path.is_file():
            raise FileNotFoundError(f"no database at {self.path}")
        if self.path is not None and mode == "rwc":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = self._make_engine()
        self._pid = os.getpid()
        try:
            if upgrade:
                self.upgrade()
            elif mode == "rwc":
                self._create_or_check()
            elif self.revision() is None and not self._has_tables():
                raise FileNotFoundError(f"no Story Wall tables in {self.where}")
        except BaseException:
            self.engine.dispose()  # a database refused leaves no connection open
            raise

    @property
    def where(self) -> str:
        """The database, for messages: the file, or the URL without its password."""
        if self.path is not None:
            return str(self.path)
        url = sa.make_url(self.url).set(drivername="postgresql")
        return url.render_as_string(hide_password=True)

    @classmethod
    def existing(cls, target: str | os.PathLike[str], *, read_only: bool = True) -> Database:
        """Open a database that is already there; FileNotFoundError if there is none.

        Neither the file, its folder nor its tables are created, and on SQLite a
        read-only connection cannot change anything.
        """
        return cls(target, mode="ro" if read_only else "rw")

    def _make_engine(self) -> Engine:
        if self.is_postgres:
            # Bounded: each server's workers share PostgreSQL's connection limit.
            # pre_ping finds connections a restarted server dropped, so the wall
            # recovers without a restart of its own.
            return sa.create_engine(
                self.url,
                pool_size=self.pool_size,
                max_overflow=16,
                pool_timeout=10,
                pool_pre_ping=True,
                connect_args={
                    "connect_timeout": 5,
                    "application_name": "storywall",
                    # As SQLite's busy timeout: a write waits at most 15 s for the
                    # lock, and a client that hangs mid-transaction lets go of it.
                    "options": "-c lock_timeout=15s -c idle_in_transaction_session_timeout=60s",
                },
            )
        assert self.path is not None
        uri = f"file:{quote(str(self.path))}?mode={self.mode}"

        def connect() -> sqlite3.Connection:
            # Lent to one thread at a time, so any thread may use it.
            return sqlite3.connect(uri, uri=True, timeout=15, check_same_thread=False)

        # At most pool_size wait idle; any more a burst needs close after use.
        engine = sa.create_engine(
            "sqlite://",
            creator=connect,
            poolclass=sa.QueuePool,
            pool_size=max(self.pool_size, 1),
            max_overflow=-1,
        )

        @event.listens_for(engine, "connect")
        def _configure(conn: sqlite3.Connection, _record: object) -> None:
            conn.isolation_level = None  # transactions begin where we say (below)
            if self.mode != "ro":  # a reader takes the file as it is
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=15000")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A write takes the write lock at its start, not at its first write,
            # so read-then-write cannot be overtaken; a read stays deferred.
            writes = conn.get_execution_options().get("storywall_writes")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

        return engine

    def _engine(self) -> Engine:
        if self._pid != os.getpid():
            # A forked worker must not share its parent's connections.
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        return self.engine

    @property
    def open_connections(self) -> int:
        """Connections open now: idle in the pool or lent out."""
        pool = self.engine.pool
        return pool.checkedin() + pool.checkedout()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close the idle connections; ones lent out close when they come back."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction, under the database's write lock: all of it, or none."""
        with self._engine().connect() as conn:
            conn.execution_options(storywall_writes=True)
            with conn.begin():
                if self.is_postgres:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
                yield Tx(conn)

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]:
        """Rows from one read."""
        with self._engine().connect() as conn:
            return Tx(conn).all(sql, params)

    # -- the schema: made new, checked, upgraded ----------------------------------------------

    def revision(self) -> str | None:
        """The schema revision the database is at; None before 0.2 (or when empty)."""
        with self._engine().connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            # Alembic's own table: one row, the revision, for a history without
            # branches (several would never equal the head, and would be named).
            rows = Tx(conn).all("SELECT version_num FROM alembic_version ORDER BY version_num")
        return ", ".join(str(row["version_num"]) for row in rows) or None

    def _has_tables(self) -> bool:
        with self._engine().connect() as conn:
            return bool(sa.inspect(conn).get_table_names())

    def status(self) -> dict[str, object]:
        """Where the database is, which revision it is at and which this release needs."""
        have = self.revision()
        return {
            "database": self.where,
            "engine": "PostgreSQL" if self.is_postgres else "SQLite",
            "revision": have,
            "head": head_revision(),
            "up_to_date": have == head_revision(),
        }

    def _create_or_check(self) -> None:
        have = self.revision()
        if have == head_revision():
            return
        if have is None and not self._has_tables():
            self.upgrade()  # a new database: made at the newest revision
            return
        raise NeedsUpgrade(self.where, have, head_revision())

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to this release's revision; (from, to). Under the write lock,
        so servers upgrading at once take turns and the second finds nothing to do."""
        from alembic import command

        with self.transaction() as db:
            from alembic.runtime.migration import MigrationContext

            before = MigrationContext.configure(db.conn).get_current_revision()
            if before != head_revision():
                config = _alembic_config()
                config.attributes["connection"] = db.conn
                try:
                    command.upgrade(config, "head")
                finally:
                    del config.attributes["connection"]
        return before, head_revision()

    # -- secrets all servers share ----------------------------------------------------------------

    def shared_secret(self, name: str, make: Callable[[], str]) -> str:
        """The secret called `name`, made with `make()` the first time any server asks."""
        with self.transaction() as db:
            db.run(
                "INSERT INTO shared_secrets (name, value, created_at) VALUES (:name, :value, :at) "
                "ON CONFLICT (name) DO NOTHING",
                {"name": name, "value": make(), "at": time.time()},
            )
            return str(
                db.scalar("SELECT value FROM shared_secrets WHERE name = :name", {"name": name})
            )

    # -- stories changed on one server, announced to all ---------------------------------------

    def announce_stories(self, slugs: Iterable[str]) -> None:
        """Tell every server that these stories changed on disk (PostgreSQL NOTIFY), so
        each re-reads them at once instead of at its next poll. SQLite: one server, and
        its watcher sees the change, so there is nothing to do."""
        slugs = sorted(set(slugs))
        if not self.is_postgres or not slugs:
            return
        with self._engine().connect() as conn, conn.begin():
            for slug in slugs:
                conn.execute(
                    sa.text("SELECT pg_notify(:channel, :slug)"),
                    {"channel": STORY_CHANNEL, "slug": slug},
                )

    def listen_for_stories(
        self,
        changed: Callable[[list[str]], object],
        connected: Callable[[], object],
        stop: threading.Event,
        retry_seconds: float = 2.0,
    ) -> None:
        """Until `stop` is set: call `changed(slugs)` for stories another server announced.

        Each time the listening connection is (re)made, `connected()` runs first: what
        was announced while nobody listened is lost, so the caller rescans. When
        PostgreSQL is away, try again every `retry_seconds`.
        """
        import psycopg

        conninfo = sa.make_url(self.url).set(drivername="postgresql")
        dsn = conninfo.render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {STORY_CHANNEL}")
                    connected()
                    while not stop.is_set():
                        # Each announcement at once; the timeout only lets `stop` be seen.
                        for note in conn.notifies(timeout=1.0):
                            changed([note.payload])
            except psycopg.Error as exc:
                log.warning("not hearing other servers' changes (%s); retrying", exc)
            except Exception:
                log.exception("listening for other servers' changes")
            stop.wait(retry_seconds)

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
            known = db.one("SELECT last_seen FROM screens WHERE name = :name", {"name": screen})
            if (
                new_screens is not None
                and known is None
                and not self._take(db, f"new screen:{address}", *new_screens, now)
            ):
                return False
            # playlist_since moves only when the playlist does (NULL-safe).
            db.run(
                """INSERT INTO screens (name, story, playlist, uptime, started_at, last_seen,
                                        address, user_agent, playlist_since)
                   VALUES (:name, :story, :playlist, :uptime, :started_at, :now,
                           :address, :user_agent, :now)
                   ON CONFLICT (name) DO UPDATE SET story = excluded.story,
                       playlist_since = CASE
                           WHEN screens.playlist IS NOT DISTINCT FROM excluded.playlist
                           THEN COALESCE(screens.playlist_since, excluded.playlist_since)
                           ELSE excluded.playlist_since END,
                       playlist = excluded.playlist, uptime = excluded.uptime,
                       started_at = excluded.started_at, last_seen = excluded.last_seen,
                       address = excluded.address, user_agent = excluded.user_agent""",
                {
                    "name": screen,
                    "story": story,
                    "playlist": playlist,
                    "uptime": uptime,
                    "started_at": now - uptime,
                    "now": now,
                    "address": address,
                    "user_agent": user_agent,
                },
            )
            counted = [(slug, screen, n) for slug, n in shown.items() if n > 0]
            db.many(
                """INSERT INTO displays (slug, screen, shown) VALUES (:slug, :screen, :shown)
                   ON CONFLICT (slug, screen) DO UPDATE
                   SET shown = displays.shown + excluded.shown""",
                [{"slug": slug, "screen": on, "shown": n} for slug, on, n in counted],
            )
            alive = 0.0 if known is None else min(now - known["last_seen"], uptime, alive_max)
            self._add_shown(db, day, counted, {screen: max(alive, 0.0)})
        if keep_days is not None and self._folded_on != day:
            self.fold_display_days(keep_days, now=now)
            self._folded_on = day
        return True

    def screens(self) -> list[Row]:
        """Every screen heard from, by name, with how many showings it has counted."""
        return self.query(
            "SELECT screens.*, (SELECT CAST(COALESCE(SUM(shown), 0) AS BIGINT) FROM displays "
            "WHERE displays.screen = screens.name) AS shown FROM screens ORDER BY name"
        )

    def rename_screen(self, old: str, new: str, *, actor: str = "") -> bool:
        """Call a screen by a new name, its display counts with it; False if it is unknown.

        When a screen called `new` exists already (the same TV, back under the
        name its URL now gives), the two become one: counts add up, and the
        one heard from last says what is on it. With an `actor`, the audit
        record is written in the same transaction.
        """
        names = {"old": old, "new": new}
        with self.transaction() as db:
            row = db.one("SELECT last_seen FROM screens WHERE name = :old", names)
            if row is None:
                return False
            if old == new:
                return True
            if actor:
                self._audit(db, actor, "renamed a screen", None, f"from {old} to {new}")
            other = db.one("SELECT last_seen FROM screens WHERE name = :new", names)
            if other is not None:
                older = old if other["last_seen"] >= row["last_seen"] else new
                db.run("DELETE FROM screens WHERE name = :name", {"name": older})
            db.run("UPDATE screens SET name = :new WHERE name = :old", names)
            keys = {
                "displays": "slug",
                "displays_daily": "day, slug",
                "displays_monthly": "month, slug",
            }
            for table, key in keys.items():
                db.run(
                    f"INSERT INTO {table} ({key}, screen, shown) "
                    f"SELECT {key}, :new, shown FROM {table} WHERE screen = :old "
                    f"ON CONFLICT ({key}, screen) DO UPDATE "
                    f"SET shown = {table}.shown + excluded.shown",
                    names,
                )
                db.run(f"DELETE FROM {table} WHERE screen = :old", names)
            db.run(
                "INSERT INTO screen_days (day, screen, shown, seconds) "
                "SELECT day, :new, shown, seconds FROM screen_days WHERE screen = :old "
                "ON CONFLICT (day, screen) DO UPDATE "
                "SET shown = screen_days.shown + excluded.shown, "
                "seconds = screen_days.seconds + excluded.seconds",
                names,
            )
            db.run("DELETE FROM screen_days WHERE screen = :old", names)
        return True

    def forget_screen(self, name: str, *, counts: bool = False, actor: str = "") -> bool:
        """Take a screen off the list (and, with `counts`, what it showed); False if unknown.

        A kiosk still running under that name comes back with its next heartbeat.
        With an `actor`, the audit record is written in the same transaction.
        """
        screen = {"screen": name}
        with self.transaction() as db:
            if db.run("DELETE FROM screens WHERE name = :screen", screen) != 1:
                return False
            if counts:
                db.run("DELETE FROM displays WHERE screen = :screen", screen)
                # Its share of each story's daily sums goes too.
                db.run(
                    """UPDATE story_days SET shown = shown - (SELECT SUM(d.shown)
                           FROM displays_daily AS d WHERE d.day = story_days.day
                           AND d.slug = story_days.slug AND d.screen = :screen)
                       WHERE EXISTS (SELECT 1 FROM displays_daily AS d WHERE d.day =
                           story_days.day AND d.slug = story_days.slug AND d.screen = :screen)""",
                    screen,
                )
                for table in ("displays_daily", "displays_monthly", "screen_days"):
                    db.run(f"DELETE FROM {table} WHERE screen = :screen", screen)
            if actor:
                detail = name + (", and what it has shown" if counts else "")
                self._audit(db, actor, "forgot a screen", None, detail)
        return True

    def screens_heard_since(self, since: float) -> list[Row]:
        """Screens whose last heartbeat came after `since`, by name: the playlist each
        holds and when it first reported it (`playlist_since`)."""
        return self.query(
            "SELECT name, last_seen, playlist, playlist_since FROM screens "
            "WHERE last_seen > :since ORDER BY name",
            {"since": since},
        )

    # -- playlists: what each one sent to the screens held ---------------------------

    def remember_playlist(self, etag: str, slugs: Iterable[str], now: float | None = None) -> None:
        """Remember which stories the playlist `etag` holds, and forget old ones.

        Called each time a worker builds a playlist body (once per index
        version and screen), so one still in use is remembered again.
        """
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.run(
                """INSERT INTO playlists (etag, slugs, built_at) VALUES (:etag, :slugs, :now)
                   ON CONFLICT (etag) DO UPDATE SET built_at = excluded.built_at""",
                {
                    "etag": etag,
                    "slugs": json.dumps(sorted(set(slugs)), separators=(",", ":")),
                    "now": now,
                },
            )
            db.run(
                """DELETE FROM playlists WHERE built_at < :before AND etag NOT IN
                   (SELECT playlist FROM screens WHERE playlist IS NOT NULL)""",
                {"before": now - PLAYLIST_MEMORY_SECONDS},
            )

    def playlist_slugs(self, etag: str) -> frozenset[str] | None:
        """The stories the playlist `etag` holds; None if it is not (or no longer) known."""
        rows = self.query("SELECT slugs FROM playlists WHERE etag = :etag", {"etag": etag})
        return frozenset(json.loads(rows[0]["slugs"])) if rows else None

    def display_counts(self, slug: str) -> tuple[int, int]:
        """How many times a story was shown, and on how many screens."""
        row = self.query(
            "SELECT COALESCE(SUM(shown), 0) AS shown, COUNT(*) AS screens "
            "FROM displays WHERE slug = :slug AND shown > 0",
            {"slug": slug},
        )[0]
        return int(row["shown"]), int(row["screens"])

    # -- displays with time in them: per story, screen and day --------------------------

    @staticmethod
    def _add_shown(
        db: Tx,
        day: str,
        shown: list[tuple[str, str, int]],
        alive: dict[str, float] | None = None,
    ) -> None:
        """Add (slug, screen, count) rows and screens' seconds on to one day's counts."""
        db.many(
            """INSERT INTO displays_daily (day, slug, screen, shown)
               VALUES (:day, :slug, :screen, :shown)
               ON CONFLICT (day, slug, screen) DO UPDATE
               SET shown = displays_daily.shown + excluded.shown""",
            [{"day": day, "slug": slug, "screen": screen, "shown": n} for slug, screen, n in shown],
        )
        per_story: dict[str, int] = {}
        per_screen: dict[str, list[float]] = {s: [0, t] for s, t in (alive or {}).items()}
        for slug, screen, n in shown:
            per_story[slug] = per_story.get(slug, 0) + n
            per_screen.setdefault(screen, [0, 0.0])[0] += n
        db.many(STORY_DAYS_ADD, [{"day": day, "slug": s, "shown": n} for s, n in per_story.items()])
        db.many(
            SCREEN_DAYS_ADD,
            [
                {"day": day, "screen": screen, "shown": int(n), "seconds": t}
                for screen, (n, t) in per_screen.items()
                if n or t
            ],
        )

    def fold_display_days(self, keep_days: int, now: float | None = None) -> int:
        """Fold daily counts older than `keep_days` into monthly ones; how many rows went.

        Whole months only: a month is either all its days or one row, so a
        period that starts on the first of a month adds up the same either way.
        """
        now = self.clock() if now is None else now
        oldest = dt.date.fromtimestamp(now) - dt.timedelta(days=keep_days)
        before = {"before": oldest.replace(day=1).isoformat()}
        month = "substr(day, 1, 8) || '01'"
        with self.transaction() as db:
            db.run(
                f"""INSERT INTO displays_monthly (month, slug, screen, shown)
                   SELECT {month}, slug, screen, SUM(shown) FROM displays_daily
                   WHERE day < :before GROUP BY {month}, slug, screen
                   ON CONFLICT (month, slug, screen) DO UPDATE
                   SET shown = displays_monthly.shown + excluded.shown""",
                before,
            )
            moved = db.run("DELETE FROM displays_daily WHERE day < :before", before)
            # The sums become one row on the first of each month; rows folded
            # before are that row already, and are left alone.
            days = "day < :before AND substr(day, 9) != '01'"
            stories = db.all(
                f"SELECT {month} AS day, slug, CAST(SUM(shown) AS BIGINT) AS shown "
                f"FROM story_days WHERE {days} GROUP BY {month}, slug",
                before,
            )
            screens = db.all(
                f"SELECT {month} AS day, screen, CAST(SUM(shown) AS BIGINT) AS shown, "
                f"SUM(seconds) AS seconds FROM screen_days WHERE {days} GROUP BY {month}, screen",
                before,
            )
            moved += db.run(f"DELETE FROM story_days WHERE {days}", before)
            moved += db.run(f"DELETE FROM screen_days WHERE {days}", before)
            db.many(STORY_DAYS_ADD, [dict(r) for r in stories])
            db.many(SCREEN_DAYS_ADD, [dict(r) for r in screens])
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

    def displays_per_story(self, first: str, last: str) -> list[Row]:
        """Per story shown in the period: slug, shown; the most shown first."""
        return self.query(
            "SELECT slug, CAST(SUM(shown) AS BIGINT) AS shown FROM story_days "
            "WHERE day >= :first AND day <= :last GROUP BY slug ORDER BY shown DESC, slug",
            {"first": first, "last": last},
        )

    def displays_per_day(self, first: str, last: str) -> list[Row]:
        """Per day in the period: day, shown, screens (how many showed anything)."""
        return self.query(
            "SELECT day, CAST(SUM(shown) AS BIGINT) AS shown, "
            "CAST(SUM(CASE WHEN shown > 0 THEN 1 ELSE 0 END) AS BIGINT) AS screens "
            "FROM screen_days WHERE day >= :first AND day <= :last "
            "GROUP BY day HAVING SUM(shown) > 0 ORDER BY day",
            {"first": first, "last": last},
        )

    def screens_showing(self, first: str, last: str) -> int:
        """How many screens showed anything in the period."""
        return int(
            self.query(
                "SELECT COUNT(DISTINCT screen) AS n FROM screen_days "
                "WHERE day >= :first AND day <= :last AND shown > 0",
                {"first": first, "last": last},
            )[0]["n"]
        )

    def screen_seconds(self, first: str, last: str) -> float:
        """Seconds the screens were on in the period, added up."""
        return float(
            self.query(
                "SELECT COALESCE(SUM(seconds), 0) AS seconds FROM screen_days "
                "WHERE day >= :first AND day <= :last",
                {"first": first, "last": last},
            )[0]["seconds"]
        )

    def proof_of_play(self, first: str, last: str, slug: str | None = None) -> list[Row]:
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
        return self.query("SELECT MIN(day) AS day FROM screen_days")[0]["day"]

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
                names = {"old": renamed[0], "new": renamed[1]}
                db.run("UPDATE consent_links SET slug = :new WHERE slug = :old", names)
                db.run("UPDATE consent_records SET slug = :new WHERE slug = :old", names)

    def _audit(self, db: Tx, actor: str, action: str, slug: str | None, detail: str) -> None:
        db.run(
            "INSERT INTO audit (at, actor, action, slug, detail) "
            "VALUES (:at, :actor, :action, :slug, :detail)",
            {"at": self.clock(), "actor": actor, "action": action, "slug": slug, "detail": detail},
        )

    def audit_events(self, actions: tuple[str, ...], until: float, since: float = 0.0) -> list[Row]:
        """Records of `actions` from `since` up to (not including) `until`, oldest first:
        at, action, slug, actor, detail."""
        return self.query(
            "SELECT at, action, slug, actor, detail FROM audit WHERE action IN :actions "
            "AND at >= :since AND at < :until ORDER BY at, id",
            {"actions": list(actions), "since": since, "until": until},
        )

    def last_audit_time(self, slug: str, actions: tuple[str, ...]) -> float | None:
        """When one of `actions` was last recorded for a story, if ever."""
        rows = self.query(
            "SELECT MAX(at) AS at FROM audit WHERE slug = :slug AND action IN :actions",
            {"slug": slug, "actions": list(actions)},
        )
        return rows[0]["at"] if rows and rows[0]["at"] is not None else None

    def audit_log(self, slug: str | None = None, limit: int = 200) -> list[Row]:
        if slug is None:
            return self.query("SELECT * FROM audit ORDER BY id DESC LIMIT :limit", {"limit": limit})
        return self.query(
            "SELECT * FROM audit WHERE slug = :slug ORDER BY id DESC LIMIT :limit",
            {"slug": slug, "limit": limit},
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
        link = {
            "token_hash": token_hash,
            "slug": slug,
            "now": now,
            "created_by": created_by,
            "expires_at": expires_at,
        }
        with self.transaction() as db:
            db.run(
                "UPDATE consent_links SET revoked_at = :now "
                "WHERE slug = :slug AND revoked_at IS NULL",
                link,
            )
            db.run(
                "INSERT INTO consent_links (token_hash, slug, created_at, created_by, expires_at) "
                "VALUES (:token_hash, :slug, :now, :created_by, :expires_at)",
                link,
            )
            self._audit(db, created_by, "customer link made", slug, "older links stopped")

    def consent_link(self, token_hash: str) -> Row | None:
        rows = self.query(
            "SELECT * FROM consent_links WHERE token_hash = :token_hash", {"token_hash": token_hash}
        )
        return rows[0] if rows else None

    def current_consent_link(self, slug: str) -> Row | None:
        """The story's newest link that has not been revoked, if any."""
        rows = self.query(
            "SELECT * FROM consent_links WHERE slug = :slug AND revoked_at IS NULL "
            "ORDER BY created_at DESC LIMIT 1",
            {"slug": slug},
        )
        return rows[0] if rows else None

    def revoke_consent_links(self, slug: str, actor: str, now: float | None = None) -> bool:
        """Stop every link of a story; False if it had none working."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            revoked = db.run(
                "UPDATE consent_links SET revoked_at = :now "
                "WHERE slug = :slug AND revoked_at IS NULL",
                {"now": now, "slug": slug},
            )
            if revoked:
                self._audit(db, actor, "customer link revoked", slug, "")
        return revoked > 0

    def link_opened(self, token_hash: str, now: float | None = None) -> None:
        """Note that the customer opened their link: the first time, it is 'opened'."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.run(
                "UPDATE consent_links SET opened_at = COALESCE(opened_at, :now), "
                "state = CASE state WHEN 'not opened' THEN 'opened' ELSE state END, "
                "state_at = CASE state WHEN 'not opened' THEN :now ELSE state_at END "
                "WHERE token_hash = :token_hash",
                {"now": now, "token_hash": token_hash},
            )

    def statement_version(self, text: str, now: float | None = None) -> int:
        """The version number of a consent statement's text; a new text gets the next one."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.run(
                "INSERT INTO consent_statements (text, created_at) VALUES (:text, :now) "
                "ON CONFLICT (text) DO NOTHING",
                {"text": text, "now": now},
            )
            return int(
                db.scalar(
                    "SELECT version FROM consent_statements WHERE text = :text", {"text": text}
                )
            )

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
        record = {
            "slug": slug,
            "at": now,
            "event": event,
            **{k: fields.get(k) for k in ("statement_version", "statement_text", "content_hash")},
            **{k: _json(fields.get(k)) for k in ("content", "choices", "changes")},
            **{k: fields.get(k) for k in ("signature", "address", "user_agent")},
        }
        with self.transaction() as db:
            record_id = db.scalar(
                "INSERT INTO consent_records (slug, at, event, statement_version, "
                "statement_text, content_hash, content, choices, signature, changes, address, "
                "user_agent) VALUES (:slug, :at, :event, :statement_version, :statement_text, "
                ":content_hash, :content, :choices, :signature, :changes, :address, :user_agent) "
                "RETURNING id",
                record,
            )
            if token_hash is not None and link_state is not None:
                db.run(
                    "UPDATE consent_links SET state = :state, state_at = :now "
                    "WHERE token_hash = :token_hash",
                    {"state": link_state, "now": now, "token_hash": token_hash},
                )
            self._audit(db, actor, f"customer {event}", slug, detail)
        return int(record_id or 0)

    def consent_records(self, slug: str) -> list[Row]:
        """Every answer the story's customer gave, oldest first."""
        return self.query(
            "SELECT * FROM consent_records WHERE slug = :slug ORDER BY at, id", {"slug": slug}
        )

    def last_consent_record(self, slug: str, event: str = "consented") -> Row | None:
        rows = self.query(
            "SELECT * FROM consent_records WHERE slug = :slug AND event = :event "
            "ORDER BY at DESC, id DESC LIMIT 1",
            {"slug": slug, "event": event},
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
    def _take(db: Tx, key: str, limit: int, per: float, now: float) -> bool:
        db.run("DELETE FROM rate_hits WHERE expires <= :now", {"now": now})
        used = db.scalar(
            "SELECT COUNT(*) FROM rate_hits WHERE key = :key AND at > :since",
            {"key": key, "since": now - per},
        )
        if used >= limit:
            return False
        db.run(
            "INSERT INTO rate_hits (key, at, expires) VALUES (:key, :now, :expires)",
            {"key": key, "now": now, "expires": now + per},
        )
        return True

    # -- moderator accounts and their sign-ins -------------------------------------------
    # ("user" is quoted: PostgreSQL reserves the word.)

    def add_user(self, name: str, password_hash: str, now: float | None = None) -> bool:
        """Create a moderator account; False if the name is taken."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            added = db.run(
                "INSERT INTO users (name, password_hash, created_at) VALUES (:name, :hash, :now) "
                "ON CONFLICT (name) DO NOTHING",
                {"name": name, "hash": password_hash, "now": now},
            )
        return added == 1

    def set_password(self, name: str, password_hash: str) -> bool:
        """Change a moderator's password, signing them out everywhere."""
        with self.transaction() as db:
            changed = db.run(
                "UPDATE users SET password_hash = :hash WHERE name = :name",
                {"hash": password_hash, "name": name},
            )
            db.run('DELETE FROM logins WHERE "user" = :name', {"name": name})
        return changed == 1

    def get_user(self, name: str) -> Row | None:
        rows = self.query("SELECT * FROM users WHERE name = :name", {"name": name})
        return rows[0] if rows else None

    def users(self) -> list[Row]:
        return self.query(
            "SELECT users.name, users.created_at, users.password_hash, "
            "MAX(logins.created_at) AS last_login "
            'FROM users LEFT JOIN logins ON logins."user" = users.name '
            "GROUP BY users.name, users.created_at, users.password_hash ORDER BY users.name"
        )

    def remove_user(self, name: str) -> bool:
        """Delete a moderator account and end its sessions."""
        with self.transaction() as db:
            removed = db.run("DELETE FROM users WHERE name = :name", {"name": name})
            db.run('DELETE FROM logins WHERE "user" = :name', {"name": name})
        return removed == 1

    def start_login(
        self, token_hash: str, user: str, address: str | None = None, now: float | None = None
    ) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.run(
                'INSERT INTO logins (token_hash, "user", created_at, address) '
                "VALUES (:token_hash, :user, :now, :address)",
                {"token_hash": token_hash, "user": user, "now": now, "address": address},
            )

    def login_user(self, token_hash: str, max_age: float, now: float | None = None) -> str | None:
        """The moderator a session belongs to, while it is young enough and they exist."""
        now = time.time() if now is None else now
        rows = self.query(
            'SELECT logins."user" AS name FROM logins JOIN users ON users.name = logins."user" '
            "WHERE logins.token_hash = :token_hash AND logins.created_at > :since",
            {"token_hash": token_hash, "since": now - max_age},
        )
        return rows[0]["name"] if rows else None

    def end_login(self, token_hash: str, max_age: float = 30 * 86400.0) -> None:
        """Sign one session out, and forget sessions too old to be used."""
        with self.transaction() as db:
            db.run("DELETE FROM logins WHERE token_hash = :token_hash", {"token_hash": token_hash})
            db.run(
                "DELETE FROM logins WHERE created_at < :before", {"before": time.time() - max_age}
            )

    # -- notifications: the outbox -----------------------------------------------------------

    def enqueue_notifications(
        self, messages: Iterable[Mapping[str, object]], now: float | None = None
    ) -> int:
        """Queue messages (dicts of outbox columns) at once; one already queued under the
        same dedupe_key is left as it is. Returns how many were new."""
        now = time.time() if now is None else now
        added = 0
        with self.transaction() as db:
            for message in messages:
                added += db.run(OUTBOX_INSERT, _outbox_row(message, now))
        return added

    def claim_notification(
        self, worker: str, lease_seconds: float, now: float | None = None
    ) -> Row | None:
        """Take the next due delivery for `worker`, or one whose sender's lease ran out.

        Under the write lock, so of several workers (or servers) asking at once,
        each row goes to exactly one; when a sender dies, its lease runs out and
        another takes the row.
        """
        now = time.time() if now is None else now
        with self.transaction() as db:
            row = db.one(
                "SELECT id FROM outbox WHERE (state = 'pending' AND due_at <= :now) "
                "OR (state = 'sending' AND lease_until <= :now) ORDER BY due_at, id LIMIT 1",
                {"now": now},
            )
            if row is None:
                return None
            return db.one(
                "UPDATE outbox SET state = 'sending', claimed_by = :worker, lease_until = :until, "
                "attempts = attempts + 1 WHERE id = :id RETURNING *",
                {"worker": worker, "until": now + lease_seconds, "id": row["id"]},
            )

    def notification_sent(self, message_id: int, worker: str, now: float | None = None) -> bool:
        """Mark a delivery sent; False if `worker` no longer held it (its lease ran out)."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            marked = db.run(
                "UPDATE outbox SET state = 'sent', sent_at = :now, lease_until = NULL, "
                "last_error = NULL WHERE id = :id AND claimed_by = :worker AND state = 'sending'",
                {"now": now, "id": message_id, "worker": worker},
            )
        return marked == 1

    def notification_failed(
        self, message_id: int, worker: str, error: str, retry_at: float | None
    ) -> bool:
        """Keep the error; due again at `retry_at`, or failed for good when it is None."""
        with self.transaction() as db:
            marked = db.run(
                "UPDATE outbox SET state = :state, due_at = COALESCE(:retry_at, due_at), "
                "lease_until = NULL, last_error = :error "
                "WHERE id = :id AND claimed_by = :worker AND state = 'sending'",
                {
                    "state": "pending" if retry_at is not None else "failed",
                    "retry_at": retry_at,
                    "error": error[:2000],
                    "id": message_id,
                    "worker": worker,
                },
            )
        return marked == 1

    def retry_notification(self, message_id: int, actor: str, now: float | None = None) -> bool:
        """Send a failed (or waiting) delivery again now, with a fresh set of retries."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            row = db.one(
                "SELECT channel, recipient, event, slug FROM outbox WHERE id = :id "
                "AND state IN ('failed', 'pending')",
                {"id": message_id},
            )
            if row is None:
                return False
            db.run(
                "UPDATE outbox SET state = 'pending', due_at = :now, attempts = 0, "
                "claimed_by = NULL WHERE id = :id",
                {"now": now, "id": message_id},
            )
            detail = f"{row['event']} by {row['channel']} to {row['recipient']}"
            self._audit(db, actor, "notification retried", row["slug"], detail)
        return True

    def compose_digests(
        self,
        build: Callable[[str, list[Row]], Mapping[str, object]],
        now: float | None = None,
    ) -> int:
        """Fold each recipient's held messages that are due into one digest message, built
        by `build(recipient, rows)`; all under the write lock, so each digest is made once."""
        now = time.time() if now is None else now
        made = 0
        with self.transaction() as db:
            rows = db.all(
                "SELECT * FROM outbox WHERE state = 'held' AND due_at <= :now "
                "ORDER BY recipient, created_at, id",
                {"now": now},
            )
            by_recipient: dict[str, list[Row]] = {}
            for row in rows:
                by_recipient.setdefault(row["recipient"], []).append(row)
            for recipient, held in by_recipient.items():
                digest_id = db.scalar(
                    OUTBOX_INSERT + " RETURNING id", _outbox_row(build(recipient, held), now)
                )
                made += digest_id is not None
                db.run(
                    "UPDATE outbox SET state = 'digested', sent_at = :now, digest_id = :digest "
                    "WHERE id IN :ids",
                    {"now": now, "digest": digest_id, "ids": [row["id"] for row in held]},
                )
        return made

    def outbox(self, states: tuple[str, ...], limit: int = 200) -> list[Row]:
        """Deliveries in `states`, the most recent first."""
        return self.query(
            "SELECT * FROM outbox WHERE state IN :states ORDER BY created_at DESC, id DESC "
            "LIMIT :limit",
            {"states": list(states), "limit": limit},
        )

    def outbox_counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        rows = self.query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}

    def outbox_message(self, dedupe_key: str) -> Row | None:
        rows = self.query("SELECT * FROM outbox WHERE dedupe_key = :key", {"key": dedupe_key})
        return rows[0] if rows else None

    # -- notifications: moderators' addresses and what each wants to hear ------------------

    def set_user_email(self, name: str, email: str) -> bool:
        with self.transaction() as db:
            changed = db.run(
                "UPDATE users SET email = :email WHERE name = :name", {"email": email, "name": name}
            )
        return changed == 1

    def notify_prefs(self, name: str) -> dict[str, str]:
        """The moderator's choice per event (immediate, digest, off); unlisted: the default."""
        rows = self.query(
            'SELECT event, mode FROM notify_prefs WHERE "user" = :name', {"name": name}
        )
        return {row["event"]: row["mode"] for row in rows}

    def set_notify_settings(
        self, name: str, email: str, modes: Mapping[str, str], actor: str
    ) -> bool:
        """Save a moderator's address and their choice per event, and audit it."""
        with self.transaction() as db:
            changed = db.run(
                "UPDATE users SET email = :email WHERE name = :name", {"email": email, "name": name}
            )
            if changed != 1:
                return False
            db.run('DELETE FROM notify_prefs WHERE "user" = :name', {"name": name})
            db.many(
                'INSERT INTO notify_prefs ("user", event, mode) VALUES (:name, :event, :mode)',
                [{"name": name, "event": e, "mode": m} for e, m in sorted(modes.items())],
            )
            detail = f"email {email or 'none'}; " + ", ".join(
                f"{event} {mode}" for event, mode in sorted(modes.items())
            )
            self._audit(db, actor, "notification settings changed", None, detail)
        return True

    def notify_recipients(self, event: str, default: str = "immediate") -> list[Row]:
        """Moderators with an address who hear about `event`: name, email and mode."""
        return self.query(
            "SELECT users.name, users.email, COALESCE(notify_prefs.mode, :default) AS mode "
            "FROM users LEFT JOIN notify_prefs "
            'ON notify_prefs."user" = users.name AND notify_prefs.event = :event '
            "WHERE users.email != '' AND COALESCE(notify_prefs.mode, :default) != 'off' "
            "ORDER BY users.name",
            {"default": default, "event": event},
        )
