"""Every setting the wall reads, with its default and what it is for.

Each one can be set as an environment variable with the ``WALL_`` prefix
(``WALL_STORIES_DIR``), or as a lowercase key in ``config.toml`` in the
instance folder. The README's settings table is checked against this list.

Settings are parsed once, at start-up, into the types they are used as: a
bad value stops `storywall serve` with one clear line, instead of failing
every request that reads it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .parsing import StoryLimits
from .teams import parse_teams


class SettingsError(ValueError):
    """A setting whose value cannot be used; the message names it and says why."""


Parse = Callable[[Any], Any]


def _text(value: Any) -> str:
    if isinstance(value, dict | list | bool):
        raise ValueError("must be text")
    return "" if value is None else str(value)


def _number(low: float, high: float, *, whole: bool = True) -> Parse:
    def parse(value: Any) -> int | float:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value.strip())
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and whole and float(value) != int(value):
            ok = False
        if not ok or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise ValueError(f"must be {kind} from {low:g} to {high:g}")
        return int(value) if whole else float(value)

    return parse


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _choice(*options: str) -> Parse:
    def parse(value: Any) -> str:
        text = str(value).strip().casefold()
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


def _optional_flag(value: Any) -> str | bool:
    """'auto', or true/false."""
    if isinstance(value, str) and value.strip().casefold() == "auto":
        return "auto"
    return _flag(value)


RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(text: Any) -> tuple[int, int]:
    """'10/minute' -> (10, 60); '5/30' -> 5 per 30 seconds: a count and its window."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:/|per)\s*(\d*)\s*([a-z]*?)s?\s*", str(text).lower())
    if not match or (match[3] and match[3] not in RATE_PERIODS) or not (match[2] or match[3]):
        raise ValueError("must be a rate like 10/minute")
    seconds = int(match[2] or 1) * RATE_PERIODS.get(match[3] or "second", 1)
    if int(match[1]) < 1:
        raise ValueError("must allow at least 1")
    return int(match[1]), max(seconds, 1)


def _rate(value: Any) -> str:
    parse_rate(value)
    return str(value).strip()


def _clock_time(value: Any) -> str:
    text = str(value or "").strip()
    if text and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", text):
        raise ValueError("must be a time like 03:30, or empty for never")
    return text


def _networks(value: Any) -> str:
    items = value if isinstance(value, list) else str(value or "").split(",")
    for item in items:
        if str(item).strip():
            try:
                ipaddress.ip_network(str(item).strip(), strict=False)
            except ValueError:
                raise ValueError(f"{str(item).strip()!r} is not an address or network") from None
    return ", ".join(str(i).strip() for i in items if str(i).strip())


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be a table, like [screens.lobby] in config.toml")
    return value


def _tag_names(value: Any) -> dict[str, str]:
    """{tag: display name}, keyed as stories' tags are (folded case, single spaces)."""
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and name.strip() for name in value.values()
    ):
        raise ValueError(
            'must be a [tags] table of tag = "Display name" in config.toml '
            '(for example hr = "HR"), or that as a JSON object in WALL_TAGS'
        )
    return {" ".join(str(tag).split()).casefold(): " ".join(n.split()) for tag, n in value.items()}


def _url(value: Any) -> str:
    text = _text(value).strip().rstrip("/")
    if text and not re.match(r"^https?://[^\s/]+", text):
        raise ValueError("must be an http(s) URL like https://wall.example.com")
    return text


def _database_url(value: Any) -> str:
    text = _text(value).strip()
    if text and not re.match(r"^postgres(ql)?(\+psycopg)?://", text):
        raise ValueError(
            "must be a PostgreSQL URL like postgresql://wall:password@db.example.com/wall "
            "(leave it empty for SQLite in the instance folder)"
        )
    return text


def _url_list(value: Any) -> tuple[str, ...]:
    """Webhook addresses: a list, or text separated by commas or spaces."""
    if isinstance(value, str):  # a JSON list in WALL_WEBHOOK_URLS arrives decoded already
        value = value.replace(",", " ").split()
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of http(s) URLs")
    urls = tuple(str(item).strip() for item in value if str(item).strip())
    for url in urls:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError(f"{url!r} is not an http(s) URL")
    return urls


def _backoff(value: Any) -> tuple[float, ...]:
    """Seconds to wait before each retry: "60, 300, 1800, 7200"; after the last, it failed."""
    items = value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
    try:
        delays = tuple(float(item) for item in items)
    except (TypeError, ValueError):
        raise ValueError("must be seconds before each retry, like 60, 300, 1800, 7200") from None
    if not delays or len(delays) > 20 or any(not 0 <= d <= 7 * 86400 for d in delays):
        raise ValueError("must be 1 to 20 waits of 0 to 604800 seconds each")
    return delays


