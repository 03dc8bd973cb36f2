"""The moderation service: each action checks, writes, audits and refreshes, as one."""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import story_text
from tests.test_forms import submission
from tests.test_frontmatter import HAND_WRITTEN, changed_lines
from wall.db import Database, DatabaseError
from wall.forms import (
    CHOOSE,
    apply_choices,
    edit_base,
    edit_values,
    read_submission,
    submission_front_matter,
)
from wall.index import StoryIndex
from wall.moderation import Conflict, EditConflict, Moderation, ModerationError, SlugTaken
from wall.stories import Story

pytestmark = pytest.mark.both_engines

TODAY = dt.date.today()
WHO = "alex"


def audit(db: Database) -> list[tuple[str, str, str]]:
    """The audit log, newest first, as (actor, action, slug)."""
    return [(r["actor"], r["action"], r["slug"]) for r in db.audit_log()]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path: to show nothing at all was written."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def service_for(stories: Path, db: Database) -> Moderation:
    index = StoryIndex(stories)
    index.load()
    return Moderation(index, db)


@pytest.fixture
def db(db_target):  # type: ignore[no-untyped-def]
    db = Database(db_target)
    yield db
    db.close()


@pytest.fixture
def maria(write_story) -> Path:
    """A pending story, with a location to edit."""
    return write_story("maria", status="pending", location="Dayton, Ohio")


@pytest.fixture
def service(maria: Path, stories: Path, db: Database) -> Moderation:
    return service_for(stories, db)


def current(service: Moderation, slug: str = "maria") -> Story:
    story = service.current(slug)
    assert story is not None
    return story


# -- line-preserving changes, through the service ------------------------------------------


@pytest.fixture
def hand_written(maria: Path, service: Moderation) -> Path:
    maria.write_bytes(HAND_WRITTEN.encode())
    service.index.rescan()
    return maria


def test_approving_keeps_unknown_keys_comments_and_body_bytes(
    hand_written: Path, service: Moderation
) -> None:
    now = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    service.approve("maria", current(service).token, WHO, now)
    after = hand_written.read_text()
    assert changed_lines(HAND_WRITTEN, after) == [
        "-status: pending",
        "+status: approved",
        "+approved_by: alex",
        "+approved_at: '2026-11-02T09:30:00+00:00'",
    ]
    assert after.endswith(HAND_WRITTEN.split("---\n", 2)[2])


def test_withdrawing_consent_adds_one_line_and_hides_the_story(
    hand_written: Path, service: Moderation
) -> None:
    service.approve("maria", current(service).token, WHO)
    story = current(service)
    assert story.is_visible("hallway", TODAY)
    story = service.withdraw("maria", story.token, WHO).story
    assert f"  scope: [hallway, intranet]\n  withdrawn: {TODAY.isoformat()}\nx-review:" in (
        hand_written.read_text()
    )
    assert not story.is_visible("hallway", TODAY) and not story.is_visible("intranet", TODAY)
    assert "consent withdrawn" in (story.hidden_reason("hallway", TODAY) or "")
    with pytest.raises(ModerationError, match="already withdrawn"):
        service.withdraw("maria", current(service).token, WHO)


# -- every action: one audit row, and the index shows it at once ------------------------------

Act = Callable[[Moderation, Story], object]
Check = Callable[[StoryIndex], bool]


def edit(service: Moderation, story: Story, **changes: object) -> object:
    values = edit_values(story)
    values.update(changes)
    return service.edit(story.slug, story.token, WHO, values, base=edit_base(story))


NEXT_WEEK = TODAY + dt.timedelta(days=7)
ACTIONS: dict[str, tuple[dict[str, object], Act, str, str, Check]] = {
    # name: (the story's fields before, the action, audit action, audit slug, what the index shows)
    "approve": (
        {},
        lambda m, s: m.approve("maria", s.token, WHO),
        "approved",
        "maria",
        lambda i: i.get("maria").status == "approved",
    ),
    "reject": (
        {},
        lambda m, s: m.reject("maria", s.token, WHO, "No signed form"),
        "rejected",
        "maria",
        lambda i: i.get("maria").meta["rejected_reason"] == "No signed form",
    ),
    "unpublish": (
        {"status": "approved"},
        lambda m, s: m.unpublish("maria", s.token, WHO),
        "unpublished",
        "maria",
        lambda i: i.get("maria").status == "pending",
    ),
    "feature": (
        {},
        lambda m, s: m.feature("maria", s.token, WHO),
        "featured",
        "maria",
        lambda i: i.get("maria").featured,
    ),
    "unfeature": (
        {"featured": True},
        lambda m, s: m.feature("maria", s.token, WHO, featured=False),
        "no longer featured",
        "maria",
        lambda i: not i.get("maria").featured,
    ),
    "set_dates": (
        {},
        lambda m, s: m.set_dates("maria", s.token, WHO, TODAY, NEXT_WEEK),
        "dates set",
        "maria",
        lambda i: (i.get("maria").publish, i.get("maria").expires) == (TODAY, NEXT_WEEK),
    ),
    "withdraw": (
        {"status": "approved"},
        lambda m, s: m.withdraw("maria", s.token, WHO, "asked by phone"),
        "consent withdrawn",
        "maria",
        lambda i: i.get("maria").consent.withdrawn == TODAY and not i.visible("hallway"),
    ),
    "edit": (
        {},
        lambda m, s: edit(m, s, role="Plant manager"),
        "edited",
        "maria",
        lambda i: i.get("maria").role == "Plant manager",
    ),
    "rename": (
        {},
        lambda m, s: edit(m, s, slug="maria-alvarez"),
        "renamed",
        "maria-alvarez",
        lambda i: i.get("maria") is None and i.get("maria-alvarez").name == "Maria Alvarez",
    ),
    "delete": (
        {},
        lambda m, s: m.delete("maria", s.token, WHO),
        "deleted",
        "maria",
        lambda i: i.get("maria") is None and i.stories() == [],
    ),
}


