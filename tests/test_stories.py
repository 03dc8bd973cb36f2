"""Story files: golden-file parser tests, visibility rules, safe rendering."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from wall.stories import (
    FRONT_MATTER_KEYS,
    is_ignored_name,
    load_story,
    render_markdown,
    slug_for_path,
    slugify,
)

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.glob("*.md"))


def describe(path: Path) -> str:
    """What the parser made of a file, as stable JSON text."""
    story, problems = load_story(path, GOLDEN)
    if story is None:
        result: dict[str, object] = {
            "problems": [str(p).replace(str(GOLDEN) + os.sep, "") for p in problems]
        }
    else:
        result = {
            "slug": story.slug,
            "name": story.name,
            "role": story.role,
            "company": story.company,
            "location": story.location,
            "title": story.title,
            "tv_line": story.tv_line,
            "kind": story.kind,
            "tags": list(story.tags),
            "date": str(story.date),
            "publish": str(story.publish),
            "expires": str(story.expires),
            "status": story.status,
            "consent": None
            if story.consent is None
            else {
                "given_by": story.consent.given_by,
                "date": str(story.consent.date),
                "scope": sorted(story.consent.scope),
                "expires": str(story.consent.expires),
            },
            "photo_focus": list(story.photo_focus),
            "duration": story.duration,
            "featured": story.featured,
            "unknown_keys": sorted(set(story.meta) - FRONT_MATTER_KEYS),
            "body_html": story.body_html,
        }
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    expected = (GOLDEN / case).with_suffix(".json")
    actual = describe(GOLDEN / case)
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_every_golden_case_has_its_expectation() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == {Path(c).stem for c in CASES}


# -- visibility: the single rule for what reaches a screen -----------------------

TODAY = dt.date(2026, 11, 22)


def _story(write_story, **fields):
    story, problems = load_story(write_story("maria", **fields))
    assert not problems, problems
    return story


def _consent(**changes: object) -> dict[str, object]:
    consent: dict[str, object] = {
        "given_by": "Maria Alvarez",
        "date": "2026-10-01",
        "scope": ["hallway", "intranet"],
    }
    consent.update(changes)
    return consent


@pytest.mark.parametrize(
    ("fields", "place", "reason"),
    [
        ({}, "hallway", None),
        ({}, "intranet", None),
        ({"status": "pending"}, "hallway", "status is pending, not approved"),
        ({"status": "rejected"}, "intranet", "status is rejected, not approved"),
        ({"status": None}, "hallway", "status is pending, not approved"),
        ({"publish": "2026-11-23"}, "hallway", "scheduled to publish on 2026-11-23"),
        ({"publish": "2026-11-22"}, "hallway", None),
        ({"expires": "2026-11-22"}, "hallway", None),
        ({"expires": "2026-11-21"}, "hallway", "expired on 2026-11-21"),
        ({"consent": None}, "hallway", "no consent on record"),
        ({"consent": _consent(scope=["intranet"])}, "hallway", "consent does not cover hallway"),
        ({"consent": _consent(scope=["intranet"])}, "intranet", None),
        ({"consent": _consent(expires="2026-11-21")}, "intranet", "consent expired on 2026-11-21"),
        ({"consent": _consent(expires="2026-11-22")}, "hallway", None),
        (
            {"consent": _consent(withdrawn="2026-11-20")},
            "intranet",
            "consent withdrawn on 2026-11-20",
        ),
    ],
)
def test_visibility(write_story, fields, place, reason) -> None:
    story = _story(write_story, **fields)
    assert story.hidden_reason(place, TODAY) == reason
    assert story.is_visible(place, TODAY) is (reason is None)


# -- rendering ------------------------------------------------------------------


def test_raw_html_is_shown_as_text_not_run() -> None:
    html = render_markdown('<script>alert(1)</script>\n\n<b onmouseover="x()">hi</b>')
    assert "<script" not in html and "<b" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>", "vbscript:x"],
)
def test_unsafe_link_schemes_never_become_links(link: str) -> None:
    html = render_markdown(f"[click]({link}) <{link}>")
    assert "href" not in html


@pytest.mark.parametrize("link", ["https://example.com/a", "http://x.test", "mailto:a@b.test"])
def test_safe_links_are_kept(link: str) -> None:
    assert f'href="{link}"' in render_markdown(f"[here]({link})")


def test_images_in_a_body_are_not_fetched_from_other_hosts() -> None:
    assert "<img" not in render_markdown("![pixel](https://tracker.test/p.gif)")


# -- names and paths ------------------------------------------------------------


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
    assert slug_for_path(tmp_path, tmp_path / relative) == slug


def test_paths_outside_the_folder_belong_to_no_story(tmp_path: Path) -> None:
    assert slug_for_path(tmp_path / "stories", tmp_path / "elsewhere.md") is None


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Maria Alvarez", "maria-alvarez"), ("José O'Brien-Núñez", "jose-o-brien-nunez")],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_tv_line_falls_back_to_title_then_first_sentence(write_story) -> None:
    story = _story(write_story, quote=None, title=None)
    assert story.tv_line == "A story worth telling."
    assert _story(write_story, quote=None, title="The night shift").tv_line == "The night shift"


def test_initials(write_story) -> None:
    assert _story(write_story, name="Maria de la Cruz").initials == "MC"
    assert _story(write_story, name="Cher").initials == "C"
