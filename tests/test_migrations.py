"""The schema: made new at this release's revision, and a real database left by
release 0.1 (before migrations) upgraded in place with nothing lost."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.support import upgrade_at_once
from wall.cli import main
from wall.db import Database, NeedsUpgrade, head_revision

pytestmark = pytest.mark.both_engines

# Made by release 0.1's own code, with a row in every table (tests/data/README.md).
RELEASE_0_1 = Path(__file__).parent / "data" / "storywall-0.1.db"
TABLES = [
    "users",
    "logins",
    "screens",
    "displays",
    "displays_daily",
    "displays_monthly",
    "story_days",
    "screen_days",
    "audit",
    "rate_hits",
    "consent_links",
    "consent_statements",
    "consent_records",
    "outbox",
    "notify_prefs",
    "playlists",
]


def old_database(tmp_path: Path) -> Path:
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(RELEASE_0_1, instance / "storywall.db")
    return instance / "storywall.db"


def rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}


def schema(db: Database) -> dict[str, list[str]]:
    """Each table's columns, in order, with their types reduced to what both engines share."""
    with db.engine.connect() as conn:
        inspector = sa.inspect(conn)
        return {
            table: [c["name"] for c in inspector.get_columns(table)]
            for table in sorted(inspector.get_table_names())
            if table != "alembic_version"
        }


def cli(*args: str, instance: Path, database_url: str = ""):  # type: ignore[no-untyped-def]
    env = {"WALL_INSTANCE_PATH": str(instance), "WALL_DATABASE_URL": database_url}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.sqlite_only
def test_a_release_0_1_database_is_refused_until_upgraded_then_keeps_every_row(
    tmp_path: Path,
) -> None:
    path = old_database(tmp_path)
    before = rows(path)
    assert all(before[t] for t in TABLES if t != "displays_monthly"), "the fixture fills each"

    with pytest.raises(NeedsUpgrade, match="run `storywall db upgrade`"):
        Database(path)
    status = cli("db", "status", instance=path.parent)
    assert status.exit_code == 1 and "made before 0.2" in status.output
    refused = cli("serve", "--stories", str(tmp_path), instance=path.parent)
    assert refused.exit_code == 1
    assert "needs revision" in refused.output and "storywall db upgrade" in refused.output
    assert rows(path) == before  # refusing changed nothing

    upgraded = cli("db", "upgrade", instance=path.parent)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"to revision {head_revision()}" in upgraded.output
    assert rows(path) == before  # every row of every table, as it was
    assert cli("db", "status", instance=path.parent).exit_code == 0
    again = cli("db", "upgrade", instance=path.parent)
    assert "up to date" in again.output and rows(path) == before

    db = Database(path)  # what the server opens now
    assert db.get_user("maria")["email"] == "maria@example.com"
    assert db.login_user("a" * 64, max_age=1e12) == "maria"
    assert [r["action"] for r in db.audit_log("maria-dayton")][-1] == "approved"
    assert db.consent_records("maria-dayton")[0]["signature"] == "Maria A."
    assert db.outbox_counts() == {"pending": 1}
    assert db.shared_secret("session", lambda: "new") == "new"  # the table 0.2 added
    db.close()


@pytest.mark.sqlite_only
def test_an_upgraded_database_has_the_same_tables_as_a_new_one(tmp_path: Path) -> None:
    upgraded = Database(old_database(tmp_path), upgrade=True)
    new = Database(tmp_path / "new.db")
    assert schema(upgraded) == schema(new)
    upgraded.close(), new.close()


def test_a_new_database_is_made_at_this_releases_revision(db_target) -> None:  # type: ignore[no-untyped-def]
    db = Database(db_target)
    status = db.status()
    assert status["revision"] == head_revision() and status["up_to_date"]
    assert set(TABLES) | {"shared_secrets"} <= set(schema(db))
    db.close()


def test_this_release_needs_the_newest_migration(db_target) -> None:  # type: ignore[no-untyped-def]
    """The revision a start checks for without Alembic is the newest migration's,
    and the database's is read as Alembic itself reads it."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from wall.db import _alembic_config

    assert head_revision() == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    db = Database(db_target)
    with db.transaction() as tx:
        assert db.revision() == MigrationContext.configure(tx.conn).get_current_revision()
    db.close()


def test_both_engines_make_the_same_tables(db_target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, sqlite = Database(db_target), Database(tmp_path / "reference.db")
    assert schema(db) == schema(sqlite)
    db.close(), sqlite.close()


def test_servers_upgrading_at_once_upgrade_once(db_target) -> None:  # type: ignore[no-untyped-def]
    assert upgrade_at_once(db_target, 4) == []
    db = Database(db_target)
    assert db.revision() == head_revision()
    db.close()


def test_the_session_key_is_made_once_and_shared(db_target) -> None:  # type: ignore[no-untyped-def]
    one, two = Database(db_target), Database(db_target)
    first = one.shared_secret("session", lambda: "made by one")
    assert two.shared_secret("session", lambda: "made by two") == first == "made by one"
    one.close(), two.close()


def test_db_status_names_the_database_without_its_password(
    instance: Path, database_url: str
) -> None:
    url = database_url.replace("postgres@", "postgres:hunter2@") if database_url else ""
    assert cli("db", "upgrade", instance=instance, database_url=url).exit_code == 0
    status = cli("db", "status", instance=instance, database_url=url)
    assert status.exit_code == 0 and "up to date" in status.output
    assert "hunter2" not in status.output
    assert ("PostgreSQL" if url else "SQLite") in status.output
