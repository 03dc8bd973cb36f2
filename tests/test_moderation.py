"""The moderation core, without Flask: new bundles, line-preserving edits, conflicts."""

from __future__ import annotations

import datetime as dt
import difflib
import multiprocessing
import threading
from pathlib import Path

import pytest

from wall import moderation as mod
from wall.index import StoryIndex
from wall.stories import is_ignored_name, load_story

TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)


def submission(**overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Maria Alvarez",
        "role": "Swing-shift foreman",
        "company": "Ridgeway Foundry",
        "location": "Dayton, Ohio",
        "title": "She stopped line 3 for us",
        "quote": "When your part runs late, my crew goes home late.",
        "body": "Maria runs the swing shift.\r\n\r\nShe called us at 2 a.m.",
        "tags": "Manufacturing, dayton, manufacturing",
        "photo_alt": "",
        "kind": "story",
        "consent_given_by": "Maria Alvarez",
        "consent_date": YESTERDAY.isoformat(),
        "consent_scope": ["hallway", "intranet"],
        "consent_expires": "",
        "submitted_by": "Sam Ortiz",
        "submitter_email": "sam.ortiz@example.com",
    }
    form.update(overrides)
    return form


def create(root: Path, **overrides: object):  # type: ignore[no-untyped-def]
    result = mod.read_submission(submission(**overrides), TODAY, has_photo=False)
    assert result.ok, result.errors
    front = mod.submission_front_matter(result.values, TODAY)
    return mod.create_story(root, front, result.values["body"])


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
    result = mod.read_submission(submission(photo_alt="Maria"), TODAY, has_photo=True)
    front = mod.submission_front_matter(result.values, TODAY)
    story = mod.create_story(tmp_path, front, "Body.", b"\xff\xd8 a jpeg")
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


def test_staging_folders_are_invisible_to_the_wall() -> None:
    assert is_ignored_name(f"{mod.STAGING_PREFIX}0123abcd")
    assert is_ignored_name(f"{mod.DELETING_PREFIX}maria-1234")


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


# -- checking the form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": "  "}, "name", "customer's name"),
        ({"role": ""}, "role", "role"),
        ({"quote": "x" * 201}, "quote", "201 characters"),
        ({"consent_date": "14/10/2026"}, "consent_date", "2026-10-14"),
        ({"consent_date": "2026-02-30"}, "consent_date", "not a date"),
        ({"consent_date": (TODAY + dt.timedelta(days=3)).isoformat()}, "consent_date", "future"),
        ({"consent_expires": YESTERDAY.isoformat()}, "consent_expires", "after the day"),
        ({"consent_scope": []}, "consent_scope", "at least one"),
        ({"consent_scope": ["hallway", "lobby"]}, "consent_scope", "Choose from"),
        ({"submitter_email": "sam at example"}, "submitter_email", "email address"),
        ({"tags": ",".join(f"t{i}" for i in range(13))}, "tags", "13 tags"),
        ({"kind": "advert"}, "kind", "Choose one"),
        ({"body": ""}, "body", "Tell the story"),
    ],
)
def test_each_bad_field_is_named_with_what_to_do(overrides, field, words) -> None:
    result = mod.read_submission(submission(**overrides), TODAY, has_photo=False)
    assert field in result.errors, result.errors
    assert words in result.errors[field]
    assert set(result.errors) == {field}


def test_a_photo_needs_a_description(tmp_path: Path) -> None:
    assert "photo_alt" in mod.read_submission(submission(), TODAY, has_photo=True).errors
    assert mod.read_submission(submission(photo_alt="Maria"), TODAY, has_photo=True).ok


def test_what_was_typed_is_kept_for_the_form(tmp_path: Path) -> None:
    result = mod.read_submission(submission(consent_date="last tuesday"), TODAY, has_photo=False)
    assert result.values["consent_date"] == "last tuesday"
    assert result.values["name"] == "Maria Alvarez"


# -- editing an existing file -----------------------------------------------------------------

