"""Rotation: how long each story stays up, and the order of one cycle."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pytest

from wall.rotation import (
    BOOSTED_SHOWINGS,
    NEW_FOR_DAYS,
    approved_on,
    boosted,
    cycle,
    is_new,
    seconds_on_screen,
)
from wall.stories import Story

TODAY = dt.date(2026, 10, 20)
OLD = TODAY - dt.timedelta(days=60)


def story(slug: str, **fields: object) -> Story:
    values: dict[str, object] = {
        "slug": slug,
        "source": Path(f"/stories/{slug}.md"),
        "name": "Maria Alvarez",
        "role": "Foreman",
        "company": "Ridgeway Foundry",
        "body": "",
        "quote": "When your part runs late, my crew goes home late.",
        "date": OLD,
    }
    values.update(fields)
    return Story(**values)  # type: ignore[arg-type]


# -- how long a story stays up ----------------------------------------------------


@pytest.mark.parametrize(("duration", "expected"), [(20, 20), (8, 8), (2, 8), (45, 30), (600, 30)])
def test_duration_is_kept_within_bounds(duration: int, expected: int) -> None:
    assert seconds_on_screen(story("a", duration=duration), 8, 30) == expected


def test_without_duration_longer_text_stays_longer() -> None:
    short = story("a", quote="Yes.")
    long = story("b", quote=" ".join(["word"] * 45))
    assert seconds_on_screen(short) == 8  # a glance, but never less than the shortest
    assert seconds_on_screen(long) > seconds_on_screen(story("c"))
    assert seconds_on_screen(long) <= 30


def test_reading_time_follows_the_words() -> None:
    # 5 s to take in the face, then three words a second: 12 words here.
    twelve = story(
        "a",
        name="Ann Lee",
        role="Clerk",
        company="Acme",
        quote="one two three four five six seven eight",
    )
    assert seconds_on_screen(twelve, 1, 60) == 9


def test_bounds_are_configurable() -> None:
    assert seconds_on_screen(story("a", duration=4), 3, 10) == 4
    assert seconds_on_screen(story("a", duration=40), 3, 10) == 10
    assert seconds_on_screen(story("a"), 20, 25) == 20


# -- the order of one cycle -------------------------------------------------------


def assert_good_cycle(stories: list[Story], result: list[str]) -> None:
    counts = Counter(result)
    highlighted = {s.slug for s in stories if s.featured or is_new(s, TODAY)}
    everyone_twice = len(highlighted) == len(stories)
    for s in stories:
        wanted = 2 if s.slug in highlighted and not everyone_twice and len(stories) >= 3 else 1
        assert counts[s.slug] == wanted, (s.slug, result)
    assert set(counts) == {s.slug for s in stories}
    if len(stories) > 1:
        # A ring: the last of one cycle is followed by the first of the next.
        for a, b in zip(result, result[1:] + result[:1], strict=True):
            assert a != b, result


def test_every_story_once_in_the_given_order() -> None:
    stories = [story(c) for c in "abcde"]
    assert cycle(stories, TODAY) == list("abcde")


def test_featured_and_new_come_twice_half_a_cycle_apart() -> None:
    stories = [
        story("star", featured=True),
        story("fresh", date=TODAY - dt.timedelta(days=3)),
        *(story(c) for c in "abcdef"),
    ]
    result = cycle(stories, TODAY)
    assert_good_cycle(stories, result)
    first, second = (i for i, slug in enumerate(result) if slug == "star")
    assert second - first >= len(stories) // 2


def test_a_highlighted_story_at_the_end_still_comes_twice() -> None:
    stories = [*(story(c) for c in "abcde"), story("star", featured=True)]
    result = cycle(stories, TODAY)
    assert_good_cycle(stories, result)
    assert result[-1] != result[0]


def test_new_means_the_last_two_weeks() -> None:
    assert is_new(story("a", date=TODAY - dt.timedelta(days=NEW_FOR_DAYS)), TODAY)
    assert not is_new(story("a", date=TODAY - dt.timedelta(days=NEW_FOR_DAYS + 1)), TODAY)
    assert not is_new(story("a", date=None), TODAY)


@pytest.mark.parametrize("seed", range(40))
def test_any_mix_makes_a_good_cycle(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 14)
    stories = [
        story(f"s{i}", featured=rng.random() < 0.3, date=TODAY if rng.random() < 0.2 else OLD)
        for i in range(n)
    ]
    assert_good_cycle(stories, cycle(stories, TODAY))


def test_tiny_walls() -> None:
    assert cycle([], TODAY) == []
    assert cycle([story("a", featured=True)], TODAY) == ["a"]
    # Two stories cannot show one of them twice without a repeat on the ring.
    assert cycle([story("a", featured=True), story("b")], TODAY) == ["a", "b"]
    three = [story("a", featured=True), story("b"), story("c")]
    assert_good_cycle(three, cycle(three, TODAY))


# -- thank-yous on the screens of the team they thank --------------------------------


def thanks(slug: str, to: str = "dayton-night", days_ago: int = 1, **fields: object) -> Story:
    approved = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(9))
    return story(
        slug, kind="thank-you", to=to, meta={"approved_at": approved.isoformat()}, **fields
    )


def test_approved_on_reads_the_approval_else_the_date() -> None:
    assert approved_on(thanks("t", days_ago=3)) == TODAY - dt.timedelta(days=3)
    assert approved_on(story("a")) == OLD
    assert approved_on(story("a", meta={"approved_at": "not a time"})) == OLD


def test_boosted_are_the_teams_thank_yous_within_the_days_newest_first() -> None:
    stories = [
        thanks("older", days_ago=5),
        thanks("newer", days_ago=1),
        thanks("too-old", days_ago=7),
        thanks("other-team", to="payroll"),
        story("a-story", to="dayton-night"),  # not a thank-you
    ]
    assert boosted(stories, ["dayton-night"], TODAY, 7) == ["newer", "older"]
    assert boosted(stories, ["dayton-night", "payroll"], TODAY, 7)[0] in ("newer", "other-team")
    assert boosted(stories, [], TODAY, 7) == []
    assert boosted(stories, ["dayton-night"], TODAY, 0) == []


def test_a_boosted_thank_you_opens_the_cycle_and_comes_more_often_spread_out() -> None:
    stories = [*(story(c) for c in "abcdefgh"), thanks("t")]
    result = cycle(stories, TODAY, ["t"])
    assert result[0] == "t"
    assert result.count("t") == BOOSTED_SHOWINGS
    assert Counter(result) == {**{c: 1 for c in "abcdefgh"}, "t": BOOSTED_SHOWINGS}
    at = [i for i, slug in enumerate(result) if slug == "t"]
    gaps = [b - a for a, b in zip(at, [*at[1:], at[0] + len(result)], strict=True)]
    assert min(gaps) >= len(result) // BOOSTED_SHOWINGS - 1, result


def test_boosted_next_to_featured_and_new_makes_a_good_ring() -> None:
    stories = [
        story("star", featured=True),
        story("fresh", date=TODAY),
        *(story(c) for c in "abcdef"),
        thanks("t1"),
        thanks("t2", days_ago=2),
    ]
    result = cycle(stories, TODAY, ["t1", "t2"])
    assert result[:2] == ["t1", "t2"]
    counts = Counter(result)
    assert counts["t1"] == counts["t2"] == BOOSTED_SHOWINGS
    assert counts["star"] == counts["fresh"] == 2 and counts["a"] == 1
    for a, b in zip(result, result[1:] + result[:1], strict=True):
        assert a != b, result


def test_boosted_slugs_not_on_this_screen_are_ignored() -> None:
    stories = [story(c) for c in "abc"]
    assert cycle(stories, TODAY, ["gone"]) == list("abc")


def test_when_every_story_is_boosted_none_is_more_so() -> None:
    stories = [thanks(f"t{n}") for n in range(4)]
    assert cycle(stories, TODAY, [s.slug for s in stories]) == [s.slug for s in stories]
