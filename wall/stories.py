"""Story files: read one customer story from disk, validate it, render it.

A story is a Markdown file with YAML front matter, a bundle with its photos
beside it or a single file (the layout is wall.folder's). Parsing never
raises for bad content: it returns the problems found, each with the file,
the line where known, and the field.
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
import yaml
from markdown_it import MarkdownIt

from .folder import is_bundle_file, outside_reason, root_of, story_slug
from .frontmatter import NoFrontMatter, content_token, split_text


class _FrontMatterLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading (libyaml when present: much faster on big walls), with dates left as
    text so that a bad one is reported against its field instead of failing the file."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


# Every key the story format defines; files may carry others, which are kept as they are.
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
class StoryLimits:
    """What one story file may cost to read: every one is a stranger's to set."""

    front_matter_bytes: int = 64 * 1024
    body_bytes: int = 1024 * 1024
    # Nodes in the front matter once YAML aliases are expanded: a story has
    # tens; an "alias bomb" of a kilobyte would expand to billions.
    expanded_nodes: int = 10_000

    @property
    def file_bytes(self) -> int:
        return self.front_matter_bytes + self.body_bytes + 16  # and the fences


DEFAULT_LIMITS = StoryLimits()


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
    parts = [p for p in re.split(r"[\s\-]+", name) if p and p[0].isalnum()]
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


def load_story(
    path: Path,
    root: Path | None = None,
    *,
    data: bytes | None = None,
    limits: StoryLimits | None = None,
) -> tuple[Story | None, list[Problem]]:
    """Read one story file; return the story, or None and what is wrong with it.

    With `data`, parse those bytes as if they were the file at `path`: how an
    edit is checked before it is written, against the photos beside it.
    """
    return _StoryReader(path, root, data, limits or DEFAULT_LIMITS).read()


