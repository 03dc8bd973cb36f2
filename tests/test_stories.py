"""Story files: golden-file parser tests, visibility rules, safe rendering."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import story_text
from wall.index import StoryIndex
from wall.parsing import StoryLimits, load_story
from wall.stories import FRONT_MATTER_KEYS, render_markdown, slugify

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


# -- names ---------------------------------------------------------------------


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


# -- hostile files: git keeps symlinks, and anyone may write YAML -------------------

SECRET = b"root:x:0:0:not for the wall\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the stories folder, with files the wall must never read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.jpg").write_bytes(SECRET)
    return folder


def _problems(path: Path, stories: Path) -> list[str]:
    story, problems = load_story(path, stories)
    assert story is None
    return [str(p) for p in problems]


def test_a_photo_linked_to_a_file_outside_is_a_problem(write_story, stories, outside) -> None:
    path = write_story("maria", photo="photo.jpg", photo_alt="Maria")
    (stories / "maria" / "photo.jpg").symlink_to(outside / "secret.jpg")
    problems = _problems(path, stories)
    assert len(problems) == 1 and "photo: photo.jpg is a link to a file outside" in problems[0]
    index = StoryIndex(stories)
    index.load()
    assert index.get("maria") is None and index.stories() == []
    assert ["outside the stories folder" in str(p) for p in index.problems()] == [True]


def test_a_bundle_folder_linked_outside_is_a_problem(stories, outside) -> None:
    (outside / "index.md").write_text(story_text())
    (stories / "maria").symlink_to(outside, target_is_directory=True)
    assert "outside the stories folder" in _problems(stories / "maria" / "index.md", stories)[0]
    index = StoryIndex(stories)
    index.load()
    assert index.stories() == [] and "outside the stories folder" in str(index.problems()[0])


@pytest.mark.parametrize("relative", ["maria/index.md", "maria.md"])
def test_a_story_file_linked_to_a_file_elsewhere_is_a_problem(
    stories, outside, relative: str
) -> None:
    (outside / "story.md").write_text(story_text())
    path = stories / relative
    path.parent.mkdir(exist_ok=True)
    path.symlink_to(outside / "story.md")
    assert "outside the stories folder" in _problems(path, stories)[0]
    index = StoryIndex(stories)
    index.load()
    assert index.stories() == [] and "outside the stories folder" in str(index.problems()[0])


def test_a_photo_linked_to_another_file_inside_the_folder_is_fine(write_story, stories) -> None:
    write_story("maria", photo="photo.jpg", photo_alt="Maria")
    (stories / "maria" / "photo.jpg").write_bytes(b"jpeg")
    path = write_story("dev", photo="photo.jpg", photo_alt="Dev")
    (stories / "dev" / "photo.jpg").symlink_to(Path("..") / "maria" / "photo.jpg")
    story, problems = load_story(path, stories)
    assert problems == [] and story is not None
    assert story.photo is not None and story.photo.read_bytes() == b"jpeg"


def test_a_stories_folder_that_is_a_symlink_survives_a_release_swap(tmp_path: Path) -> None:
    for n, role in ((1, "Swing-shift foreman"), (2, "Plant manager")):
        bundle = tmp_path / "releases" / str(n) / "stories" / "maria"
        bundle.mkdir(parents=True)
        (bundle / "index.md").write_text(story_text(role=role, photo="photo.jpg", photo_alt="M"))
        (bundle / "photo.jpg").write_bytes(b"jpeg %d" % n)
    link = tmp_path / "stories"
    link.symlink_to(tmp_path / "releases" / "1" / "stories", target_is_directory=True)
    index = StoryIndex(link)
    index.load()
    assert index.problems() == []
    maria = index.get("maria")
    assert maria is not None and maria.role == "Swing-shift foreman"

    swap = tmp_path / "stories.new"
    swap.symlink_to(tmp_path / "releases" / "2" / "stories", target_is_directory=True)
    os.replace(swap, link)  # how deploy tools switch releases: one atomic rename
    assert index.rescan()
    assert index.problems() == []
    maria = index.get("maria")
    assert maria is not None and maria.role == "Plant manager"
    assert maria.photo is not None and maria.photo.read_bytes() == b"jpeg 2"


def _alias_bomb(levels: int = 9) -> str:
    """About a kilobyte of YAML that expands to 9**9 (387 million) strings."""
    lines = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        refs = ", ".join([f"*l{n - 1}"] * 9)
        lines.append(f"  l{n}: &l{n} [{refs}]")
    return "laughs:\n" + "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_a_problem_found_quickly(stories: Path) -> None:
    bomb = _alias_bomb()
    assert len(bomb) < 1200
    path = stories / "bomb.md"
    path.write_text(story_text().replace("---\n", "---\n" + bomb, 1))
    started = time.perf_counter()
    story, problems = load_story(path, stories)
    elapsed = time.perf_counter() - started
    assert story is None
    assert ["YAML aliases" in p.message for p in problems] == [True]
    assert elapsed < 0.5, f"took {elapsed:.2f}s"


def test_a_self_referencing_yaml_alias_is_a_problem(stories: Path) -> None:
    path = stories / "loop.md"
    path.write_text(story_text().replace("---\n", "---\nloop: &loop [*loop]\n", 1))
    story, problems = load_story(path, stories)
    assert story is None
    assert ["refer to themselves" in p.message for p in problems] == [True]


def test_a_few_aliases_are_fine(stories: Path) -> None:
    path = stories / "dry.md"
    path.write_text(story_text().replace("---\n", "---\nx-who: &who Maria\nx-again: *who\n", 1))
    story, problems = load_story(path, stories)
    assert problems == [] and story is not None and story.meta["x-again"] == "Maria"


SMALL = StoryLimits(front_matter_bytes=1024, body_bytes=2048)


def test_front_matter_over_its_limit_is_a_problem(stories: Path) -> None:
    path = stories / "long.md"
    path.write_text(story_text(**{"x-notes": "n" * 1100}))
    assert load_story(path, stories)[0] is not None  # within the default limits
    story, problems = load_story(path, stories, limits=SMALL)
    assert story is None
    assert ["front matter is over 1 KB" in p.message for p in problems] == [True]
    index = StoryIndex(stories, limits=SMALL)
    index.load()
    assert index.stories() == [] and "front matter is over 1 KB" in str(index.problems()[0])


def test_a_body_over_its_limit_is_a_problem(stories: Path) -> None:
    path = stories / "long.md"
    path.write_text(story_text(body="word " * 420))  # 2,100 bytes: over 2 KB, within the file
    assert load_story(path, stories)[0] is not None
    story, problems = load_story(path, stories, limits=SMALL)
    assert story is None
    assert ["body is over 2 KB" in p.message for p in problems] == [True]
    index = StoryIndex(stories, limits=SMALL)
    index.load()
    assert index.stories() == [] and "body is over 2 KB" in str(index.problems()[0])


def test_a_huge_file_is_read_no_further_than_the_limit(stories: Path) -> None:
    path = stories / "huge.md"
    path.write_text(story_text())
    with path.open("r+b") as f:
        f.truncate(8 << 30)  # 8 GB, sparse: reading it all would take minutes and the memory
    started = time.perf_counter()
    story, problems = load_story(path, stories, limits=SMALL)
    too_big = "the file is larger than the limits allow"
    assert story is None and [too_big in p.message for p in problems] == [True]
    index = StoryIndex(stories)  # the default limits, through the index
    index.load()
    assert index.stories() == [] and too_big in str(index.problems()[0])
    assert time.perf_counter() - started < 1
