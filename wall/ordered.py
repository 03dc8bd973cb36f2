"""Stories in wall order, kept sorted as single stories come and go.

Wall order is featured first, then newest, then by slug (descending, like
the date). Sorting ten thousand stories after every edit costs tens of
milliseconds; placing the one that changed costs a binary search.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Iterable

from .stories import Story

Key = tuple[bool, dt.date, str]


def wall_order_key(story: Story) -> Key:
    """Ascending by this is the wall's order reversed; slugs are unique, so are keys."""
    return (story.featured, story.date or dt.date.min, story.slug)


class OrderedStories:
    """A set of stories (one per slug) that lists them in wall order."""

    def __init__(self, stories: Iterable[Story] = ()) -> None:
        pairs = sorted((wall_order_key(s), s) for s in stories)  # keys unique: never compares s
        self._keys = [key for key, _ in pairs]
        self._stories = [story for _, story in pairs]

    def where(self, keep: Callable[[Story], bool]) -> OrderedStories:
        """The stories for which `keep` is true, in the same order."""
        kept = OrderedStories()
        for key, story in zip(self._keys, self._stories, strict=True):
            if keep(story):
                kept._keys.append(key)
                kept._stories.append(story)
        return kept

    def add(self, story: Story) -> None:
        key = wall_order_key(story)
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            raise ValueError(f"{story.slug} is already in order")
        self._keys.insert(at, key)
        self._stories.insert(at, story)

    def discard(self, story: Story) -> bool:
        """Take out this very story object; False when it is not here."""
        at = bisect_left(self._keys, wall_order_key(story))
        if at == len(self._stories) or self._stories[at] is not story:
            return False
        del self._keys[at], self._stories[at]
        return True

    def in_wall_order(self) -> list[Story]:
        """A new list: featured first, then newest."""
        return self._stories[::-1]

    def __len__(self) -> int:
        return len(self._stories)