@pytest.mark.parametrize("name", ACTIONS)
def test_each_action_audits_one_row_and_refreshes_the_index(
    name: str, write_story, stories: Path, db: Database
) -> None:
    before, act, action, slug, shows = ACTIONS[name]
    write_story("maria", **before)
    service = service_for(stories, db)
    act(service, current(service))
    assert audit(db) == [(WHO, action, slug)]
    assert shows(service.index)  # no rescan: the action refreshed the index itself


def dev_patel() -> dict[str, object]:
    """A new story's front matter, as the submission form makes it."""
    result = read_submission(submission(name="Dev Patel"), TODAY, has_photo=False)
    assert result.ok, result.errors
    return submission_front_matter(result.values, TODAY)


def test_a_submission_audits_one_row_and_joins_the_queue(service: Moderation, db: Database) -> None:
    story = service.submit(dev_patel(), "Dev closes payroll on time.", who="Sam Ortiz")
    assert story.slug == "dev-patel"
    assert audit(db) == [("Sam Ortiz", "submitted", "dev-patel")]
    assert service.index.get("dev-patel") == story
    assert [s.slug for s in service.pending()] == ["maria", "dev-patel"]


# -- a stale token: someone changed the file since the page was opened -------------------------


@pytest.mark.parametrize("name", ACTIONS)
def test_a_stale_token_is_refused_and_nothing_is_written(
    name: str, write_story, stories: Path, db: Database
) -> None:
    before, act, _, _, _ = ACTIONS[name]
    path = write_story("maria", **before)
    service = service_for(stories, db)
    opened = current(service)
    path.write_text(path.read_text().replace("Ridgeway Foundry", "Ridgeway Castings"))
    on_disk = snapshot(stories)
    with pytest.raises((Conflict, EditConflict)):
        act(service, opened)
    assert snapshot(stories) == on_disk
    assert audit(db) == []
    assert current(service).company == "Ridgeway Castings"


# -- a change and its audit record land together, or not at all -------------------------------


