"""Rotation: how long each story stays on a hallway screen, and in what order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from .stories import Story

# People read a TV from a few metres while walking: about 3 words a second,
# plus time to take in the face and the name.
GLANCE_SECONDS = 5.0
WORDS_PER_SECOND = 3.0
NEW_FOR_DAYS = 14
# How often a thank-you to a screen's own team comes in one cycle, while it is boosted.
BOOSTED_SHOWINGS = 3


def seconds_on_screen(story: Story, shortest: int = 8, longest: int = 30) -> int:
    """The story's own `duration`, or a reading time for its slide, within bounds."""
    if story.duration:
        seconds = float(story.duration)
    else:
        words = len(f"{story.name} {story.role} {story.company} {story.tv_line}".split())
        seconds = GLANCE_SECONDS + words / WORDS_PER_SECOND
    return int(min(max(round(seconds), shortest), longest))


def is_new(story: Story, today: dt.date) -> bool:
    return story.date is not None and (today - story.date).days <= NEW_FOR_DAYS


def approved_on(story: Story) -> dt.date | None:
    """The day a moderator approved the story (its `approved_at`), else its own date."""
    raw = story.meta.get("approved_at")
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, str):
        try:
            return dt.datetime.fromisoformat(raw.strip()).date()
        except ValueError:
            pass
    return story.date


def boosted(stories: Sequence[Story], teams: Iterable[str], today: dt.date, days: int) -> list[str]:
    """Slugs of the thank-yous to `teams` approved in the last `days` days, newest first.

    On a screen on those teams' floor they come first in the cycle, and more often.
    """
    wanted = set(teams)
    if not wanted or days <= 0:
        return []
    found = []
    for story in stories:
        if story.kind != "thank-you" or story.to not in wanted:
            continue
        day = approved_on(story)
        if day is not None and 0 <= (today - day).days < days:
            found.append((day, str(story.meta.get("approved_at") or ""), story.slug))
    return [slug for *_, slug in sorted(found, reverse=True)]


def cycle(stories: Sequence[Story], today: dt.date, boosted: Sequence[str] = ()) -> list[str]:
    """One cycle of slugs: every story once, featured and new ones twice, spread out.

    Thank-yous `boosted` for this screen's team open the cycle and come
    BOOSTED_SHOWINGS times. Each story's further showings are spread evenly
    around the cycle. The cycle repeats, so it is treated as a ring: the same
    face never appears twice in a row, not even where one cycle ends and the
    next begins. When every story is weighted alike, none is more so: each
    comes once.
    """
    first = [slug for slug in dict.fromkeys(boosted) if any(s.slug == slug for s in stories)]
    order = first + [s.slug for s in stories if s.slug not in first]
    showings = {
        s.slug: BOOSTED_SHOWINGS if s.slug in first else 2 if s.featured or is_new(s, today) else 1
        for s in stories
    }
    if len(order) < 3 or len(set(showings.values())) < 2:
        return order
    result = list(order)
    for slug in order:
        extra = showings[slug] - 1
        for done in range(extra):
            n = len(result)
            at_first = result.index(slug)
            last = n - 1 - result[::-1].index(slug)
            # What is left of the ring from the last showing back round to the
            # first, shared evenly among the showings still to place.
            gap = (n - (last - at_first)) // (extra - done + 1)
            target = last + gap + 1
            for step in range(n):
                at = (target + step) % n
                # Inserting at `at` puts it between result[at - 1] and result[at], on the ring.
                if slug not in (result[at - 1], result[at]):
                    result.insert(at or n, slug)
                    break
    return result
