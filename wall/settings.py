"""Every setting the wall reads, with its default and what it is for.

Each one can be set as an environment variable with the ``WALL_`` prefix
(``WALL_STORIES_DIR``), or as a lowercase key in ``config.toml`` in the
instance folder. The README's settings table is checked against this list.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"WALL_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("STORIES_DIR", "stories", "Folder of story files the wall shows and watches."),
    Setting(
        "INSTANCE_PATH",
        "instance",
        "Folder for operational data: SQLite, photo renditions, secret key, config.toml.",
    ),
    Setting("SITE_NAME", "Story Wall", "Name shown in page titles and the intranet header."),
    Setting(
        "SECRET_KEY",
        None,
        "Signs session cookies. When unset, one is generated into the instance folder.",
    ),
    Setting("WATCH", "auto", "How to notice changes: auto (inotify, else polling), poll, or off."),
    Setting("RESCAN_SECONDS", 300, "Full rescan of the stories folder, as a safety net."),
    Setting("SLIDE_MIN_SECONDS", 8, "Shortest time a story stays on a hallway screen."),
    Setting("SLIDE_MAX_SECONDS", 30, "Longest time a story stays on a hallway screen."),
    Setting("PAGE_SIZE", 48, "Story cards per page on the intranet wall."),
    Setting(
        "TAGS",
        {},
        'Display names of tags, best set as a [tags] table in config.toml (hr = "HR"); '
        "other tags are shown as their words, each capitalised.",
    ),
    Setting(
        "SCREENS",
        {},
        "Named hallway screens (tags, kinds, interval, orientation, group, hours); "
        "best set as [screens.NAME] tables in config.toml.",
    ),
    Setting("RELOAD_AT", "03:30", "Local time each kiosk reloads itself, once the server answers."),
    Setting("HEARTBEAT_SECONDS", 60, "How often each kiosk reports that it is alive."),
    Setting("SCREEN_STALE_SECONDS", 180, "A screen not heard from for this long is flagged."),
    Setting(
        "PUBLIC_URL",
        "",
        "Base URL of the intranet for QR codes on the kiosk, e.g. https://wall.example.com; "
        "default: the URL the kiosk itself uses.",
    ),
    Setting(
        "MAX_PHOTO_PIXELS",
        50_000_000,
        "Largest photo accepted, in pixels, checked before decoding.",
    ),
    Setting(
        "MAX_UPLOAD_MB",
        25,
        "Largest request accepted, in MB (a photo upload); anything bigger is answered 413.",
    ),
    Setting(
        "SUBMIT_REQUIRES_LOGIN",
        False,
        "Only signed-in people may submit stories (single sign-on or a moderator account); "
        "by default anyone who can reach the intranet may.",
    ),
    Setting(
        "SSO_HEADER",
        "",
        "Header a reverse proxy sets to the signed-in user's name, e.g. X-Forwarded-User; "
        "trusted only from TRUSTED_PROXIES. Empty: single sign-on is off.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        "127.0.0.1, ::1",
        "Addresses or networks of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto "
        "and single sign-on header are believed.",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        "auto",
        "Mark the session cookie Secure: auto (when the request came over HTTPS), true, false.",
    ),
    Setting(
        "LOGIN_RATE_LIMIT",
        "10/minute",
        "Sign-in attempts allowed per client address, as COUNT/second|minute|hour|day.",
    ),
    Setting(
        "SUBMIT_RATE_LIMIT",
        "30/hour",
        "Story form posts (previews and submissions) allowed per client address.",
    ),
)

DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every setting's value: defaults, then the instance config.toml, then WALL_*
    environment variables (what an operator sets for one run wins over the
    file), then `overrides` (command-line options, tests).

    This is the one place the environment is read.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    instance = Path(
        overrides.get("INSTANCE_PATH")
        or environ.get("WALL_INSTANCE_PATH")
        or DEFAULTS["INSTANCE_PATH"]
    ).absolute()
    settings = dict(DEFAULTS)
    settings.update(read_config_file(instance / "config.toml"))
    for key, raw in environ.items():
        if key.startswith("WALL_"):
            settings[key[5:]] = _parse_env(raw)
    settings.update(overrides)
    settings["INSTANCE_PATH"] = str(instance)
    return settings


def _parse_env(raw: str) -> Any:
    # As Flask's from_prefixed_env: numbers and booleans as JSON, the rest as text.
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def read_config_file(path: Path) -> dict[str, Any]:
    """Settings from an instance config.toml; its keys are the setting names in lowercase."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    return {key.upper(): value for key, value in data.items()}