HAND_WRITTEN = """\
---
name: Maria Alvarez            # the customer
role: Swing-shift foreman
company: Ridgeway Foundry
quote: "When your part runs late, my crew goes home late."
# Added by our CRM sync, do not remove:
crm_id: 0042
kind: story
tags: [manufacturing, dayton]
status: pending
consent:
  given_by: Maria Alvarez
  date: 2026-01-12   # signed form in the shared drive
  scope: [hallway, intranet]
x-review: {by: legal, ok: true}
---

Maria runs the *swing shift*.<two spaces>
Trailing spaces above are a hard break; keep them.

* one
* two
""".replace("<two spaces>", "  ")  # a Markdown hard line break, kept byte for byte


@pytest.fixture
def hand_written(tmp_path: Path) -> Path:
    folder = tmp_path / "maria"
    folder.mkdir()
    path = folder / "index.md"
    path.write_bytes(HAND_WRITTEN.encode())
    return path


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_an_edit_changes_only_its_own_lines(hand_written: Path) -> None:
    story, token = mod.update_story(hand_written, {"role": "Plant manager"})
    after = hand_written.read_text()
    assert changed_lines(HAND_WRITTEN, after) == [
        "-role: Swing-shift foreman",
        "+role: Plant manager",
    ]
    assert story.role == "Plant manager" and "crm_id" in story.meta
    assert token == mod.content_token(hand_written.read_bytes())


def test_approving_keeps_unknown_keys_comments_and_body_bytes(hand_written: Path) -> None:
    now = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    mod.update_story(hand_written, mod.approve_changes("alex", now))
    after = hand_written.read_text()
    assert changed_lines(HAND_WRITTEN, after) == [
        "-status: pending",
        "+status: approved",
        "+approved_by: alex",
        "+approved_at: '2026-11-02T09:30:00+00:00'",
    ]
    assert after.endswith(HAND_WRITTEN.split("---\n", 2)[2])


def test_a_body_left_alone_in_a_browser_keeps_its_bytes(hand_written: Path) -> None:
    story, _ = load_story(hand_written)
    assert story is not None
    as_browsers_send_it = story.body.replace("\n", "\r\n").rstrip() + "\r\n"
    mod.update_story(hand_written, {"title": "Line 3"}, body=as_browsers_send_it)
    assert changed_lines(HAND_WRITTEN, hand_written.read_text()) == ["+title: Line 3"]


def test_an_edited_body_is_written_with_the_files_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "crlf.md"
    path.write_bytes(HAND_WRITTEN.replace("\n", "\r\n").encode())
    story, _ = mod.update_story(path, {"role": "Lead"}, body="New\r\n\r\ntext")
    raw = path.read_bytes()
    assert raw.endswith(b"---\r\n\r\nNew\r\n\r\ntext\r\n")
    assert b"role: Lead\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert story.body == "New\r\n\r\ntext\r\n"


def test_withdrawing_consent_adds_one_line_and_hides_the_story(hand_written: Path) -> None:
    mod.update_story(hand_written, mod.approve_changes("alex"))
    story, _ = load_story(hand_written)
    assert story is not None and story.is_visible("hallway", TODAY)
    story, _ = mod.update_story(hand_written, mod.withdraw_consent_changes(story, TODAY))
    assert f"  scope: [hallway, intranet]\n  withdrawn: {TODAY.isoformat()}\nx-review:" in (
        hand_written.read_text()
    )
    assert not story.is_visible("hallway", TODAY) and not story.is_visible("intranet", TODAY)
    assert "consent withdrawn" in (story.hidden_reason("hallway", TODAY) or "")


def test_an_edit_is_refused_when_the_file_changed_since_it_was_opened(hand_written: Path) -> None:
    opened = mod.read_story_file(hand_written).token
    someone_else = HAND_WRITTEN.replace("Swing-shift", "Night-shift")
    hand_written.write_text(someone_else)
    with pytest.raises(mod.Conflict) as refused:
        mod.update_story(hand_written, {"role": "Mine"}, expected=opened)
    assert "changed on disk" in refused.value.message
    assert refused.value.current.text == someone_else
    assert hand_written.read_text() == someone_else


