"""The story forms: every bad field named, with what to do about it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.test_frontmatter import write_hand_written
from wall.forms import edit_changes, edit_values, read_submission
from wall.parsing import load_story

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


# -- the submission form ------------------------------------------------------------


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
    result = read_submission(submission(**overrides), TODAY, has_photo=False)
    assert field in result.errors, result.errors
    assert words in result.errors[field]
    assert set(result.errors) == {field}


def test_a_photo_needs_a_description() -> None:
    assert "photo_alt" in read_submission(submission(), TODAY, has_photo=True).errors
    assert read_submission(submission(photo_alt="Maria"), TODAY, has_photo=True).ok


def test_what_was_typed_is_kept_for_the_form() -> None:
    result = read_submission(submission(consent_date="last tuesday"), TODAY, has_photo=False)
    assert result.values["consent_date"] == "last tuesday"
    assert result.values["name"] == "Maria Alvarez"


# -- the edit form ---------------------------------------------------------------------


def test_edit_changes_name_only_what_differs(tmp_path: Path) -> None:
    story, _ = load_story(write_hand_written(tmp_path))
    assert story is not None
    values = edit_values(story)
    assert edit_changes(story, values) == {}
    values.update(tags="dayton, ohio", consent_expires=dt.date(2027, 1, 1), location="")
    assert edit_changes(story, values) == {
        "tags": ["dayton", "ohio"],
        "consent.expires": dt.date(2027, 1, 1),
    }
