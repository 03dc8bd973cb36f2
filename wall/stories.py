"""A customer story: what it holds, where it may appear, and how it is shown.

A story is a Markdown file with YAML front matter, a bundle with its photos
beside it or a single file (the layout is wall.folder's); wall.parsing reads
one into a `Story`, or into the problems that keep it off the screens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import nh3
from markdown_it import MarkdownIt

from .folder import is_bundle_file

FRONT_MATTER_KEYS = frozenset(
    {
        "name", "role", "company", "location", "title", "quote", "photo", "photo_alt",
        "photo_focus", "kind", "tags", "date", "publish", "expires", "status", "consent",
        "submitted_by", "duration", "featured", "to",
    }
)  # fmt: skip
KINDS = ("story", "thank-you")
# How a customer may be credited: their full name, first name and last initial,
# or no name at all (their role and company only).
CREDITS = ("full", "short", "anonymous")
CONSENT_BY = ("staff", "customer")
STATUSES = ("pending", "approved", "rejected")
PLACES = ("hallway", "intranet")
QUOTE_MAX_CHARS = 200
DEFAULT_FOCUS = (0.5, 0.4)  # faces sit above the middle of most portraits
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SAFE_URL_SCHEMES = {"http", "https", "mailto"}

_ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
}
# Raw HTML in a body is shown as text (html=False); nh3 then removes anything
# the Markdown renderer itself could produce that we do not want, such as
# images that would make readers' browsers fetch from other hosts.
_markdown = MarkdownIt("commonmark", {"html": False})


def render_markdown(text: str) -> str:
    """Render CommonMark to sanitized HTML: no raw HTML, safe links only."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "ol": {"start"}},
        url_schemes=SAFE_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


@dataclass(frozen=True)
class Problem:
    """Something wrong with a story file, in words its author can act on."""

    path: Path
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line or 1}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class Consent:
    """The customer's permission, where it lets the story appear, and how they are credited.

    Consent `by` the customer themselves (through their private link) is bound
    to the exact content they saw: `content` is its hash, and any change to
    what they can see makes it stale until they confirm again. Consent
    recorded by staff (the default, for stories written by hand) has no hash.
    """

    given_by: str
    date: dt.date
    scope: frozenset[str]
    expires: dt.date | None = None
    withdrawn: dt.date | None = None
    by: str = "staff"  # who recorded it: the customer, or staff on their behalf
    credit: str = "full"  # how the customer is named: see CREDITS
    photo: bool = True  # whether their photo may be shown
    content: str | None = None  # hash of the content they agreed to (customer consent)
    statement: int | None = None  # version of the consent statement they agreed to