def test_two_moderators_saving_at_once_cannot_both_win(hand_written: Path) -> None:
    opened = mod.read_story_file(hand_written).token
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def save(n: int) -> None:
        barrier.wait()
        try:
            mod.update_story(hand_written, {"role": f"Role {n}"}, expected=opened)
            outcomes.append("saved")
        except mod.Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["saved"]


def test_an_edit_to_a_deleted_story_says_so(hand_written: Path) -> None:
    hand_written.unlink()
    with pytest.raises(mod.StoryGone, match="no longer in the stories folder"):
        mod.update_story(hand_written, {"role": "x"})


def test_an_edit_that_would_break_the_story_is_not_written(hand_written: Path) -> None:
    with pytest.raises(mod.InvalidStory) as refused:
        mod.update_story(hand_written, {"quote": "x" * 300, "kind": "advert"})
    assert {p.field for p in refused.value.problems} == {"quote", "kind"}
    assert hand_written.read_text() == HAND_WRITTEN


@pytest.mark.parametrize(
    ("front", "changes", "expected"),
    [
        ("name: x\n", {"consent.withdrawn": TODAY}, f"name: x\nconsent:\n  withdrawn: {TODAY}\n"),
        (
            "consent: {given_by: M, date: 2026-01-01, scope: [hallway]}\nname: x\n",
            {"consent.scope": ["intranet"]},
            "consent:\n  given_by: M\n  date: 2026-01-01\n  scope: [intranet]\nname: x\n",
        ),
        ("a: 1\nb: 2\n# end\n", {"a": mod.DELETE}, "b: 2\n# end\n"),
        ("a: 1\nb:\n  - x\n  - y\n\nc: 3\n", {"b": ["z"]}, "a: 1\nb: [z]\n\nc: 3\n"),
        ("a: |\n  text\n  more\nb: 2\n", {"a": "one line"}, "a: one line\nb: 2\n"),
        ("", {"name": "yes", "tags": []}, "name: 'yes'\n"),
        ("location:\nname: x\n", {"location": "Dayton"}, "location: Dayton\nname: x\n"),
    ],
)
def test_front_matter_changes(front: str, changes: dict, expected: str) -> None:
    assert mod.set_front_matter(front, changes) == expected


def test_edit_changes_name_only_what_differs(hand_written: Path) -> None:
    story, _ = load_story(hand_written)
    assert story is not None
    values = mod.edit_values(story)
    assert mod.edit_changes(story, values) == {}
    values.update(tags="dayton, ohio", consent_expires=dt.date(2027, 1, 1), location="")
    assert mod.edit_changes(story, values) == {
        "tags": ["dayton", "ohio"],
        "consent.expires": dt.date(2027, 1, 1),
    }


# -- renaming and deleting ---------------------------------------------------------------------


def test_a_rename_onto_a_taken_slug_is_refused(tmp_path: Path) -> None:
    maria = create(tmp_path)
    create(tmp_path, name="Dev Patel")
    with pytest.raises(mod.SlugTaken, match="already uses 'dev-patel'"):
        mod.rename_story(tmp_path, maria, "dev-patel")
    with pytest.raises(mod.ModerationError, match="lowercase"):
        mod.rename_story(tmp_path, maria, "Not A Slug")
    moved = mod.rename_story(tmp_path, maria, "maria")
    assert moved == tmp_path / "maria" / "index.md" and not (tmp_path / "maria-alvarez").exists()


def test_deleting_a_bundle_removes_it_whole(tmp_path: Path) -> None:
    story = create(tmp_path)
    mod.delete_story(tmp_path, story)
    assert list(tmp_path.iterdir()) == []


def test_deleting_a_single_file_keeps_a_photo_another_story_shows(tmp_path: Path) -> None:
    (tmp_path / "shared.jpg").write_bytes(b"jpeg")
    text = "---\nname: A\nrole: B\ncompany: C\nphoto: shared.jpg\n---\nBody\n"
    (tmp_path / "a.md").write_text(text)
    story, _ = load_story(tmp_path / "a.md")
    assert story is not None
    mod.delete_story(tmp_path, story, photo_shared=True)
    assert not (tmp_path / "a.md").exists() and (tmp_path / "shared.jpg").exists()
