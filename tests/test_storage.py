"""Story files on disk: new bundles, line-preserving edits, renames, deletes, and races."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from pathlib import Path

import pytest

from tests.test_forms import submission
from tests.test_frontmatter import HAND_WRITTEN, changed_lines, write_hand_written
from wall.folder import StoryFolder
from wall.forms import read_submission, submission_front_matter
from wall.frontmatter import content_token
from wall.index import StoryIndex
from wall.parsing import load_story
from wall.storage import (
    Conflict,
    InvalidStory,
    ModerationError,
    SlugTaken,
    StoryGone,
    create_story,
    delete_story,
    read_story_file,
    rename_story,
    update_story,
)

TODAY = dt.date.today()


def create(root: Path, **overrides: object):  # type: ignore[no-untyped-def]
    result = read_submission(submission(**overrides), TODAY, has_photo=False)
    assert result.ok, result.errors
    front = submission_front_matter(result.values, TODAY)
    return create_story(StoryFolder(root), front, result.values["body"])


# -- a new submission ------------------------------------------------------------------------


def test_a_submission_becomes_a_pending_bundle(tmp_path: Path) -> None:
    story = create(tmp_path)
    assert story.slug == "maria-alvarez"
    assert story.source == tmp_path / "maria-alvarez" / "index.md"
    assert story.status == "pending" and not story.is_visible("hallway", TODAY)
    assert story.tags == ("manufacturing", "dayton")
    assert story.consent is not None and story.consent.scope == {"hallway", "intranet"}
    assert story.body == "Maria runs the swing shift.\n\nShe called us at 2 a.m.\n"
    assert story.meta["submitter_email"] == "sam.ortiz@example.com"
    assert [p.name for p in tmp_path.iterdir()] == ["maria-alvarez"]  # no staging left


def test_a_submission_with_a_photo_keeps_the_cleaned_jpeg(tmp_path: Path) -> None:
    result = read_submission(submission(photo_alt="Maria"), TODAY, has_photo=True)
    front = submission_front_matter(result.values, TODAY)
    story = create_story(StoryFolder(tmp_path), front, "Body.", b"\xff\xd8 a jpeg")
    assert story.photo == tmp_path / "maria-alvarez" / "photo.jpg"
    assert story.photo.read_bytes() == b"\xff\xd8 a jpeg"


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "no",
        "null",
        "2026-10-14",
        "- a list?",
        "#hashtag",
        "key: value",
        "\"quoted\" and 'quoted'",
        "&anchor *alias !tag",
        "María Ñúñez 😀",
        "{flow: map}",
        "[not, a, list]",
        "| block",
        "---",
        "@home %percent `tick`",
    ],
)
def test_any_text_survives_the_round_trip(tmp_path: Path, value: str) -> None:
    story = create(tmp_path, name=f"Ren {value}", role=value, quote=value, title=value)
    assert (story.name, story.role, story.quote, story.title) == (
        f"Ren {value}",
        value,
        value,
        value,
    )


def test_a_taken_slug_is_never_reused(tmp_path: Path) -> None:
    (tmp_path / "maria-alvarez").mkdir()
    (tmp_path / "maria-alvarez" / "index.md").write_text("the original")
    (tmp_path / "maria-alvarez-2.md").write_text("a single-file story")
    story = create(tmp_path)
    assert story.slug == "maria-alvarez-3"
    assert (tmp_path / "maria-alvarez" / "index.md").read_text() == "the original"
    assert (tmp_path / "maria-alvarez-2.md").read_text() == "a single-file story"


def test_a_failed_commit_takes_the_new_bundle_back_out(tmp_path: Path) -> None:
    result = read_submission(submission(), TODAY, has_photo=False)
    front = submission_front_matter(result.values, TODAY)

    def commit(slug: str) -> None:
        assert (tmp_path / slug / "index.md").exists()  # runs after the bundle is in place
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        create_story(StoryFolder(tmp_path), front, "Body.", commit=commit)
    assert list(tmp_path.iterdir()) == []


def test_threads_submitting_one_name_at_once_get_a_bundle_each(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    slugs: list[str] = []

    def submit() -> None:
        barrier.wait()
        slugs.append(create(tmp_path).slug)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(slugs)) == 8
    index = StoryIndex(tmp_path)
    index.load()
    assert len(index.stories()) == 8 and index.problems() == []


def _submit_in_process(root: str, barrier) -> str:  # type: ignore[no-untyped-def]
    barrier.wait()
    return create(Path(root)).slug


def test_processes_submitting_one_name_at_once_get_a_bundle_each(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with context.Pool(4) as pool:
            slugs = pool.starmap(_submit_in_process, [(str(tmp_path), barrier)] * 4)
    assert sorted(slugs) == [
        "maria-alvarez",
        "maria-alvarez-2",
        "maria-alvarez-3",
        "maria-alvarez-4",
    ]


# -- editing an existing file -----------------------------------------------------------------


@pytest.fixture
def hand_written(tmp_path: Path) -> Path:
    return write_hand_written(tmp_path)


def test_an_edit_changes_only_its_own_lines(hand_written: Path) -> None:
    story, token = update_story(hand_written, {"role": "Plant manager"})
    after = hand_written.read_text()
    assert changed_lines(HAND_WRITTEN, after) == [
        "-role: Swing-shift foreman",
        "+role: Plant manager",
    ]
    assert story.role == "Plant manager" and "crm_id" in story.meta
    assert token == content_token(hand_written.read_bytes())


def test_a_body_left_alone_in_a_browser_keeps_its_bytes(hand_written: Path) -> None:
    story, _ = load_story(hand_written)
    assert story is not None
    as_browsers_send_it = story.body.replace("\n", "\r\n").rstrip() + "\r\n"
    update_story(hand_written, {"title": "Line 3"}, body=as_browsers_send_it)
    assert changed_lines(HAND_WRITTEN, hand_written.read_text()) == ["+title: Line 3"]


def test_an_edited_body_is_written_with_the_files_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "crlf.md"
    path.write_bytes(HAND_WRITTEN.replace("\n", "\r\n").encode())
    story, _ = update_story(path, {"role": "Lead"}, body="New\r\n\r\ntext")
    raw = path.read_bytes()
    assert raw.endswith(b"---\r\n\r\nNew\r\n\r\ntext\r\n")
    assert b"role: Lead\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert story.body == "New\r\n\r\ntext\r\n"


def test_an_edit_is_refused_when_the_file_changed_since_it_was_opened(hand_written: Path) -> None:
    opened = read_story_file(hand_written).token
    someone_else = HAND_WRITTEN.replace("Swing-shift", "Night-shift")
    hand_written.write_text(someone_else)
    with pytest.raises(Conflict) as refused:
        update_story(hand_written, {"role": "Mine"}, expected=opened)
    assert "changed on disk" in refused.value.message
    assert refused.value.current.text == someone_else
    assert hand_written.read_text() == someone_else


def test_two_moderators_saving_at_once_cannot_both_win(hand_written: Path) -> None:
    opened = read_story_file(hand_written).token
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def save(n: int) -> None:
        barrier.wait()
        try:
            update_story(hand_written, {"role": f"Role {n}"}, expected=opened)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["saved"]


def test_an_edit_to_a_deleted_story_says_so(hand_written: Path) -> None:
    hand_written.unlink()
    with pytest.raises(StoryGone, match="no longer in the stories folder"):
        update_story(hand_written, {"role": "x"})


def test_an_edit_that_would_break_the_story_is_not_written(hand_written: Path) -> None:
    with pytest.raises(InvalidStory) as refused:
        update_story(hand_written, {"quote": "x" * 300, "kind": "advert"})
    assert {p.field for p in refused.value.problems} == {"quote", "kind"}
    assert hand_written.read_text() == HAND_WRITTEN


def test_a_failed_commit_puts_the_old_bytes_back(hand_written: Path) -> None:
    def commit(slug: str) -> None:
        assert "Plant manager" in hand_written.read_text()  # runs after the write
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        update_story(hand_written, {"role": "Plant manager"}, commit=commit)
    assert hand_written.read_bytes() == HAND_WRITTEN.encode()


# -- renaming and deleting ---------------------------------------------------------------------


def test_a_rename_onto_a_taken_slug_is_refused(tmp_path: Path) -> None:
    maria = create(tmp_path)
    create(tmp_path, name="Dev Patel")
    folder = StoryFolder(tmp_path)
    with pytest.raises(SlugTaken, match="already uses 'dev-patel'"):
        rename_story(folder, maria, "dev-patel")
    with pytest.raises(ModerationError, match="lowercase"):
        rename_story(folder, maria, "Not A Slug")
    moved = rename_story(folder, maria, "maria")
    assert moved == tmp_path / "maria" / "index.md" and not (tmp_path / "maria-alvarez").exists()


def test_a_single_file_rename_is_refused_onto_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nname: A\nrole: B\ncompany: C\n---\nBody\n")
    create(tmp_path, name="Dev Patel")
    story, _ = load_story(tmp_path / "a.md")
    assert story is not None
    with pytest.raises(SlugTaken):
        rename_story(StoryFolder(tmp_path), story, "dev-patel")
    assert rename_story(StoryFolder(tmp_path), story, "b") == tmp_path / "b.md"
    assert not (tmp_path / "a.md").exists()


def test_deleting_a_bundle_removes_it_whole(tmp_path: Path) -> None:
    story = create(tmp_path)
    delete_story(StoryFolder(tmp_path), story)
    assert list(tmp_path.iterdir()) == []


def test_deleting_a_single_file_keeps_a_photo_another_story_shows(tmp_path: Path) -> None:
    (tmp_path / "shared.jpg").write_bytes(b"jpeg")
    text = "---\nname: A\nrole: B\ncompany: C\nphoto: shared.jpg\n---\nBody\n"
    (tmp_path / "a.md").write_text(text)
    story, _ = load_story(tmp_path / "a.md")
    assert story is not None
    delete_story(StoryFolder(tmp_path), story, photo_shared=True)
    assert not (tmp_path / "a.md").exists() and (tmp_path / "shared.jpg").exists()
