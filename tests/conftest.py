"""Shared fixtures: a fresh stories folder, instance folder and app for every test."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from werkzeug.security import generate_password_hash

from wall import create_app

TODAY = dt.date.today()


def story_text(body: str = "A story worth telling.", **fields: object) -> str:
    """A story file: an approved, consented story unless `fields` say otherwise."""
    front: dict[str, object] = {
        "name": "Maria Alvarez",
        "role": "Swing-shift foreman",
        "company": "Ridgeway Foundry",
        "quote": "When your part runs late, my crew goes home late.",
        "kind": "story",
        "date": (TODAY - dt.timedelta(days=30)).isoformat(),
        "status": "approved",
        "consent": {
            "given_by": "Maria Alvarez",
            "date": (TODAY - dt.timedelta(days=40)).isoformat(),
            "scope": ["hallway", "intranet"],
        },
    }
    for key, value in fields.items():
        if value is None:
            front.pop(key, None)
        else:
            front[key] = value
    return f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n{body}\n"


@pytest.fixture
def stories(tmp_path: Path) -> Path:
    folder = tmp_path / "stories"
    folder.mkdir()
    return folder


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


WriteStory = Callable[..., Path]


@pytest.fixture
def write_story(stories: Path) -> WriteStory:
    """Write a story as a bundle (default) or a single file; return its path."""

    def write(
        slug: str, body: str = "A story worth telling.", *, single: bool = False, **fields: object
    ) -> Path:
        if single:
            path = stories / f"{slug}.md"
        else:
            (stories / slug).mkdir(exist_ok=True)
            path = stories / slug / "index.md"
        path.write_text(story_text(body, **fields), encoding="utf-8")
        return path

    return write


# -- the database: SQLite, and for modules marked `both_engines` PostgreSQL too -----------------
#
# A module with `pytestmark = pytest.mark.both_engines` runs each test that uses the
# database twice: on SQLite in the instance folder, and on a fresh database of a
# real PostgreSQL server (the distribution's, started once per run as its own
# user). A test marked `sqlite_only` checks something only SQLite has (its file,
# a full disk under it) and runs once.

ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_engines") is not None
        only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("engine", ENGINES if both and not only else ENGINES[:1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A real PostgreSQL server for the whole run, with the wall's tables in a template."""
    from wall.db import Database
    from wall.devcluster import Postgres

    server = Postgres(durable=False).start()
    try:
        Database(server.create_database("storywall_template")).close()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(server.folder, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def database_url(engine: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """Empty for SQLite (the instance folder's file); else a fresh PostgreSQL database."""
    if engine == "sqlite":
        yield ""
        return
    server = request.getfixturevalue("postgres")
    name = f"test_{os.getpid()}_{next(_databases)}"
    url = server.create_database(name, template="storywall_template")
    yield url
    server.drop_database(name)


@pytest.fixture
def db_target(database_url: str, tmp_path: Path) -> str | Path:
    """Where a test's Database lives: a PostgreSQL URL, or a SQLite file."""
    return database_url or tmp_path / "storywall.db"


@pytest.fixture
def app(stories: Path, instance: Path, database_url: str):
    app = create_app(
        {
            "STORIES_DIR": str(stories),
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "WATCH": "off",
            "TESTING": True,
        }
    )
    yield app
    app.extensions["storywall"].db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def index(app):
    return app.extensions["storywall"].index


@pytest.fixture(autouse=True)
def _no_wall_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests build their own settings; an operator's WALL_* must not leak in.
    for key in list(os.environ):
        if key.startswith("WALL_"):
            monkeypatch.delenv(key)


# -- moderation: accounts, sign-in and CSRF tokens, as a browser has them ------------------

MODERATOR = ("alex", "correct horse battery staple")


def csrf_token(client, path: str = "/login") -> str:  # type: ignore[no-untyped-def]
    """The CSRF token in the form on `path`, read from the page as a browser would."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


@pytest.fixture
def moderator(app) -> tuple[str, str]:
    """A moderator account (a fast hash: the tests do not need a slow one)."""
    name, password = MODERATOR
    app.extensions["storywall"].db.add_user(
        name, generate_password_hash(password, method="pbkdf2:sha256:1000")
    )
    return name, password


@pytest.fixture
def admin_client(app, moderator):
    """A test client signed in as the moderator."""
    client = app.test_client()
    name, password = moderator
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "name": name, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """The system Chromium, driven by Playwright, once per test module.

    Never skipped: without Chromium the browser tests fail; `make test` installs it.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, LAUNCH_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()
