"""Atomic writes: whole files only, with the permissions any other new file would get;
and reads of plain files only, never waiting on a pipe."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from wall.files import NotAPlainFile, read_plain, write_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test sets its own."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)], ids=oct
)
def test_a_new_file_follows_the_umask(tmp_path, umask, mask, expected) -> None:
    os.umask(mask)
    target = tmp_path / "story.md"
    write_atomic(target, b"hello")
    assert target.read_bytes() == b"hello"
    assert mode(target) == expected
    # ... just like a file the story's editor would have written.
    (tmp_path / "by-hand.md").write_text("hello")
    assert mode(tmp_path / "by-hand.md") == expected


def test_a_replaced_file_keeps_its_mode(tmp_path, umask) -> None:
    target = tmp_path / "story.md"
    target.write_text("old")
    target.chmod(0o600)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o600
    target.chmod(0o664)
    write_atomic(target, b"newer")
    assert mode(target) == 0o664


def test_no_temp_file_is_left_behind(tmp_path) -> None:
    target = tmp_path / "story.md"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert [p.name for p in tmp_path.iterdir()] == ["story.md"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path) -> None:
    target = tmp_path / "story.md"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["story.md"]


def test_only_plain_files_are_read(tmp_path) -> None:
    (tmp_path / "story.md").write_bytes(b"---\nname: Ana\n---\n")
    os.symlink("story.md", tmp_path / "link.md")
    assert read_plain(tmp_path / "link.md") == b"---\nname: Ana\n---\n"
    assert read_plain(tmp_path / "story.md", 3) == b"---"
    os.mkfifo(tmp_path / "pipe.md")  # nobody writes to it: an ordinary open would wait forever
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(NotAPlainFile, match="not a plain file"):
        read_plain(tmp_path / "pipe.md")
    assert len(os.listdir("/proc/self/fd")) == open_before
    with pytest.raises(IsADirectoryError):
        read_plain(tmp_path)
