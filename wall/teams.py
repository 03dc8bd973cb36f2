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
        if not isinstance(key, str) or not TEAM_KEY_RE.match(key):
            raise ValueError(f"team {key!r}: use lowercase letters, digits and hyphens")
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
