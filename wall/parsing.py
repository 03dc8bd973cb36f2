"""Reading one story file: its front matter, every field, within what a file may cost.

Parsing never raises for bad content: it returns the problems found, each
with the file, the line where known, and the field, in words its author can
act on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .files import NotAPlainFile, read_plain
from .folder import outside_reason, root_of, story_slug
from .frontmatter import NoFrontMatter, content_token, split_text
from .stories import (
    CONSENT_BY,
    CREDITS,
    DEFAULT_FOCUS,
    KINDS,
    PLACES,
    QUOTE_MAX_CHARS,
    SLUG_RE,
    STATUSES,
    Consent,
    Problem,
    Story,
    suggest_slug,
)


class _FrontMatterLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading (libyaml when present: much faster on big walls), with dates left as
    text so that a bad one is reported against its field instead of failing the file."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


# Every key the story format defines; files may carry others, which are kept as they are.


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
                f"hyphens, for example '{suggest_slug(slug)}'"
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
                raw = read_plain(self.path, limit + 1)  # never more than the limit
            except NotAPlainFile:
                self.problem(
                    "is not a plain file (a named pipe, socket or device); "
                    "save the story as an ordinary file"
                )
                return None
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
            if (
                self.node is not None
                and _may_expand(front, self.limits.expanded_nodes)
                and not _within(self.node, self.limits.expanded_nodes)
            ):
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


def _may_expand(front: str, limit: int) -> bool:
    """Whether front matter could hold more than `limit` nodes, so they must be counted.

    Without an alias (`*name`) the nodes form a tree drawn from the text itself,
    at most two per character and one more ("?" alone is a mapping of a null
    to a null); a short front matter without one cannot exceed the limit, and
    counting every story's nodes costs a fifth of reading it.
    """
    return "*" in front or len(front) > limit // 4


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
