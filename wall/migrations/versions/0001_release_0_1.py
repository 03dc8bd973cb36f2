"""The tables as release 0.1 left them, the last release before migrations.

Written so that it also brings a database made by 0.1 (or an earlier
release, with fewer columns) up to this point: tables that exist are kept
with their rows, missing ones are made, and columns added during 0.1's life
are added where they are missing. A new database gets everything here.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Text, Float, Integer = sa.Text, sa.Float, sa.Integer


def col(name: str, kind: type, *, null: bool = True, **kw: object) -> sa.Column:
    return sa.Column(name, kind, nullable=null, **kw)


def zero() -> sa.TextClause:
    return sa.text("0")


Table = tuple[list[sa.Column], list[tuple[str, list[str]]], dict[str, object]]


def tables() -> dict[str, Table]:
    """Each table: its columns, its indexes (name, columns) and its options; new objects
    each call, since a column belongs to the one table it is made for."""
    return {
        "screens": (
            [
                col("name", Text, primary_key=True),
                col("story", Text),
                col("playlist", Text),
                col("uptime", Float),
                col("started_at", Float),
                col("last_seen", Float, null=False),
                col("address", Text),
                col("user_agent", Text),
                col("playlist_since", Float),
            ],
            [],
            {},
        ),
        "displays": (
            [
                col("slug", Text, null=False, primary_key=True),
                col("screen", Text, null=False, primary_key=True),
                col("shown", Integer, null=False, server_default=zero()),
            ],
            [],
            {},
        ),
        "audit": (
            [
                col("id", Integer, primary_key=True, autoincrement=True),
                col("at", Float, null=False),
                col("actor", Text, null=False),
                col("action", Text, null=False),
                col("slug", Text),
                col("detail", Text),
            ],
            [("audit_slug", ["slug", "at"])],
            {"sqlite_autoincrement": True},
        ),
        "users": (
            [
                col("name", Text, primary_key=True),
                col("password_hash", Text, null=False),
                col("created_at", Float, null=False),
                col("email", Text, null=False, server_default=sa.text("''")),
            ],
            [],
            {},
        ),
        "rate_hits": (
            [
                col("key", Text, null=False),
                col("at", Float, null=False),
                col("expires", Float, null=False),
            ],
            [("rate_hits_key", ["key", "at"]), ("rate_hits_expires", ["expires"])],
            {},
        ),
        "logins": (
            [
                col("token_hash", Text, primary_key=True),
                col("user", Text, null=False),
                col("created_at", Float, null=False),
                col("address", Text),
            ],
            [("logins_user", ["user"])],
            {},
        ),
        "playlists": (
            [
                col("etag", Text, primary_key=True),
                col("slugs", Text, null=False),
                col("built_at", Float, null=False),
            ],
            [("playlists_built_at", ["built_at"])],
            {},
        ),
        "consent_links": (
            [
                col("token_hash", Text, primary_key=True),
                col("slug", Text, null=False),
                col("created_at", Float, null=False),
                col("created_by", Text, null=False),
                col("expires_at", Float, null=False),
                col("revoked_at", Float),
                col("opened_at", Float),
                col("state", Text, null=False, server_default=sa.text("'not opened'")),
                col("state_at", Float),
            ],
            [("consent_links_slug", ["slug", "created_at"])],
            {},
        ),
        "consent_statements": (
            [
                col("version", Integer, primary_key=True, autoincrement=True),
                col("text", Text, null=False, unique=True),
                col("created_at", Float, null=False),
            ],
            [],
            {"sqlite_autoincrement": True},
        ),
        "consent_records": (
            [
                col("id", Integer, primary_key=True, autoincrement=True),
                col("slug", Text, null=False),
                col("at", Float, null=False),
                col("event", Text, null=False),
                col("statement_version", Integer),
                col("statement_text", Text),
                col("content_hash", Text),
                col("content", Text),
                col("choices", Text),
                col("signature", Text),
                col("changes", Text),
                col("address", Text),
                col("user_agent", Text),
            ],
            [("consent_records_slug", ["slug", "at"])],
            {"sqlite_autoincrement": True},
        ),
        "outbox": (
            [
                col("id", Integer, primary_key=True, autoincrement=True),
                col("dedupe_key", Text, null=False, unique=True),
                col("channel", Text, null=False),
                col("recipient", Text, null=False),
                col("event", Text, null=False),
                col("slug", Text),
                col("subject", Text, null=False, server_default=sa.text("''")),
                col("body_text", Text, null=False, server_default=sa.text("''")),
                col("body_html", Text),
                col("payload", Text),
                col("message_id", Text, null=False),
                col("created_at", Float, null=False),
                col("due_at", Float, null=False),
                col("state", Text, null=False, server_default=sa.text("'pending'")),
                col("attempts", Integer, null=False, server_default=zero()),
                col("claimed_by", Text),
                col("lease_until", Float),
                col("sent_at", Float),
                col("last_error", Text),
                col("digest_id", Integer),
            ],
            [("outbox_due", ["state", "due_at"])],
            {"sqlite_autoincrement": True},
        ),
        "notify_prefs": (
            [
                col("user", Text, null=False, primary_key=True),
                col("event", Text, null=False, primary_key=True),
                col("mode", Text, null=False),
            ],
            [],
            {},
        ),
        # Display counts with time in them (see wall/db.py); keys start with the day.
        "displays_daily": (
            [
                col("day", Text, null=False, primary_key=True),
                col("slug", Text, null=False, primary_key=True),
                col("screen", Text, null=False, primary_key=True),
                col("shown", Integer, null=False, server_default=zero()),
            ],
            [],
            {"sqlite_with_rowid": False},
        ),
        "displays_monthly": (
            [
                col("month", Text, null=False, primary_key=True),
                col("slug", Text, null=False, primary_key=True),
                col("screen", Text, null=False, primary_key=True),
                col("shown", Integer, null=False, server_default=zero()),
            ],
            [],
            {"sqlite_with_rowid": False},
        ),
        "story_days": (
            [
                col("day", Text, null=False, primary_key=True),
                col("slug", Text, null=False, primary_key=True),
                col("shown", Integer, null=False, server_default=zero()),
            ],
            [],
            {"sqlite_with_rowid": False},
        ),
        "screen_days": (
            [
                col("day", Text, null=False, primary_key=True),
                col("screen", Text, null=False, primary_key=True),
                col("shown", Integer, null=False, server_default=zero()),
                col("seconds", Float, null=False, server_default=zero()),
            ],
            [],
            {"sqlite_with_rowid": False},
        ),
    }


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    if "rate_limits" in existing:  # fixed windows, replaced by rate_hits before 0.1
        op.drop_table("rate_limits")
    for name, (columns, indexes, options) in tables().items():
        if name not in existing:
            op.create_table(name, *columns, **options)
            for index, on in indexes:
                op.create_index(index, name, on)
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in columns:
            if column.name not in have:  # added during 0.1's life
                op.add_column(name, column)
    _date_running_totals(bind)


def _date_running_totals(bind: sa.Connection) -> None:
    # A database from before daily counts has only running totals per story and
    # screen. They become one row each, dated the day of the upgrade, so nothing
    # shown is lost (the impact page's notes say so).
    dated = bind.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM displays_daily) "
            "OR EXISTS (SELECT 1 FROM displays_monthly)"
        )
    ).scalar()
    if dated:
        return
    day = {"day": dt.date.today().isoformat()}
    bind.execute(
        sa.text(
            "INSERT INTO displays_daily (day, slug, screen, shown) "
            "SELECT :day, slug, screen, shown FROM displays WHERE shown > 0"
        ),
        day,
    )
    bind.execute(
        sa.text(
            "INSERT INTO story_days (day, slug, shown) "
            "SELECT :day, slug, SUM(shown) FROM displays WHERE shown > 0 GROUP BY slug"
        ),
        day,
    )
    bind.execute(
        sa.text(
            "INSERT INTO screen_days (day, screen, shown, seconds) "
            "SELECT :day, screen, SUM(shown), 0 FROM displays WHERE shown > 0 GROUP BY screen"
        ),
        day,
    )
