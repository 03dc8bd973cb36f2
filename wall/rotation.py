"""Rotation: how long each story stays on a hallway screen, and in what order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .stories import Story

# People read a TV from a few metres while walking: about 3 words a second,
# plus time to take in the face and the name.
GLANCE_SECONDS = 5.0
WORDS_PER_SECOND = 3.0
NEW_FOR_DAYS = 14


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


def cycle(stories: Sequence[Story], today: dt.date) -> list[str]:
    """One cycle of slugs: every story once, featured and new ones twice, spread out.

    A highlighted story's second showing goes about half a cycle after its
    first. The cycle repeats, so it is treated as a ring: the same face never
    appears twice in a row, not even where one cycle ends and the next begins.
    When every story is highlighted, none is more so: each comes once.
    """
    order = [s.slug for s in stories]
    extra = [s.slug for s in stories if s.featured or is_new(s, today)]
    if len(order) < 3 or not extra or len(extra) == len(order):
        return order
    result = list(order)
    for slug in extra:
        n = len(result)
        target = result.index(slug) + n // 2 + 1
        for step in range(n):
            at = (target + step) % n
            # Inserting at `at` puts it between result[at - 1] and result[at], on the ring.
            if slug not in (result[at - 1], result[at]):
                result.insert(at or n, slug)
                break
    return result
