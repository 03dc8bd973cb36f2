"""Hallway screens: what each named screen shows, and when.

Screens are named in the instance config (``config.toml``)::

    [screens.lobby]
    tags = ["manufacturing"]     # only these tags (default: everything)
    kinds = ["story"]            # story, thank-you (default: both)
    interval = 12                # seconds per slide (default: each story's own)
    orientation = "portrait"     # portrait, landscape or auto
    group = "ground-floor"       # screens in a group never show the same story at once
                                 # (give them the same tags and kinds)
    hours = "07:00-19:00"        # blank outside these hours (burn-in, energy)

A screen listed in a team's ``screens`` (or in its ``group``, see wall.teams) is
on that team's floor: it shows the thank-yous to that team first, then more often.

A kiosk opens ``/kiosk?screen=lobby``; ``?tags=``, ``?interval=`` and
``?hours=`` also work directly and win over the config.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .stories import KINDS
from .teams import Team, teams_for_screen

INTERVAL_BOUNDS = (3.0, 600.0)
ORIENTATIONS = ("auto", "portrait", "landscape")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Screen:
    """One hallway screen's settings, after validation: bad values fall back to defaults."""

    name: str = ""
    known: bool = False
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = KINDS
    interval: float | None = None
    orientation: str = "auto"
    group: str | None = None
    group_index: int = 0
    group_size: int = 1
    hours: tuple[str, str] | None = None
    teams: tuple[str, ...] = ()  # keys of the teams whose floor the screen is on
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "known": self.known,
            "tags": list(self.tags),
            "kinds": list(self.kinds),
            "interval": self.interval,
            "orientation": self.orientation,
            "group": self.group,
            "group_index": self.group_index,
            "group_size": self.group_size,
            "hours": list(self.hours) if self.hours else None,
            "teams": list(self.teams),
            "notes": list(self.notes),
        }


def parse_interval(raw: object) -> float | None:
    """Seconds per slide, within bounds; None (use each story's own) for nonsense."""
    if isinstance(raw, bool):
        return None
    try:
        seconds = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    if not seconds > 0:  # zero, negative or NaN: no interval at all
        return None
    return min(max(seconds, INTERVAL_BOUNDS[0]), INTERVAL_BOUNDS[1])


def parse_hours(raw: object) -> tuple[str, str] | None:
    """'07:00-19:00' → ('07:00', '19:00'); None for anything else."""
    if not isinstance(raw, str):
        return None
    match = _HOURS_RE.match(raw)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        return None
    if start == end:
        return None
    return (start.strftime("%H:%M"), end.strftime("%H:%M"))


def _tags(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list | tuple):
        return ()
    return tuple(dict.fromkeys(str(t).strip().casefold() for t in raw if str(t).strip()))[:20]


def resolve_screen(
    screens: Mapping[str, Any],
    name: str = "",
    *,
    tags: str = "",
    interval: str = "",
    hours: str = "",
    teams: Mapping[str, Team] | None = None,
) -> Screen:
    """The settings for the screen named `name`, with query-string overrides applied."""
    notes: list[str] = []
    name = name.strip()
    if name and not NAME_RE.match(name):
        notes.append("screen name ignored: use letters, digits, spaces, '.', '_' or '-'")
        name = ""
    config = screens.get(name) if name else None
    known = isinstance(config, Mapping)
    if name and not known:
        notes.append(f"no screen called {name!r} in the config; showing everything")
    config = config if known else {}

    screen_tags = _tags(tags) if tags else _tags(config.get("tags"))
    kinds = tuple(k for k in _tags(config.get("kinds")) if k in KINDS) or KINDS
    chosen_interval = parse_interval(interval) if interval else None
    if interval and chosen_interval is None:
        notes.append(f"interval {interval!r} ignored")
    if chosen_interval is None and config.get("interval") is not None:
        chosen_interval = parse_interval(config.get("interval"))
        if chosen_interval is None:
            notes.append(f"interval {config.get('interval')!r} in the config ignored")
    orientation = str(config.get("orientation", "auto"))
    if orientation not in ORIENTATIONS:
        notes.append(f"orientation {orientation!r} ignored")
        orientation = "auto"
    raw_hours = hours or config.get("hours")
    chosen_hours = parse_hours(raw_hours) if raw_hours else None
    if raw_hours and chosen_hours is None:
        notes.append(f"hours {raw_hours!r} ignored; use HH:MM-HH:MM")

    group = config.get("group") if isinstance(config.get("group"), str) else None
    index, size = 0, 1
    if group:
        members = sorted(
            n for n, c in screens.items() if isinstance(c, Mapping) and c.get("group") == group
        )
        index, size = members.index(name), len(members)
    return Screen(
        name=name, known=known, tags=screen_tags, kinds=kinds, interval=chosen_interval,
        orientation=orientation, group=group, group_index=index, group_size=size,
        hours=chosen_hours, teams=teams_for_screen(name, group, teams or {}),
        notes=tuple(notes),
    )  # fmt: skip