class FullDatabase(Database):
    """Every audit write fails, as on a full disk."""

    def audit(self, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    def audit_all(self, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize("name", ACTIONS)
def test_an_action_whose_audit_fails_changes_no_file(
    name: str, write_story, stories: Path, tmp_path: Path
) -> None:
    before, act, _, _, _ = ACTIONS[name]
    write_story("maria", **before)
    service = service_for(stories, FullDatabase(tmp_path / "db.sqlite"))
    opened = current(service)
    on_disk = snapshot(stories)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        act(service, opened)
    assert snapshot(stories) == on_disk
    assert service.index.get("maria") == opened


def test_a_submission_whose_audit_fails_leaves_no_bundle(stories: Path, tmp_path: Path) -> None:
    service = service_for(stories, FullDatabase(tmp_path / "db.sqlite"))
    with pytest.raises(sqlite3.OperationalError, match="full"):
        service.submit(dev_patel(), "Dev closes payroll on time.", who="Sam Ortiz")
    assert list(stories.iterdir()) == []
    assert service.index.stories() == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs, to fill up (needs root, as in CI's container)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    try:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        result = subprocess.CompletedProcess([], 1, "", str(exc))
    if result.returncode != 0:
        reason = f"cannot mount a tmpfs to fill up: {result.stderr.strip() or result.returncode}"
        print(reason)
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    with (disk / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.mark.sqlite_only
def test_an_approval_on_a_full_disk_leaves_the_story_byte_for_byte(
    maria: Path, stories: Path, small_disk: Path
) -> None:
    db = Database(small_disk / "db.sqlite")
    service = service_for(stories, db)
    opened = current(service)
    before = maria.read_bytes()
    fill(small_disk)
    try:
        with pytest.raises(DatabaseError, match="database or disk is full"):
            service.approve("maria", opened.token, WHO)
        assert maria.read_bytes() == before
        assert service.index.get("maria") == opened and opened.status == "pending"
        (small_disk / "filler").unlink()
        assert audit(db) == []
        service.approve("maria", opened.token, WHO)  # with room again, the same click works
        assert audit(db) == [(WHO, "approved", "maria")]
    finally:
        db.close()  # before the tmpfs is unmounted


# -- an edit with a new link name is one action --------------------------------------------------


def test_an_edit_with_a_new_slug_saves_fields_and_slug(
    maria: Path, stories: Path, service: Moderation, db: Database
) -> None:
    done = edit(service, current(service), role="Plant manager", slug="maria-alvarez")
    assert done.story.slug == "maria-alvarez" and done.story.role == "Plant manager"
    assert not maria.exists() and not (stories / "maria").exists()
    assert "role: Plant manager" in (stories / "maria-alvarez" / "index.md").read_text()
    assert service.index.get("maria") is None
    assert service.index.get("maria-alvarez").role == "Plant manager"
    assert audit(db) == [(WHO, "renamed", "maria-alvarez"), (WHO, "edited", "maria")]


@pytest.mark.parametrize("taken", ["dev", "dev.md"])
def test_an_edit_onto_a_taken_slug_is_refused_before_anything_is_written(
    taken: str, write_story, stories: Path, service: Moderation, db: Database
) -> None:
    write_story("dev", name="Dev Patel", single=taken.endswith(".md"))
    service.index.rescan()
    on_disk = snapshot(stories)
    with pytest.raises(SlugTaken, match="already uses 'dev'"):
        edit(service, current(service), role="Plant manager", slug="dev")
    assert snapshot(stories) == on_disk
    assert audit(db) == []
    assert service.index.get("maria").role == "Swing-shift foreman"


def test_an_edit_whose_new_slug_is_taken_meanwhile_saves_nothing(
    maria: Path, stories: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "db.sqlite")
    service = service_for(stories, db)
    before = maria.read_bytes()
    from wall import moderation

    def check_then_someone_takes_it(folder, new_slug):  # type: ignore[no-untyped-def]
        # Free when the service checks; taken by another moderator an instant later.
        moderation_check(folder, new_slug)
        (stories / "maria-alvarez.md").write_text(story_text(name="Someone Else"))

    moderation_check = moderation.check_slug
    monkeypatch.setattr(moderation, "check_slug", check_then_someone_takes_it)
    with pytest.raises(SlugTaken):
        edit(service, current(service), role="Plant manager", slug="maria-alvarez")
    # One action: refused as a whole, so the moderator's "nothing was saved" is true.
    assert maria.read_bytes() == before
    assert audit(db) == []


# -- an edit that meets a change made on disk meanwhile ------------------------------------------


def open_form(service: Moderation) -> tuple[str, str, dict[str, object]]:
    story = current(service)
    return story.token, edit_base(story), edit_values(story)


def test_an_edit_merges_with_a_different_field_changed_on_disk(
    maria: Path, service: Moderation, db: Database
) -> None:
    token, base, values = open_form(service)
    theirs = maria.read_text().replace("Dayton, Ohio", "Columbus, Ohio")
    maria.write_text(theirs)
    values["role"] = "Plant manager"
    with pytest.raises(EditConflict) as refused:
        service.edit("maria", token, WHO, values, base=base)
    merge = refused.value.merge
    assert merge.conflicts == {}
    assert merge.from_disk == ["location"]
    assert merge.values["location"] == "Columbus, Ohio" and merge.values["role"] == "Plant manager"
    assert maria.read_text() == theirs and audit(db) == []
    # Saving the merged form against what is on disk now keeps both changes.
    done = service.edit("maria", refused.value.current.token, WHO, merge.values, base=base)
    assert (done.story.location, done.story.role) == ("Columbus, Ohio", "Plant manager")


def test_an_edit_of_a_field_also_changed_on_disk_is_a_conflict_to_choose(
    maria: Path, service: Moderation
) -> None:
    token, base, values = open_form(service)
    maria.write_text(maria.read_text().replace("Swing-shift foreman", "Night-shift lead"))
    values["role"] = "Plant manager"
    with pytest.raises(EditConflict) as refused:
        service.edit("maria", token, WHO, values, base=base)
    merge, disk = refused.value.merge, refused.value.current
    assert merge.conflicts == {"role": ("Plant manager", "Night-shift lead")}

    form = {**merge.values, "conflicts": "role"}
    _, errors = apply_choices(form, disk)
    assert errors == {"role": CHOOSE}  # never a silent pick
    chosen, errors = apply_choices({**form, "resolve_role": "disk"}, disk)
    assert errors == {} and chosen["role"] == "Night-shift lead"
    chosen, errors = apply_choices({**form, "resolve_role": "yours"}, disk)
    assert errors == {} and chosen["role"] == "Plant manager"
