"""How pages show values: a headline's last words kept together."""

from __future__ import annotations

import pytest

from wall.web.filters import keep_last_words

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("headline", "shown"),
    [
        ("She stopped line 3 for us", f"She stopped line 3 for{NBSP}us"),
        ("Maria Alvarez", f"Maria{NBSP}Alvarez"),
        ("Thanks", "Thanks"),
        ("", ""),
        # Too long to share a phone's line at headline size: left free to break.
        ("The infrastructure modernization", "The infrastructure modernization"),
    ],
)
def test_a_headline_keeps_its_last_two_words_together(headline: str, shown: str) -> None:
    assert keep_last_words(headline) == shown


def test_the_story_page_headline_never_leaves_a_word_alone(client, write_story, index) -> None:
    write_story("maria", title="She stopped line 3 for <us>")
    index.rescan()
    html = client.get("/stories/maria").get_data(as_text=True)
    assert f"<h1>She stopped line 3 for{NBSP}&lt;us&gt;</h1>" in html  # and still escaped