@dataclass(frozen=True)
class Story:
    slug: str
    source: Path
    name: str
    role: str
    company: str
    body: str
    location: str = ""
    title: str = ""
    quote: str = ""
    photo: Path | None = None
    photo_alt: str = ""
    photo_focus: tuple[float, float] = DEFAULT_FOCUS
    kind: str = "story"
    tags: tuple[str, ...] = ()
    date: dt.date | None = None
    publish: dt.date | None = None
    expires: dt.date | None = None
    status: str = "pending"
    consent: Consent | None = None
    submitted_by: str = ""
    to: str = ""  # a thank-you's addressee: a team's key from [teams.NAME], or words
    duration: int | None = None
    featured: bool = False
    token: str = ""  # names the exact bytes read; an edit form carries it
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def hidden_reason(
        self, place: str, today: dt.date, *, customer_only: bool = False
    ) -> str | None:
        """Say why this story may not appear in `place` today, or None if it may.

        This is the single rule for what reaches a screen: approved, inside its
        publish window, and covered by consent that is neither expired nor
        withdrawn, nor stale (given by the customer for content that has
        changed since). With `customer_only`, consent recorded by staff does
        not count.
        """
        if self.status != "approved":
            return f"status is {self.status}, not approved"
        if self.publish and today < self.publish:
            return f"scheduled to publish on {self.publish.isoformat()}"
        if self.expires and today > self.expires:
            return f"expired on {self.expires.isoformat()}"
        consent = self.consent
        if consent is None:
            return "no consent on record"
        if consent.withdrawn and today >= consent.withdrawn:
            return f"consent withdrawn on {consent.withdrawn.isoformat()}"
        if consent.expires and today > consent.expires:
            return f"consent expired on {consent.expires.isoformat()}"
        if place not in consent.scope:
            return f"consent does not cover {place}"
        if consent.by == "customer" and consent.content != self.content_hash:
            return "changed since the customer consented: waiting for them to confirm this version"
        if customer_only and consent.by != "customer":
            return "consent was recorded by staff; only the customer's own consent counts here"
        return None

    def is_visible(self, place: str, today: dt.date, *, customer_only: bool = False) -> bool:
        return self.hidden_reason(place, today, customer_only=customer_only) is None

    # -- what the customer sees, and agrees to ---------------------------------------------

    @property
    def consent_kind(self) -> str:
        """Which consent the story has, in words: the customer's own, staff's record, or none."""
        consent = self.consent
        if consent is None:
            return "none"
        if consent.by == "customer":
            if consent.content == self.content_hash:
                return "given by the customer"
            return "given by the customer for an earlier version"
        return "recorded by staff"

    @property
    def credit(self) -> str:
        return self.consent.credit if self.consent is not None else "full"

    @property
    def credited_name(self) -> str:
        """The customer's name as they chose to be credited ("" for no name)."""
        return credited_name(self.name, self.credit)

    @property
    def credit_lines(self) -> tuple[str, str]:
        """The slide's and card's two lines: the name, then role and company.

        Without a name, the role takes the name's place and the company the role's.
        """
        if self.credit == "anonymous":
            return self.role, self.company
        return self.credited_name, ", ".join(p for p in (self.role, self.company) if p)

    @property
    def shown_photo(self) -> Path | None:
        """The photo, unless the customer chose not to show it."""
        if self.consent is not None and not self.consent.photo:
            return None
        return self.photo

    @property
    def shown_initials(self) -> str:
        """The portrait's letters: the credited name's, else the company's."""
        return initials_of(self.credit_lines[0] if self.credit != "anonymous" else self.company)

    @cached_property
    def customer_content(self) -> dict[str, str]:
        """Everything of this story the customer sees, as it will be shown."""
        name, role_line = self.credit_lines
        photo = self.shown_photo
        return {
            "name": name,
            "role": role_line,
            "title": self.title,
            "quote": self.tv_line,
            "body": self.body.replace("\r\n", "\n").strip(),
            "photo": _file_digest(photo) if photo is not None else "",
        }

    @cached_property
    def content_hash(self) -> str:
        """Names exactly what the customer sees; consent is bound to it."""
        text = json.dumps(self.customer_content, sort_keys=True, ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    @property
    def is_bundle(self) -> bool:
        return is_bundle_file(self.source)

    @property
    def tv_line(self) -> str:
        """The one sentence for the TV: the quote, else the title, else the body's first."""
        if self.quote:
            return self.quote
        if self.title:
            return self.title
        first = re.split(r"(?<=[.!?])\s", _plain_text(self.body), maxsplit=1)[0]
        return _shorten(first, QUOTE_MAX_CHARS)

    @property
    def initials(self) -> str:
        return initials_of(self.name)

    @cached_property
    def body_html(self) -> str:
        # Rendered on first use: most requests (kiosk, cards) never need it,
        # and skipping it keeps start-up fast on large walls.
        return render_markdown(self.body)

    @cached_property
    def search_text(self) -> str:
        # The name as credited: a customer who chose no name is not found by it.
        parts = (
            self.credited_name,
            self.role,
            self.company,
            self.location,
            self.title,
            self.quote,
            " ".join(self.tags),
            self.body,
        )
        return "\n".join(parts).casefold()

    def matches(self, query: str) -> bool:
        """True when every word of `query` appears somewhere in the story."""
        return all(word in self.search_text for word in query.casefold().split())


def credited_name(name: str, credit: str) -> str:
    """`name` as the customer chose to be credited: whole, "Maria A.", or not at all."""
    if credit == "anonymous":
        return ""
    parts = name.split()
    if credit == "short" and len(parts) > 1:
        return f"{parts[0]} {parts[-1][0]}."
    return name


def _file_digest(path: Path) -> str:
    """A photo's bytes, named: the customer agreed to this picture, not to a file name."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return "unreadable"
    return digest.hexdigest()


def initials_of(name: str) -> str:
    """The letters of a portrait for someone without a photo: first and last name's."""
    parts = [p for p in name.replace("-", " ").split() if p[0].isalnum()]
    if not parts:
        return "?"
    return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


def _plain_text(markdown: str) -> str:
    """Roughly the words a reader sees: no tags, link targets or Markdown marks."""
    text = re.sub(r"<[^>]*>", " ", markdown)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s{0,3}(?:[#>]+|[-*+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    return " ".join(re.sub(r"[*_`]+", "", text).split())


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def suggest_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "my-story"


def slugify(name: str) -> str:
    """A slug for a new story, from the customer's name."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return suggest_slug(ascii_name)
