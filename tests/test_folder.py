"""The stories folder's layout, and the guard at its edge (real files, real symlinks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wall.folder import StoryFolder, is_ignored_name, outside_reason
from wall.storage import DELETING_PREFIX, STAGING_PREFIX

# -- which names are stories -------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".index.md.swp",
        "index.md~",
        "4913",
        "_draft.md",
        ".maria.md.Xy12Ab",
        "#index.md#",
        "maria.md.tmp",
        "README.md",
    ],
)
def test_editor_and_temp_names_are_ignored(name: str) -> None:
    assert is_ignored_name(name)


@pytest.mark.parametrize("name", ["maria.md", "maria", "index.md", "maria.jpg"])
def test_story_names_are_not_ignored(name: str) -> None:
    assert not is_ignored_name(name)


def test_staging_folders_are_invisible_to_the_wall() -> None:
    assert is_ignored_name(f"{STAGING_PREFIX}0123abcd")
    assert is_ignored_name(f"{DELETING_PREFIX}maria-1234")


@pytest.mark.parametrize(
    ("relative", "slug"),
    [
        ("maria.md", "maria"),
        ("maria", "maria"),
        ("maria/index.md", "maria"),
        ("maria/photo.jpg", "maria"),
        ("maria/.index.md.swp", None),
        ("maria/4913", None),
        (".git/index", None),
        ("_drafts/x/index.md", None),
        ("photo.jpg", None),
    ],
)
def test_a_changed_path_names_its_story(tmp_path: Path, relative: str, slug: str | None) -> None:
    assert StoryFolder(tmp_path).slug_for_path(tmp_path / relative) == slug


def test_paths_outside_the_folder_belong_to_no_story(tmp_path: Path) -> None:
    assert StoryFolder(tmp_path / "stories").slug_for_path(tmp_path / "elsewhere.md") is None


# -- containment: symlinks may not lead out of the folder ----------------------------


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A stories folder with one bundle, and a folder outside it with a secret in it."""
    root = tmp_path / "stories"
    (root / "maria").mkdir(parents=True)
    (root / "maria" / "index.md").write_text("---\nname: M\n---\n")
    (root / "maria" / "photo.jpg").write_bytes(b"jpeg")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the wall")
    return root, outside


def test_a_real_file_inside_the_folder_may_be_read(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    assert outside_reason(root, root / "maria" / "index.md") is None


def test_a_symlink_to_a_file_outside_is_refused(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    link = root / "maria" / "passwd.jpg"
    link.symlink_to(outside / "secret.txt")
    assert "outside the stories folder" in (outside_reason(root, link) or "")
    assert StoryFolder(root).outside_reason(link) == outside_reason(root, link)


def test_a_dot_dot_path_out_of_the_folder_is_refused(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    assert outside_reason(root, root / "maria" / ".." / ".." / outside.name / "secret.txt")


def test_a_symlinked_folder_pointing_outside_is_refused(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "dev").symlink_to(outside, target_is_directory=True)
    assert outside_reason(root, root / "dev" / "secret.txt")


def test_a_symlink_to_another_file_inside_is_fine(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "dev").mkdir()
    link = root / "dev" / "photo.jpg"
    link.symlink_to(Path("..") / "maria" / "photo.jpg")
    assert outside_reason(root, link) is None


def test_a_symlink_loop_is_refused_not_followed_forever(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    a, b = root / "maria" / "a.jpg", root / "maria" / "b.jpg"
    a.symlink_to(b)
    b.symlink_to(a)
    assert "cannot be resolved" in (outside_reason(root, a) or "")


def test_a_stories_folder_that_is_itself_a_symlink_is_followed_afresh(tmp_path: Path) -> None:
    # A deploy tool's release swap: stories -> releases/N/stories, re-pointed atomically.
    for n in (1, 2):
        (tmp_path / "releases" / str(n) / "stories" / f"story-{n}").mkdir(parents=True)
        (tmp_path / "releases" / str(n) / "stories" / f"story-{n}" / "index.md").write_text("x")
    link = tmp_path / "stories"
    link.symlink_to(tmp_path / "releases" / "1" / "stories", target_is_directory=True)
    folder = StoryFolder(link)
    assert list(folder.slugs()) == ["story-1"]
    assert folder.outside_reason(link / "story-1" / "index.md") is None

    swap = tmp_path / "stories.new"
    swap.symlink_to(tmp_path / "releases" / "2" / "stories", target_is_directory=True)
    os.replace(swap, link)
    assert list(folder.slugs()) == ["story-2"]
    assert folder.outside_reason(link / "story-2" / "index.md") is None
    # The old release is now outside the stories folder.
    assert folder.outside_reason(tmp_path / "releases" / "1" / "stories" / "story-1" / "index.md")
