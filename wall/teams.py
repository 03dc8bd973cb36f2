"""The teams a customer can thank: `[teams.NAME]` tables in the instance's config.toml.

[teams.dayton-night]
    name = "the night shift at Dayton"   # slides and cards say "To the night shift at Dayton"
tags = ["dayton"]                    # their stories, for filters
screens = ["dayton-floor"]           # screens on their floor (names from [screens.NAME])
group = ""                           # or a whole screen group
email = "night-shift@example.com"    # where "a customer thanked you" goes
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEAM_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Addresses under /thanks that are not a team's own link (/thanks/<key>).
RESERVED_KEYS = frozenset({"card", "sent", "tv", "tv.json", "photo", "other"})
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")


@dataclass(frozen=True)
class Team:
    key: str
    name: str
    tags: tuple[str, ...] = ()
    screens: tuple[str, ...] = ()
    group: str = ""
    email: str = ""

    @property
    def addressed(self) -> str:
        """How a slide or card addresses the team: "To the night shift at Dayton"."""
        return f"To {self.name}"


def parse_teams(value: Any) -> dict[str, Team]:
    """The [teams] tables, checked; ValueError names the first bad one."""
    if not isinstance(value, Mapping):
        raise ValueError("must be [teams.NAME] tables in config.toml")
    teams: dict[str, Team] = {}
    for key, table in value.items():
        if isinstance(table, Team) and table.key == key:
            teams[key] = table  # parsed already: `storywall serve` hands settings on parsed
            continue
        if not isinstance(key, str) or not TEAM_KEY_RE.match(key):
            raise ValueError(f"team {key!r}: use lowercase letters, digits and hyphens")
        if key in RESERVED_KEYS:
            raise ValueError(f"team {key}: that name is taken by /thanks/{key}; choose another")
        if not isinstance(table, Mapping):
            raise ValueError(f"team {key}: must be a table with at least a name")
        name = " ".join(str(table.get("name") or "").split())
        if not name or len(name) > 120:
            raise ValueError(f"team {key}: needs a name of at most 120 characters")
        email = str(table.get("email") or "").strip()
        if email and not EMAIL_RE.match(email):
            raise ValueError(f"team {key}: {email!r} is not an email address")
        tags, screens = table.get("tags") or [], table.get("screens") or []
        if not isinstance(tags, list) or not isinstance(screens, list):
            raise ValueError(f"team {key}: tags and screens must be lists")
        teams[key] = Team(
            key=key,
            name=name,
            tags=tuple(" ".join(str(t).split()).casefold() for t in tags if str(t).strip()),
            screens=tuple(str(s) for s in screens if str(s).strip()),
            group=str(table.get("group") or ""),
            email=email,
        )
    return teams


def addressed_to(to: str, teams: Mapping[str, Team]) -> str:
    """The line a slide or card shows for a thank-you's `to`: the team's display name
    ("To the night shift at Dayton"), or the customer's own words ("To Maria at the desk");
    "" for no addressee."""
    to = " ".join(str(to or "").split())
    if not to:
        return ""
    team = teams.get(to)
    return team.addressed if team is not None else f"To {to}"


def teams_for_screen(name: str, group: str | None, teams: Mapping[str, Team]) -> tuple[str, ...]:
    """The keys of the teams whose floor this screen is on: it is in their `screens`,
    or in their screen `group`."""
    return tuple(
        key
        for key, team in teams.items()
        if (name and name in team.screens) or (group and team.group == group)
    )


def thanks_team(story: Any, team: Team) -> bool:
    """True for a thank-you addressed to `team` (by its key)."""
    return story.kind == "thank-you" and story.to == team.key


def of_team(story: Any, team: Team) -> bool:
    """True for a story the team's filter shows: thank-yous to them, and stories with
    any of their tags."""
    return thanks_team(story, team) or bool(set(team.tags) & set(story.tags))