def _email_address(value: Any) -> str:
    text = _text(value).strip()
    if text and not re.fullmatch(r"[^@\s<>\"']+@[^@\s<>\"']+", text):
        raise ValueError("must be an email address like wall@example.com")
    return text


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Parse = _text
    # A value that may hold a password is never repeated in an error message.
    secret: bool = False

    @property
    def env(self) -> str:
        return f"WALL_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("STORIES_DIR", "stories", "Folder of story files the wall shows and watches."),
    Setting(
        "INSTANCE_PATH",
        "instance",
        "Folder for this server's own data: SQLite, photo renditions, config.toml.",
    ),
    Setting(
        "DATABASE_URL",
        "",
        "PostgreSQL URL (postgresql://user:password@host/db) shared by several servers of "
        "one wall; empty: SQLite in the instance folder. See docs/deploy.md.",
        _database_url,
        secret=True,
    ),
    Setting("SITE_NAME", "Story Wall", "Name shown in page titles and the intranet header."),
    Setting(
        "SECRET_KEY",
        None,
        "Signs session cookies. When unset, one is made once and kept in the database, "
        "so every worker and every server of the wall shares it.",
    ),
    Setting(
        "WATCH",
        "auto",
        "How to notice changes: auto (inotify, else polling), poll, or off.",
        _choice("auto", "poll", "off"),
    ),
    Setting(
        "POLL_SECONDS",
        1,
        "With WATCH=poll, how often to look for changed files. On a network share each "
        "look lists every file; with a database URL, changes made through any server "
        "reach every server at once anyway.",
        _number(0.2, 3600, whole=False),
    ),
    Setting(
        "RESCAN_SECONDS",
        300,
        "Full rescan of the stories folder, as a safety net.",
        _number(1, 86400),
    ),
    Setting(
        "SLIDE_MIN_SECONDS", 8, "Shortest time a story stays on a hallway screen.", _number(1, 600)
    ),
    Setting(
        "SLIDE_MAX_SECONDS", 30, "Longest time a story stays on a hallway screen.", _number(1, 600)
    ),
    Setting("PAGE_SIZE", 48, "Story cards per page on the intranet wall.", _number(1, 500)),
    Setting(
        "TAGS",
        {},
        'Display names of tags, best set as a [tags] table in config.toml (hr = "HR"); '
        "other tags are shown as their words, each capitalised.",
        _tag_names,
    ),
    Setting(
        "TEAMS",
        {},
        "The teams customers can thank (name, tags, screens or group, email); best set as "
        "[teams.NAME] tables in config.toml.",
        parse_teams,
    ),
    Setting(
        "SCREENS",
        {},
        "Named hallway screens (tags, kinds, interval, orientation, group, hours); "
        "best set as [screens.NAME] tables in config.toml.",
        _table,
    ),
    Setting(
        "RELOAD_AT",
        "03:30",
        "Local time each kiosk reloads itself, once the server answers.",
        _clock_time,
    ),
    Setting(
        "HEARTBEAT_SECONDS", 60, "How often each kiosk reports that it is alive.", _number(5, 3600)
    ),
    Setting(
        "SCREEN_STALE_SECONDS",
        180,
        "A screen not heard from for this long is flagged.",
        _number(10, 86400 * 7),
    ),
    Setting(
        "PUBLIC_URL",
        "",
        "Base URL of the intranet for QR codes on the kiosk, e.g. https://wall.example.com; "
        "default: the URL the kiosk itself uses.",
        _url,
    ),
    Setting(
        "MAX_PHOTO_PIXELS",
        50_000_000,
        "Largest photo accepted, in pixels, checked before decoding.",
        _number(1_000_000, 500_000_000),
    ),
    Setting(
        "MAX_UPLOAD_MB",
        25,
        "Largest request accepted, in MB (a photo upload); anything bigger is answered 413.",
        _number(1, 1024, whole=False),
    ),
    Setting(
        "MAX_FRONT_MATTER_KB",
        64,
        "Largest front matter a story file may have, in KB; a bigger file is reported, not shown.",
        _number(1, 10_240),
    ),
    Setting(
        "MAX_BODY_KB",
        1024,
        "Largest story body, in KB; a bigger file is reported, not shown.",
        _number(1, 102_400),
    ),
    Setting(
        "CONSENT_LINK_DAYS",
        30,
        "How long a customer's private link may be used to give consent; it keeps working "
        "for taking the story down while the story exists.",
        _number(1, 365),
    ),
    Setting(
        "CONSENT_DEFAULT_DAYS",
        365,
        "How long the customer's consent lasts unless they choose otherwise.",
        _number(1, 3650),
    ),
    Setting(
        "CONSENT_MAX_DAYS",
        3 * 365,
        "The longest consent a customer may give at once.",
        _number(1, 3650),
    ),
    Setting(
        "CONSENT_STATEMENT",
        "I agree that my story, my name as I chose to be credited and (if I chose to show "
        "it) my photo may be shown in the places I ticked, until the date I chose. I can "
        "take my story down at any time with this same link.",
        "The text the customer agrees to. Changing it makes a new version; every consent "
        "records the version and the text.",
    ),
    Setting(
        "CONSENT_CUSTOMER_ONLY",
        False,
        "Only consent the customer gave themselves (through their link) counts; consent "
        "recorded by staff no longer shows a story.",
        _flag,
    ),
    Setting(
        "CONSENT_EXPIRING_DAYS",
        30,
        "Consent ending within this many days is listed as expiring soon.",
        _number(1, 365),
    ),
    Setting(
        "SUBMIT_REQUIRES_LOGIN",
        False,
        "Only signed-in people may submit stories (single sign-on or a moderator account); "
        "by default anyone who can reach the intranet may.",
        _flag,
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
        _networks,
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        "auto",
        "Mark the session cookie Secure: auto (when the request came over HTTPS), true, false.",
        _optional_flag,
    ),
    Setting(
        "LOGIN_RATE_LIMIT",
        "10/minute",
        "Sign-in attempts allowed per client address, as COUNT/second|minute|hour|day.",
        _rate,
    ),
    Setting(
        "CONSENT_RATE_LIMIT",
        "120/hour",
        "Answers and previews on customers' own pages allowed per client address.",
        _rate,
    ),
    Setting(
        "THANKS_ENABLED",
        True,
        "Customers may thank a team at /thanks; false turns the page (and its card) off: 404.",
        _flag,
    ),
    Setting(
        "THANKS_PUBLIC_URL",
        "",
        "Base URL at which customers reach /thanks (for the printed card's QR code), e.g. "
        "https://thanks.example.com; default: PUBLIC_URL, else the address the card is opened at.",
        _url,
    ),
    Setting(
        "THANKS_RATE_LIMIT",
        "30/hour",
        "Posts to the thank-you page (previews and thank-yous) allowed per client address.",
        _rate,
    ),
    Setting(
        "THANKS_DAILY_CAP",
        50,
        "Thank-yous a day that go to the moderation queue; the rest are still accepted but "
        "held back, listed apart for moderators.",
        _number(0, 100_000),
    ),
    Setting(
        "THANKS_BOOST_DAYS",
        7,
        "Days after approval that a thank-you comes first, then more often, on the screens "
        "of the team it thanks (0: never).",
        _number(0, 365),
    ),
    Setting(
        "SUBMIT_RATE_LIMIT",
        "30/hour",
        "Story form posts (previews and submissions) allowed per client address.",
        _rate,
    ),
    Setting(
        "SMTP_HOST",
        "",
        "Mail server that sends notification emails. Empty: no emails (see docs/notifications.md).",
    ),
    Setting("SMTP_PORT", 587, "Port of the mail server.", _number(1, 65535)),
    Setting(
        "SMTP_SECURITY",
        "starttls",
        "How the mail connection is protected: starttls (usually port 587), tls (usually 465), "
        "or none (a relay on the same machine or network only).",
        _choice("starttls", "tls", "none"),
    ),
    Setting("SMTP_USER", "", "User name for the mail server; empty: no sign-in."),
    Setting("SMTP_PASSWORD", "", "Password for the mail server."),
    Setting(
        "SMTP_FROM",
        "",
        "Sender address of notification emails, e.g. storywall@example.com; needed with SMTP_HOST.",
        _email_address,
    ),
    Setting(
        "SMTP_TIMEOUT",
        30,
        "Seconds to wait for the mail server before a delivery is retried later.",
        _number(1, 600),
    ),
    Setting(
        "WEBHOOK_URLS",
        (),
        "Addresses that get a signed JSON POST for every event (a Slack or Teams incoming "
        "webhook works as it is); a list in config.toml, or separated by commas.",
        _url_list,
    ),
    Setting(
        "WEBHOOK_SECRET",
        "",
        "Key of the X-Storywall-Signature HMAC on every webhook; needed with WEBHOOK_URLS.",
    ),
    Setting(
        "WEBHOOK_TIMEOUT",
        10,
        "Seconds to wait for a webhook to answer before it is retried later.",
        _number(1, 600),
    ),
    Setting(
        "NOTIFY_RETRY_SECONDS",
        "60, 300, 1800, 7200",
        "Waits before each retry of a failed delivery; after the last it is marked failed.",
        _backoff,
    ),
    Setting(
        "NOTIFY_POLL_SECONDS",
        5,
        "How often each worker's sender looks for deliveries queued by another process.",
        _number(0.05, 3600, whole=False),
    ),
    Setting(
        "NOTIFY_LEASE_SECONDS",
        300,
        "How long a sender holds a delivery it claimed before another may take it over; "
        "longer than SMTP_TIMEOUT and WEBHOOK_TIMEOUT together.",
        _number(1, 86400, whole=False),
    ),
    Setting(
        "IMPACT_RETENTION_DAYS",
        400,
        "Days that display counts are kept per story, screen and day; older ones are folded "
        "into monthly totals per story and screen.",
        _number(35, 3650),
    ),
    Setting(
        "IMPACT_STALE_DAYS",
        90,
        "A tag, team or site with no new story for this many days is flagged on the impact page.",
        _number(1, 3650),
    ),
    Setting(
        "IMPACT_LINE",
        True,
        "The intranet wall shows one line of this quarter's figures, with a link to share a "
        "story; false hides it.",
        _flag,
    ),
    Setting(
        "NOTIFY_DIGEST_AT",
        "08:00",
        "Local time of the daily digest for moderators who chose one; consents expiring "
        "are reported on Mondays from this time.",
        _clock_time,
    ),
)

DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
_BY_NAME = {s.name: s for s in SETTINGS}


class Settings(Mapping[str, Any]):
    """Every setting, parsed into its type; read as ``settings["PAGE_SIZE"]``.

    Keys that are not settings (Flask's own, a test's) pass through as given.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def stories_dir(self) -> Path:
        return Path(self._values["STORIES_DIR"])

    @property
    def instance_path(self) -> Path:
        return Path(self._values["INSTANCE_PATH"])

    @property
    def story_limits(self) -> StoryLimits:
        """What one story file may cost to read."""
        return StoryLimits(
            front_matter_bytes=int(self._values["MAX_FRONT_MATTER_KB"]) * 1024,
            body_bytes=int(self._values["MAX_BODY_KB"]) * 1024,
        )


def parse_settings(raw: Mapping[str, Any], sources: Mapping[str, str] | None = None) -> Settings:
    """Check and convert every setting; raise SettingsError naming each bad one."""
    sources = sources or {}
    values = dict(raw)
    errors = []
    for name, setting in _BY_NAME.items():
        value = values.get(name, setting.default)
        if value is None:
            continue
        try:
            values[name] = setting.parse(value)
        except ValueError as exc:
            where = sources.get(name, setting.env)
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            if setting.secret:
                shown = "the value given (not repeated here: it may hold a password)"
            errors.append(f"{where}: {exc}, not {shown}")
    if not errors:
        low, high = values["SLIDE_MIN_SECONDS"], values["SLIDE_MAX_SECONDS"]
        if low > high:
            errors.append(f"SLIDE_MIN_SECONDS ({low}) is more than SLIDE_MAX_SECONDS ({high})")
        usual, most = values["CONSENT_DEFAULT_DAYS"], values["CONSENT_MAX_DAYS"]
        if usual > most:
            errors.append(f"CONSENT_DEFAULT_DAYS ({usual}) is more than CONSENT_MAX_DAYS ({most})")
        if not str(values["CONSENT_STATEMENT"]).strip():
            errors.append("CONSENT_STATEMENT is empty: customers need words to agree to")
        if values["SMTP_HOST"].strip() and not values["SMTP_FROM"]:
            errors.append("SMTP_FROM is empty: emails need a sender address")
        if values["WEBHOOK_URLS"] and not str(values["WEBHOOK_SECRET"]).strip():
            errors.append("WEBHOOK_SECRET is empty: receivers need it to check the signature")
        waits = float(values["SMTP_TIMEOUT"]) + float(values["WEBHOOK_TIMEOUT"])
        if float(values["NOTIFY_LEASE_SECONDS"]) <= waits:
            errors.append(
                f"NOTIFY_LEASE_SECONDS ({values['NOTIFY_LEASE_SECONDS']}) must be longer than "
                f"SMTP_TIMEOUT and WEBHOOK_TIMEOUT together ({waits:g}), or a slow delivery "
                "could be sent twice"
            )
        if not values["NOTIFY_DIGEST_AT"]:
            errors.append("NOTIFY_DIGEST_AT is empty: the daily digest needs a time")
    if errors:
        raise SettingsError("bad setting: " + "; ".join(errors))
    return Settings(values)


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
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
    config = instance / "config.toml"
    from_file = read_config_file(config)
    settings.update(from_file)
    sources = {key: f"{key.lower()} in {config}" for key in from_file}
    for key, raw in environ.items():
        if key.startswith("WALL_"):
            settings[key[5:]] = _parse_env(raw)
            sources[key[5:]] = key
    settings.update(overrides)
    sources.update({key: key for key in overrides})
    settings["INSTANCE_PATH"] = str(instance)
    return parse_settings(settings, sources)


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
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    return {key.upper(): value for key, value in data.items()}
