"""Front matter as text: the fences, and edits that touch only their own lines."""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path

import pytest

from wall.frontmatter import DELETE, NoFrontMatter, set_front_matter, split_text

TODAY = dt.date.today()

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


def write_hand_written(folder: Path) -> Path:
    """HAND_WRITTEN as the bundle `folder`/maria/index.md."""
    (folder / "maria").mkdir(parents=True)
    path = folder / "maria" / "index.md"
    path.write_bytes(HAND_WRITTEN.encode())
    return path


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.mark.parametrize(
    ("front", "changes", "expected"),
    [
        ("name: x\n", {"consent.withdrawn": TODAY}, f"name: x\nconsent:\n  withdrawn: {TODAY}\n"),
        (
            "consent: {given_by: M, date: 2026-01-01, scope: [hallway]}\nname: x\n",
            {"consent.scope": ["intranet"]},
            "consent:\n  given_by: M\n  date: 2026-01-01\n  scope: [intranet]\nname: x\n",
        ),
        ("a: 1\nb: 2\n# end\n", {"a": DELETE}, "b: 2\n# end\n"),
        ("a: 1\nb:\n  - x\n  - y\n\nc: 3\n", {"b": ["z"]}, "a: 1\nb: [z]\n\nc: 3\n"),
        ("a: |\n  text\n  more\nb: 2\n", {"a": "one line"}, "a: one line\nb: 2\n"),
        ("", {"name": "yes", "tags": []}, "name: 'yes'\n"),
        ("location:\nname: x\n", {"location": "Dayton"}, "location: Dayton\nname: x\n"),
    ],
)
def test_front_matter_changes(front: str, changes: dict, expected: str) -> None:
    assert set_front_matter(front, changes) == expected


def test_split_text_keeps_every_byte() -> None:
    parts = split_text(HAND_WRITTEN)
    assert parts.text == HAND_WRITTEN
    assert parts.front.startswith("name: Maria Alvarez") and parts.front.endswith("true}\n")
    assert parts.body.startswith("Maria runs")


@pytest.mark.parametrize(
    ("text", "words"),
    [("name: x\n", "must start with a line '---'"), ("---\nname: x\n", "never closed")],
)
def test_text_without_front_matter_says_what_to_fix(text: str, words: str) -> None:
    with pytest.raises(NoFrontMatter, match=words):
        split_text(text)
