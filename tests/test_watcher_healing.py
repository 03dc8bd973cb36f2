"""The watcher heals itself: a dead observer, a folder deleted and recreated,
a symlink swapped the way deploy tools do it, and polling for network shares."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import story_text
from tests.test_watcher import roles, wait_until
from wall.index import StoryIndex
from wall.watcher import StoryWatcher

HEAL_BOUND = 5.0  # the watcher checks itself about once a second


@pytest.fixture
def watcher(stories: Path):
    index = StoryIndex(stories)
    index.load()
    watcher = StoryWatcher(index)
    watcher.start()
    yield watcher
    watcher.stop()


def test_a_killed_observer_is_restarted(watcher, stories) -> None:
    watcher._observer.stop()  # as if its thread had died
    watcher._observer.join(5)
    (stories / "maria.md").write_text(story_text())
    wait_until(watcher.index, lambda: "maria" in roles(watcher.index), HEAL_BOUND)
    assert watcher.alive and watcher.restarts >= 1


def test_a_deleted_and_recreated_folder_is_watched_again(watcher, stories) -> None:
    (stories / "maria.md").write_text(story_text())
    wait_until(watcher.index, lambda: "maria" in roles(watcher.index))
    shutil.rmtree(stories)
    wait_until(watcher.index, lambda: roles(watcher.index) == {}, HEAL_BOUND)
    stories.mkdir()
    (stories / "dev.md").write_text(story_text(name="Dev Patel"))
    wait_until(watcher.index, lambda: "dev" in roles(watcher.index), HEAL_BOUND)
    (stories / "ana.md").write_text(story_text(name="Ana"))  # and live again, not by rescan
    wait_until(watcher.index, lambda: "ana" in roles(watcher.index))
    assert watcher.alive


def test_a_symlink_swap_is_followed(tmp_path) -> None:
    releases = tmp_path / "releases"
    (releases / "one").mkdir(parents=True)
    (releases / "two").mkdir()
    (releases / "one" / "maria.md").write_text(story_text())
    (releases / "two" / "dev.md").write_text(story_text(name="Dev Patel"))
    link = tmp_path / "stories"
    link.symlink_to(releases / "one")
    index = StoryIndex(link)
    index.load()
    watcher = StoryWatcher(index)
    watcher.start()
    try:
        assert set(roles(index)) == {"maria"}
        # How deploy tools swap: a new link beside the old, renamed over it atomically.
        (tmp_path / "stories.new").symlink_to(releases / "two")
        os.replace(tmp_path / "stories.new", link)
        wait_until(index, lambda: set(roles(index)) == {"dev"}, HEAL_BOUND)
        (releases / "two" / "ana.md").write_text(story_text(name="Ana"))
        wait_until(index, lambda: set(roles(index)) == {"dev", "ana"})
    finally:
        watcher.stop()


def test_poll_mode_sees_changes(stories) -> None:
    index = StoryIndex(stories)
    index.load()
    watcher = StoryWatcher(index, poll=True, poll_interval=0.3)
    watcher.start()
    try:
        assert watcher.mode == "poll"
        (stories / "maria.md").write_text(story_text())
        wait_until(index, lambda: "maria" in roles(index), HEAL_BOUND)
    finally:
        watcher.stop()


def test_the_periodic_rescan_catches_what_events_missed(stories) -> None:
    index = StoryIndex(stories)
    index.load()
    watcher = StoryWatcher(index, rescan_every=0.5)
    watcher._start_observer = lambda: None  # no events at all: only the rescan is left
    watcher.start()
    try:
        (stories / "maria.md").write_text(story_text())
        wait_until(index, lambda: "maria" in roles(index), HEAL_BOUND)
    finally:
        watcher.stop()
