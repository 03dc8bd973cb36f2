"""The watcher: every way people and tools change files reaches the index.

Each test changes real files the way an editor or tool does, then waits on
the index's change condition with a deadline; no sleeping and hoping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import story_text
from wall.index import StoryIndex
from wall.watcher import StoryWatcher

DEADLINE = 2.0


def wait_until(index: StoryIndex, predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    version = index.version
    while not predicate():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"index did not converge in {timeout}s: {index.stories()}")
        version = index.wait_for_change(version, min(left, 0.2))


@pytest.fixture(params=["native", "poll"])
def watched(request, stories: Path) -> Iterator[StoryIndex]:
    before = set(threading.enumerate())
    index = StoryIndex(stories)
    index.load()
    watcher = StoryWatcher(index, poll=request.param == "poll", poll_interval=0.2)
    watcher.start()
    assert watcher.alive
    yield index
    watcher.stop()
    leaked = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


def roles(index: StoryIndex) -> dict[str, str]:
    return {s.slug: s.role for s in index.stories()}


def test_new_story_written_directly(watched, write_story) -> None:
    write_story("maria")
    wait_until(watched, lambda: "maria" in roles(watched))


def test_new_story_written_to_a_temp_name_and_renamed_in(watched, stories) -> None:
    tmp = stories / ".maria.md.tmp"
    tmp.write_text(story_text())
    os.replace(tmp, stories / "maria.md")
    wait_until(watched, lambda: "maria" in roles(watched))


@pytest.fixture
def maria(watched, write_story) -> Path:
    path = write_story("maria", single=True)
    wait_until(watched, lambda: roles(watched).get("maria") == "Swing-shift foreman")
    return path


def _becomes_manager(index: StoryIndex) -> Callable[[], bool]:
    return lambda: roles(index).get("maria") == "Plant manager"


@pytest.mark.parametrize("backupcopy", ["yes", "no"])
def test_edit_with_vim(watched, maria, backupcopy) -> None:
    # backupcopy=no makes vim rename the old file away and write a new one.
    subprocess.run(
        [
            "vim",
            "-Es",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "--cmd",
            f"set nocp backupcopy={backupcopy}",
            "-c",
            "%s/Swing-shift foreman/Plant manager/",
            "-c",
            "wq",
            str(maria),
        ],
        check=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    wait_until(watched, _becomes_manager(watched))


def test_edit_with_sed_in_place(watched, maria) -> None:
    subprocess.run(["sed", "-i", "s/Swing-shift foreman/Plant manager/", str(maria)], check=True)
    wait_until(watched, _becomes_manager(watched))


def test_cp_over_it(watched, maria, tmp_path) -> None:
    new = tmp_path / "new.md"
    new.write_text(maria.read_text().replace("Swing-shift foreman", "Plant manager"))
    subprocess.run(["cp", str(new), str(maria)], check=True)
    wait_until(watched, _becomes_manager(watched))


def test_rsync_over_it(watched, maria, tmp_path) -> None:
    source = tmp_path / "upstream"
    source.mkdir()
    (source / "maria.md").write_text(
        maria.read_text().replace("Swing-shift foreman", "Plant manager")
    )
    subprocess.run(["rsync", "-a", f"{source}/", f"{maria.parent}/"], check=True)
    wait_until(watched, _becomes_manager(watched))


def test_git_checkout_changing_several_files(watched, stories, write_story) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(stories), *args], check=True, capture_output=True)

    write_story("maria")
    write_story("dev", name="Dev Patel", role="Payroll administrator")
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    git("checkout", "-qb", "edits")
    write_story("maria", role="Plant manager")
    shutil.rmtree(stories / "dev")
    write_story("ngozi", name="Ngozi Okafor", role="Loading-dock supervisor")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two")
    wait_until(
        watched,
        lambda: roles(watched) == {"maria": "Plant manager", "ngozi": "Loading-dock supervisor"},
    )
    git("checkout", "-q", "main")
    wait_until(
        watched,
        lambda: roles(watched) == {"maria": "Swing-shift foreman", "dev": "Payroll administrator"},
    )


def test_rename(watched, maria) -> None:
    maria.rename(maria.with_name("maria-alvarez.md"))
    wait_until(watched, lambda: set(roles(watched)) == {"maria-alvarez"})


def test_delete(watched, maria) -> None:
    maria.unlink()
    wait_until(watched, lambda: roles(watched) == {})


def test_bundle_removed_with_rm_rf(watched, write_story) -> None:
    path = write_story("ngozi")
    wait_until(watched, lambda: "ngozi" in roles(watched))
    subprocess.run(["rm", "-rf", str(path.parent)], check=True)
    wait_until(watched, lambda: roles(watched) == {})


def test_photo_added_to_a_bundle_fixes_the_story(watched, write_story) -> None:
    path = write_story("maria", photo="maria.jpg")
    wait_until(watched, lambda: any("photo not found" in str(p) for p in watched.problems()))
    (path.parent / "maria.jpg").write_bytes(b"\xff\xd8\xff")
    wait_until(watched, lambda: "maria" in roles(watched))


def test_editor_temp_files_do_not_become_stories(watched, stories, write_story) -> None:
    (stories / ".maria.md.swp").write_text("swap")
    (stories / "4913").write_text("")
    (stories / "maria.md~").write_text(story_text())
    write_story("sentinel")  # written last: once it is in, the others were seen too
    wait_until(watched, lambda: "sentinel" in roles(watched))
    assert set(roles(watched)) == {"sentinel"} and watched.problems() == []


def test_reading_files_does_not_trigger_more_reads(watched, maria) -> None:
    """watchdog 7 reports opens and closes-without-write; they must not count."""
    version = watched.version
    for _ in range(5):
        maria.read_text()
    assert watched.wait_for_change(version, 0.6) == version


def test_catch_up_applies_a_noticed_change_before_the_folder_goes_quiet(stories) -> None:
    """A worker asked for the playlist right after another announced a change
    must not answer with the old one while its own watcher waits for quiet."""
    index = StoryIndex(stories)
    index.load()
    watcher = StoryWatcher(index, quiet=5.0, max_delay=5.0)  # a very patient watcher
    watcher.start()
    try:
        (stories / "maria.md").write_text(story_text())
        deadline = time.monotonic() + DEADLINE
        while not (watcher._pending or not watcher._paths.empty()):
            assert time.monotonic() < deadline, "the change was never noticed"
            time.sleep(0.01)
        assert index.get("maria") is None  # still waiting for quiet
        watcher.catch_up()
        assert index.get("maria") is not None
    finally:
        watcher.stop()
