"""Has a withdrawn story left every screen? The answer, from the screens' heartbeats.

Each playlist the server sends is remembered by its ETag with the stories it
holds (`Database.remember_playlist`), and each heartbeat says which playlist
the kiosk holds now and since when. A screen has *acknowledged* a takedown
when it reported, after the withdrawal, a playlist known not to hold the
story. Anything less certain counts as "not yet": a screen not heard from
since, one whose playlist still holds the story, and one whose playlist the
server does not know.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from .db import Database

# Screens silent for longer than this are not listed: a TV taken down last
# month is not one the story can still be on.
HEARD_WITHIN_SECONDS = 7 * 86400.0

# What a browser may make of the ETag it was sent: W/"abc123-gz" for "abc123".
_ETAG_RE = re.compile(r'^\s*(?:W/)?"?([^"\s]*?)(?:-gz)?"?\s*$')


def playlist_etag(value: str | None) -> str | None:
    """The playlist's own ETag from one a kiosk reports: no W/, quotes or -gz suffix."""
    if not value:
        return None
    match = _ETAG_RE.match(value)
    return (match.group(1) if match else value.strip()) or None


@dataclass(frozen=True)
class ScreenTakedown:
    """Where one screen stands on a takedown."""

    name: str
    last_seen: float
    silent: bool  # not heard from for longer than the report's stale_after
    acknowledged: bool
    # When the screen first reported the playlist without the story that it
    # holds now; before the withdrawal if it had no copy of the story then
    # either. None while not acknowledged.
    acknowledged_at: float | None
    # Why not yet, in words for a moderator; "" once acknowledged.
    waiting_for: str
    playlist: str | None
    # acknowledged_at - since: negative when it had no copy at the withdrawal.
    acknowledged_after: float | None
    last_heard: float  # seconds before the report

    @property
    def acknowledged_words(self) -> str:
        """When it acknowledged, for a moderator: "4 s after the withdrawal"."""
        if self.acknowledged_after is None:
            return ""
        if self.acknowledged_after < 0:
            return "had no copy of it at the withdrawal"
        return f"{in_words(self.acknowledged_after)} after the withdrawal"

    @property
    def last_heard_words(self) -> str:
        return f"{in_words(self.last_heard)} ago"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "last_seen": self.last_seen,
            "silent": self.silent,
            "acknowledged": self.acknowledged,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_after": self.acknowledged_after,
            "waiting_for": self.waiting_for,
            "playlist": self.playlist,
        }


@dataclass(frozen=True)
class TakedownReport:
    """Which screens have acknowledged a playlist without `slug`, since `since`."""

    slug: str
    since: float
    now: float
    screens: tuple[ScreenTakedown, ...]

    @property
    def acknowledged(self) -> tuple[ScreenTakedown, ...]:
        return tuple(s for s in self.screens if s.acknowledged)

    @property
    def waiting(self) -> tuple[ScreenTakedown, ...]:
        return tuple(s for s in self.screens if not s.acknowledged)

    @property
    def since_words(self) -> str:
        """The time of the withdrawal, on the server's clock, to the second."""
        return dt.datetime.fromtimestamp(self.since).astimezone().strftime("%Y-%m-%d %H:%M:%S")

    @property
    def complete(self) -> bool:
        """Every screen heard from lately has acknowledged (True when there are none)."""
        return not self.waiting

    @property
    def summary(self) -> str:
        total, done = len(self.screens), len(self.acknowledged)
        if total == 0:
            return "no screen has been heard from in the last 7 days"
        if done == total:
            return (
                f"all {total} screens acknowledged" if total > 1 else "the one screen acknowledged"
            )
        noun = "screen" if total == 1 else "screens"
        return f"{done} of {total} {noun} acknowledged; not yet: " + ", ".join(
            s.name for s in self.waiting
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "since": self.since,
            "now": self.now,
            "complete": self.complete,
            "summary": self.summary,
            "screens": [s.as_json() for s in self.screens],
        }


def takedown_report(
    db: Database, slug: str, since: float, now: float, stale_after: float
) -> TakedownReport:
    """Where every screen heard from in the last 7 days stands on taking `slug` down.

    `since` is when the story was withdrawn (epoch seconds); `stale_after` is
    how long a screen may be quiet before it is flagged silent.
    """
    screens = []
    known: dict[str, frozenset[str] | None] = {}
    for row in db.screens_heard_since(now - HEARD_WITHIN_SECONDS):
        etag = playlist_etag(row["playlist"])
        if etag is not None and etag not in known:
            known[etag] = db.playlist_slugs(etag)
        slugs = known.get(etag) if etag is not None else None
        last_seen = float(row["last_seen"])
        if last_seen <= since:
            waiting = "not heard from since the withdrawal"
        elif etag is None:
            waiting = "has not said which playlist it holds"
        elif slugs is None:
            waiting = "holds a playlist the server no longer knows"
        elif slug in slugs:
            waiting = "still holds a playlist with the story"
        else:
            waiting = ""
        acknowledged = not waiting
        held_since = row["playlist_since"]
        acknowledged_at = (
            float(held_since if held_since is not None else last_seen) if acknowledged else None
        )
        screens.append(
            ScreenTakedown(
                name=row["name"],
                last_seen=last_seen,
                silent=now - last_seen > stale_after,
                acknowledged=acknowledged,
                acknowledged_at=acknowledged_at,
                waiting_for=waiting,
                playlist=etag,
                acknowledged_after=None if acknowledged_at is None else acknowledged_at - since,
                last_heard=max(now - last_seen, 0.0),
            )
        )
    return TakedownReport(slug=slug, since=since, now=now, screens=tuple(screens))


def in_words(seconds: float) -> str:
    """A span of time as a moderator reads it: "4 s", "12 min", "3 h", "2 days"."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