class _StoryReader:
    """Reads one file, collecting every problem rather than stopping at the first."""

    def __init__(
        self, path: Path, root: Path | None, data: bytes | None, limits: StoryLimits
    ) -> None:
        self.path = path
        self.data = data
        self.limits = limits
        self.root = root or root_of(path)
        self.problems: list[Problem] = []
        self.node: yaml.Node | None = None
        self.first_line = 2  # the front matter starts after the opening fence

    def problem(self, message: str, field: str | None = None, line: int | None = None) -> None:
        if line is None and field is not None:
            line = self.line_of(field)
        self.problems.append(Problem(self.path, message, line, field))

    def line_of(self, dotted: str) -> int | None:
        node = self.node
        line = None
        for key in dotted.split("."):
            if not isinstance(node, yaml.MappingNode):
                break
            for key_node, value_node in node.value:
                if key_node.value == key:
                    line = key_node.start_mark.line + self.first_line
                    node = value_node
                    break
            else:
                break
        return line

    def read(self) -> tuple[Story | None, list[Problem]]:
        slug = story_slug(self.path)
        if not SLUG_RE.match(slug):
            self.problem(
                f"'{slug}' is not a usable slug: use lowercase letters, digits and "
                f"hyphens, for example '{_suggest_slug(slug)}'"
            )
            return None, self.problems
        raw = self.read_bytes()
        if raw is None:
            return None, self.problems
        text = self.decode(raw)
        if text is None:
            return None, self.problems
        data, body = self.split(text)
        if data is None:
            return None, self.problems
        story = self.build(slug, data, body, content_token(raw))
        return (None if self.problems else story), self.problems

    def read_bytes(self) -> bytes | None:
        """The file's bytes, if it is inside the stories folder and within its size limit."""
        if self.data is not None:
            raw = self.data
        else:
            outside = outside_reason(self.root, self.path)
            if outside is not None:
                self.problem(f"the story file {outside}", line=1)
                return None
            limit = self.limits.file_bytes
            try:
                with self.path.open("rb") as f:
                    raw = f.read(limit + 1)  # never more than the limit, whatever the file says
            except OSError as exc:
                self.problem(f"cannot read the file: {exc.strerror or exc}")
                return None
        if len(raw) > self.limits.file_bytes:
            self.problem(
                "the file is larger than the limits allow (front matter "
                f"{_size(self.limits.front_matter_bytes)}, body {_size(self.limits.body_bytes)}); "
                "shorten the story",
                line=1,
            )
            return None
        return raw

    def decode(self, raw: bytes) -> str | None:
        if not raw.strip():
            self.problem("the file is empty; a story needs front matter and a body", line=1)
            return None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.problem(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                line=line,
            )
            return None

    def split(self, text: str) -> tuple[dict[str, Any] | None, str]:
        try:
            parts = split_text(text)
        except NoFrontMatter as exc:
            self.problem(exc.message, line=exc.line)
            return None, ""
        front, body = parts.front, parts.body
        if len(front.encode()) > self.limits.front_matter_bytes:
            self.problem(
                f"the front matter is over {_size(self.limits.front_matter_bytes)}; "
                "keep long text in the body",
                line=1,
            )
            return None, ""
        if len(body.encode()) > self.limits.body_bytes:
            self.problem(f"the body is over {_size(self.limits.body_bytes)}; shorten it", line=1)
            return None, ""
        loader = _FrontMatterLoader(front)
        try:
            self.node = loader.get_single_node()
            if self.node is not None and not _within(self.node, self.limits.expanded_nodes):
                self.problem(
                    "the front matter uses YAML aliases (*name) that expand to more than "
                    f"{self.limits.expanded_nodes:,} values, or refer to themselves; "
                    "write the values out instead",
                    line=1,
                )
                return None, ""
            data = loader.construct_document(self.node) if self.node is not None else None
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + self.first_line if mark is not None else None
            what = getattr(exc, "problem", None) or str(exc)
            self.problem(f"YAML syntax error: {what}", line=line)
            return None, ""
        finally:
            loader.dispose()
        if not isinstance(data, dict):
            self.problem("the front matter must be a set of 'key: value' lines", line=2)
            return None, ""
        return data, body

    # -- fields ---------------------------------------------------------------

    def text(self, data: dict[str, Any], key: str, *, required: bool = False) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.problem("is required", key, self.line_of(key) or 1)
            return ""
        if isinstance(value, bool | dict | list):
            self.problem(f"must be text, not {_type_name(value)}", key)
            return ""
        return " ".join(str(value).split())

    def date(self, data: dict[str, Any], key: str, dotted: str | None = None) -> dt.date | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.strip()).date()
            except ValueError:
                pass
        self.problem(f"must be a date like 2026-10-14, not {value!r}", dotted or key)
        return None

    def choice(
        self,
        data: dict[str, Any],
        key: str,
        options: tuple[str, ...],
        default: str,
        dotted: str | None = None,
    ) -> str:
        value = data.get(key, default)
        if value is None:
            return default
        if str(value) not in options:
            self.problem(f"must be one of {', '.join(options)}, not {value!r}", dotted or key)
            return default
        return str(value)

    def tag_list(self, data: dict[str, Any], key: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list) or any(isinstance(v, dict | list) for v in value):
            self.problem("must be a list like [manufacturing, dayton]", key)
            return ()
        tags = (" ".join(str(v).split()).casefold() for v in value if v is not None)
        return tuple(dict.fromkeys(t for t in tags if t))

    def build(self, slug: str, data: dict[str, Any], body: str, token: str) -> Story:
        name = self.text(data, "name", required=True)
        role = self.text(data, "role", required=True)
        company = self.text(data, "company", required=True)
        quote = self.text(data, "quote")
        if len(quote) > QUOTE_MAX_CHARS:
            self.problem(
                f"is {len(quote)} characters; keep it under {QUOTE_MAX_CHARS} so it "
                "reads in one glance on a TV",
                "quote",
            )
        featured = data.get("featured", False)
        if not isinstance(featured, bool):
            self.problem("must be true or false", "featured")
            featured = False
        return Story(
            slug=slug,
            source=self.path,
            name=name,
            role=role,
            company=company,
            body=body,
            location=self.text(data, "location"),
            title=self.text(data, "title"),
            quote=quote,
            photo=self.photo(data),
            photo_alt=self.text(data, "photo_alt"),
            photo_focus=self.focus(data),
            kind=self.choice(data, "kind", KINDS, "story"),
            tags=self.tag_list(data, "tags"),
            date=self.date(data, "date"),
            publish=self.date(data, "publish"),
            expires=self.date(data, "expires"),
            status=self.choice(data, "status", STATUSES, "pending"),
            consent=self.consent(data),
            submitted_by=self.text(data, "submitted_by"),
            to=self.text(data, "to"),
            duration=self.duration(data),
            featured=featured,
            token=token,
            meta=data,
        )

    def photo(self, data: dict[str, Any]) -> Path | None:
        value = data.get("photo")
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            self.problem("must be a file name like maria.jpg", "photo")
            return None
        relative = Path(value)
        if relative.is_absolute() or ".." in relative.parts:
            self.problem("must be a file beside the story, not a path outside it", "photo")
            return None
        path = self.path.parent / relative
        if not path.is_file():
            self.problem(f"photo not found: {value}", "photo")
            return None
        outside = outside_reason(self.root, path)
        if outside is not None:
            self.problem(f"{value} {outside}", "photo")
            return None
        return path

    def focus(self, data: dict[str, Any]) -> tuple[float, float]:
        value = data.get("photo_focus")
        if value is None:
            return DEFAULT_FOCUS
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            and all(0 <= v <= 1 for v in value)
        ):
            return (float(value[0]), float(value[1]))
        self.problem("must be two numbers from 0 to 1, like [0.5, 0.3]", "photo_focus")
        return DEFAULT_FOCUS

    def duration(self, data: dict[str, Any]) -> int | None:
        value = data.get("duration")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 600:
            self.problem("must be a number of seconds from 1 to 600", "duration")
            return None
        return round(value)

    def consent(self, data: dict[str, Any]) -> Consent | None:
        value = data.get("consent")
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem("must be a block with given_by, date and scope", "consent")
            return None
        given_by = value.get("given_by")
        if not given_by or not isinstance(given_by, str):
            self.problem(
                "is required: who gave consent",
                "consent.given_by",
                self.line_of("consent.given_by") or self.line_of("consent"),
            )
        when = self.date(value, "date", "consent.date")
        if when is None and "date" not in value:
            self.problem(
                "is required: when consent was given", "consent.date", self.line_of("consent")
            )
        scope = value.get("scope")
        if isinstance(scope, str):
            scope = [s.strip() for s in scope.split(",")]
        if not isinstance(scope, list) or not scope:
            self.problem(
                f"must list where the story may appear: {', '.join(PLACES)}",
                "consent.scope",
                self.line_of("consent.scope") or self.line_of("consent"),
            )
            scope = []
        unknown = [s for s in scope if s not in PLACES]
        if unknown:
            self.problem(f"unknown place {unknown[0]!r}; use {', '.join(PLACES)}", "consent.scope")
        photo = value.get("photo", True)
        if not isinstance(photo, bool):
            self.problem("must be true or false: may the photo be shown", "consent.photo")
            photo = True
        content = value.get("content")
        if content is not None and not isinstance(content, str):
            self.problem("must be the hash the customer's consent was given for", "consent.content")
            content = None
        statement = value.get("statement")
        if statement is not None and (
            isinstance(statement, bool) or not isinstance(statement, int)
        ):
            self.problem("must be the number of the consent statement", "consent.statement")
            statement = None
        by = self.choice(value, "by", CONSENT_BY, "staff", "consent.by")
        if by == "customer" and content is None:
            self.problem(
                "consent by the customer needs the hash of what they agreed to (content)",
                "consent.content",
                self.line_of("consent.by"),
            )
        return Consent(
            given_by=" ".join(str(given_by or "").split()),
            date=when or dt.date.min,
            scope=frozenset(s for s in scope if s in PLACES),
            expires=self.date(value, "expires", "consent.expires"),
            withdrawn=self.date(value, "withdrawn", "consent.withdrawn"),
            by=by,
            credit=self.choice(value, "credit", CREDITS, "full", "consent.credit"),
            photo=photo,
            content=content,
            statement=statement,
        )


class _TooBig(Exception):
    pass


def _within(root: yaml.Node, limit: int) -> bool:
    """True when `root` has at most `limit` nodes with its aliases expanded.

    An alias is the same node object met again, so sizes are counted once per
    node (linear time, whatever the expansion); a node met again while it is
    still being counted refers to itself.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _TooBig
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                raise _TooBig
        open_nodes.discard(key)
        sizes[key] = total
        return total

    try:
        return size(root) <= limit
    except (_TooBig, RecursionError):
        return False


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.3g} MB"
    return f"{n / 1024:.3g} KB" if n >= 1024 else f"{n} bytes"


def _type_name(value: object) -> str:
    return {bool: "true/false", dict: "a block", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _suggest_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "my-story"


def slugify(name: str) -> str:
    """A slug for a new story, from the customer's name."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _suggest_slug(ascii_name)
