"""Shared fixtures: a fresh stories folder, instance folder and app for every test."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

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


@pytest.fixture
def app(stories: Path, instance: Path):
    app = create_app(
        {
            "STORIES_DIR": str(stories),
            "INSTANCE_PATH": str(instance),
            "WATCH": "off",
            "TESTING": True,
        }
    )
    yield app


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
