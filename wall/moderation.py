"""Writing stories from the web: new submissions, and moderators' changes to them.

No Flask here: the views hand over plain values and get back stories or an
exception that says, in words a person can act on, what went wrong.

- A submission becomes a new bundle ``<slug>/index.md`` (+ ``photo.jpg``). It
  is built in a hidden staging folder, checked with the story parser, and
  moved into place under a slug no other story has, claimed with an atomic
  ``mkdir``: two people sending the same name at once get two bundles.
- An edit touches only the lines of the fields that change. Unknown keys,
  comments, key order and the body's bytes stay as they were, so a story kept
  in git shows a one-line diff for a one-field change. Every edit carries the
  token of the file it was based on and is refused if the file has changed
  since; it is checked with the story parser before it is written, atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .files import write_atomic
from .stories import (
    _FENCE,
    KINDS,
    PLACES,
    QUOTE_MAX_CHARS,
    SLUG_RE,
    Problem,
    Story,
    load_story,
    slugify,
)

PHOTO_NAME = "photo.jpg"
SLUG_MAX_CHARS = 60
TEXT_MAX_CHARS = 120
TITLE_MAX_CHARS = 160
ALT_MAX_CHARS = 300
BODY_MAX_CHARS = 20_000
TAGS_MAX = 12
TAG_MAX_CHARS = 40
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
DATE_HINT = "a date like 2026-10-14"
STAGING_PREFIX = ".new-"
DELETING_PREFIX = ".deleted-"


class DELETE:
    """A change that removes a key from the front matter."""


class ModerationError(Exception):
    """Something a person asked for that could not be done, and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoryGone(ModerationError):
    """The story's file is no longer on disk: deleted or renamed since it was read."""


class Conflict(ModerationError):
    """The file changed on disk since the person started from it."""

    def __init__(self, message: str, current: StoryFile) -> None:
        super().__init__(message)
        self.current = current


class InvalidStory(ModerationError):
    """The result would not be a readable story; `problems` say why, by field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems) or "not a valid story")
        self.problems = problems


class SlugTaken(ModerationError):
    """Another story already uses that slug."""


# -- reading a story file for editing ---------------------------------------------


def content_token(data: bytes) -> str:
    """Names one state of a file; an edit form carries it to detect changes on disk."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


@dataclass(frozen=True)
class StoryFile:
    """A story file's bytes, split the way the parser splits them."""

    path: Path
    raw: bytes
    head: str  # the opening fence line
    front: str  # between the fences
    fence: str  # the closing fence line, with its line break
    gap: str  # blank lines between the fence and the body
    body: str

    @property
    def token(self) -> str:
        return content_token(self.raw)

    @property
    def text(self) -> str:
        return self.head + self.front + self.fence + self.gap + self.body

    @property
    def newline(self) -> str:
        return "\r\n" if self.head.endswith("\r\n") else "\n"


def split_story_text(path: Path, raw: bytes) -> StoryFile:
    """Split a story file into its parts, so each can be kept byte for byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidStory([Problem(path, "not UTF-8 text")]) from None
    if not _FENCE.match(text) or "\n" not in text:
        raise InvalidStory([Problem(path, "no front matter")])
    start = text.index("\n") + 1
    closing = _FENCE.search(text, start)
    if closing is None:
        raise InvalidStory([Problem(path, "the front matter is never closed")])
    after = text.find("\n", closing.end())
    fence_end = len(text) if after < 0 else after + 1
    rest = text[fence_end:]
    body = rest.lstrip("\r\n")
    return StoryFile(
        path=path,
        raw=raw,
        head=text[:start],
        front=text[start : closing.start()],
        fence=text[closing.start() : fence_end],
        gap=rest[: len(rest) - len(body)],
        body=body,
    )


def read_story_file(path: Path) -> StoryFile:
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise StoryGone(GONE) from None
    return split_story_text(path, raw)


GONE = (
    "This story is no longer in the stories folder: it was deleted or renamed "
    "while you were looking at it. Nothing was changed."
)
CHANGED = (
    "This story changed on disk since you opened it (someone edited the file, "
    "or another moderator saved first). Nothing was saved."
)


# -- changing front matter, line by line -----------------------------------------------

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ODD_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")


def dump_entry(key: str, value: Any, indent: str = "", newline: str = "\n") -> list[str]:
    """`key: value` as front-matter lines: scalars plain or quoted, lists in [flow]
    style, blocks as indented blocks, as people write them by hand."""
    if isinstance(value, Mapping):
        lines = [f"{indent}{key}:{newline}"]
        for sub_key, sub_value in value.items():
            if sub_value is not DELETE and not _empty(sub_value):
                lines += dump_entry(sub_key, sub_value, indent + "  ", newline)
        return lines
    if value is None or value == "":
        return [f"{indent}{key}:{newline}"]
    is_list = isinstance(value, list | tuple | frozenset | set)
    text = yaml.safe_dump(
        {key: list(value) if is_list else value},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None if is_list else False,  # [a, b] lists, plain scalars
        width=1 << 30,
    )
    return [f"{indent}{line}{newline}" for line in text.splitlines()]


def dump_front_matter(data: Mapping[str, Any], newline: str = "\n") -> str:
    return "".join(
        line for key, value in data.items() for line in dump_entry(key, value, "", newline)
    )


@dataclass
class _Entry:
    key: str
    start: int  # first line
    end: int  # one past the last line
    column: int
    value: yaml.Node


def _lines(text: str) -> list[str]:
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _entries(node: yaml.MappingNode, lines: list[str], region_end: int) -> list[_Entry]:
    """Each key of a block mapping with the lines it spans, trailing comments excluded."""
    keyed = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
    entries = []
    for i, (key, value) in enumerate(keyed):
        start = key.start_mark.line
        end = keyed[i + 1][0].start_mark.line if i + 1 < len(keyed) else region_end
        column = key.start_mark.column
        while end > start + 1 and _is_trailing(lines[end - 1], column):
            end -= 1
        entries.append(_Entry(str(key.value), start, end, column, value))
    return entries


def _is_trailing(line: str, column: int) -> bool:
    """A blank line, or a comment no deeper than the key: not part of the key's value."""
    stripped = line.strip()
    if not stripped:
        return True
    indent = len(line) - len(line.lstrip(" "))
    return stripped.startswith("#") and indent <= column


def set_front_matter(front: str, changes: Mapping[str, Any]) -> str:
    """Apply `changes` ({key: value}; dotted keys reach into a block such as
    ``consent.withdrawn``; a value of DELETE removes the key) to front-matter text,
    rewriting only the lines of keys whose value changes."""
    newline = "\r\n" if "\r\n" in front else "\n"
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "." in key:
            parent, child = key.split(".", 1)
            nested.setdefault(parent, {})[child] = value
        else:
            top[key] = value
    try:
        root = yaml.compose(front, Loader=_Loader) if front.strip() else None
    except yaml.YAMLError as exc:
        raise InvalidStory([Problem(Path("index.md"), f"YAML syntax error: {exc}")]) from None
    block = root is None or (isinstance(root, yaml.MappingNode) and not root.flow_style)
    if not block or _ODD_BREAKS.search(front):
        # Not the usual 'key: value' lines: rewrite the whole front matter.
        data = yaml.safe_load(front) or {}
        for key, value in top.items():
            _assign(data, key, value)
        for parent, children in nested.items():
            current = data.get(parent)
            data[parent] = dict(current) if isinstance(current, dict) else {}
            for key, value in children.items():
                _assign(data[parent], key, value)
        return dump_front_matter(data, newline)

    lines = _lines(front)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    entries = _entries(root, lines, len(lines)) if root is not None else []
    by_key = {e.key: e for e in entries}
    edits: list[tuple[int, int, list[str]]] = []
    added: list[str] = []
    for key, value in top.items():
        entry = by_key.get(key)
        if entry is None:
            if value is not DELETE and not _empty(value):
                added += dump_entry(key, value, "", newline)
        elif value is DELETE:
            edits.append((entry.start, entry.end, []))
        else:
            edits.append((entry.start, entry.end, dump_entry(key, value, "", newline)))
    for parent, children in nested.items():
        entry = by_key.get(parent)
        if entry is None:
            fresh = {k: v for k, v in children.items() if v is not DELETE}
            if not all(_empty(v) for v in fresh.values()):
                added += dump_entry(parent, fresh, "", newline)
            continue
        if isinstance(entry.value, yaml.MappingNode) and not entry.value.flow_style:
            edits += _nested_edits(entry, lines, children, newline)
            continue
        # A flow block {…}, or not a block at all: write the whole key anew.
        current = yaml.safe_load("".join(lines[entry.start : entry.end]))
        merged = current.get(parent) if isinstance(current, dict) else None
        merged = dict(merged) if isinstance(merged, dict) else {}
        for key, value in children.items():
            _assign(merged, key, value)
        edits.append((entry.start, entry.end, dump_entry(parent, merged, "", newline)))
    if added:
        at = entries[-1].end if entries else len(lines)
        edits.append((at, at, added))
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[start:end] = new
    return "".join(lines)


def _nested_edits(
    parent: _Entry, lines: list[str], children: Mapping[str, Any], newline: str
) -> list[tuple[int, int, list[str]]]:
    node = parent.value
    assert isinstance(node, yaml.MappingNode)
    subs = _entries(node, lines, parent.end)
    by_key = {e.key: e for e in subs}
    indent = " " * (subs[0].column if subs else parent.column + 2)
    edits: list[tuple[int, int, list[str]]] = []
    added: list[str] = []
    for key, value in children.items():
        entry = by_key.get(key)
        if entry is None:
            if value is not DELETE and not _empty(value):
                added += dump_entry(key, value, indent, newline)
        elif value is DELETE:
            edits.append((entry.start, entry.end, []))
        else:
            edits.append((entry.start, entry.end, dump_entry(key, value, indent, newline)))
    if added:
        at = subs[-1].end if subs else parent.start + 1
        edits.append((at, at, added))
    return edits


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


def _assign(data: dict[str, Any], key: str, value: Any) -> None:
    if value is DELETE:
        data.pop(key, None)
    else:
        data[key] = list(value) if isinstance(value, tuple | frozenset | set) else value


def normalize_body(text: str, newline: str = "\n") -> str:
    """A body as typed in a browser: LF line ends (CRLF for CRLF files), no control
    characters, one final line break."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).strip("\n")
    text = text + "\n" if text else ""
    return text.replace("\n", newline) if newline != "\n" else text


def same_body(a: str, b: str) -> bool:
    return normalize_body(a).rstrip() == normalize_body(b).rstrip()


def edited_text(current: StoryFile, changes: Mapping[str, Any], body: str | None = None) -> str:
    """The file's new text: changed keys rewritten, everything else byte for byte."""
    front = set_front_matter(current.front, changes) if changes else current.front
    new_body, fence = current.body, current.fence
    if body is not None and not same_body(body, current.body):
        new_body = normalize_body(body, current.newline)
        if new_body and not fence.endswith("\n"):
            fence += current.newline  # the file ended at its closing fence
    return current.head + front + fence + current.gap + new_body


# -- writing under a lock --------------------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the story file now at `path`, across processes.

    A write replaces the file (a new inode), so after waiting for the lock we
    check that we still hold the file the path names, and try again if not.
    """
    for _ in range(50):
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise StoryGone(GONE) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                raise StoryGone(GONE) from None
            if os.path.samestat(current, os.fstat(fd)):
                yield
                return
        finally:
            os.close(fd)
    raise ModerationError("The story file is busy; try again in a moment.")


def check_story(path: Path, root: Path, data: bytes) -> Story:
    """Parse `data` as the file at `path` would be; raise InvalidStory on any problem."""
    story, problems = load_story(path, root, data=data)
    if story is None or problems:
        raise InvalidStory(problems)
    return story


def update_story(
    path: Path,
    changes: Mapping[str, Any],
    *,
    body: str | None = None,
    expected: str | None = None,
    root: Path | None = None,
) -> tuple[Story, str]:
    """Change a story's fields (and body), refusing if the file is not the one
    `expected` names; return the story as written and the file's new token."""
    with locked(path):
        current = read_story_file(path)
        if expected is not None and current.token != expected:
            raise Conflict(CHANGED, current)
        new = edited_text(current, changes, body).encode("utf-8")
        story = check_story(path, root or _root_of(path), new)
        if new != current.raw:
            write_atomic(path, new)
    return story, content_token(new)


def _root_of(path: Path) -> Path:
    return path.parent.parent if path.name == "index.md" else path.parent


def timestamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now().astimezone()).isoformat(timespec="seconds")


# -- the moderation actions --------------------------------------------------------------------


def approve_changes(who: str, now: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "status": "approved",
        "approved_by": who,
        "approved_at": timestamp(now),
        "rejected_by": DELETE,
        "rejected_at": DELETE,
        "rejected_reason": DELETE,
    }


def reject_changes(who: str, reason: str, now: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "status": "rejected",
        "rejected_by": who,
        "rejected_at": timestamp(now),
        "rejected_reason": reason,
        "approved_by": DELETE,
        "approved_at": DELETE,
    }


def unpublish_changes() -> dict[str, Any]:
    """Back to the queue: off every screen until approved again."""
    return {"status": "pending", "approved_by": DELETE, "approved_at": DELETE}


def withdraw_consent_changes(story: Story, today: dt.date) -> dict[str, Any]:
    if story.consent is None:
        raise ModerationError("There is no consent on record to withdraw.")
    if story.consent.withdrawn is not None and story.consent.withdrawn <= today:
        raise ModerationError(
            f"Consent was already withdrawn on {story.consent.withdrawn.isoformat()}."
        )
    return {"consent.withdrawn": today}


# -- creating a submission --------------------------------------------------------------------


def create_story(
    root: Path,
    front: Mapping[str, Any],
    body: str,
    photo: bytes | None = None,
    *,
    slug_base: str | None = None,
) -> Story:
    """Write a new bundle under a slug no other story uses; never overwrite one.

    The bundle is built and checked in a hidden staging folder, then moved into
    place in one rename onto a slug folder claimed with an atomic mkdir.
    """
    root.mkdir(parents=True, exist_ok=True)
    _sweep_staging(root)
    base = slug_base or slugify(str(front.get("name") or ""))
    base = base[:SLUG_MAX_CHARS].strip("-") or "story"
    staging = root / f"{STAGING_PREFIX}{secrets.token_hex(8)}"
    folder = staging / base
    try:
        folder.mkdir(parents=True)  # in the try: a full disk may refuse the second folder
        data = dict(front)
        if photo is not None:
            write_atomic(folder / PHOTO_NAME, photo)
            data["photo"] = PHOTO_NAME
        text = "---\n" + dump_front_matter(data) + "---\n" + normalize_body(body)
        write_atomic(folder / "index.md", text.encode("utf-8"))
        check_story(folder / "index.md", staging, text.encode("utf-8"))
        slug = _claim_slug(root, base)
        try:
            os.rename(folder, root / slug)  # onto the empty folder we just claimed
        except OSError:
            (root / slug).rmdir()
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    story, problems = load_story(root / slug / "index.md", root)
    if story is None:
        raise InvalidStory(problems)
    return story


def _claim_slug(root: Path, base: str) -> str:
    for n in range(1, 10_000):
        slug = base if n == 1 else f"{base}-{n}"
        if (root / f"{slug}.md").exists():
            continue
        try:
            (root / slug).mkdir()  # atomic: of two claims on one slug, one wins
        except FileExistsError:
            continue
        return slug
    raise SlugTaken(f"too many stories named {base}")


def _sweep_staging(root: Path, older_than: float = 3600) -> None:
    """Remove staging folders left behind by a crash."""
    cutoff = time.time() - older_than
    for entry in root.glob(f"{STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


# -- renaming and deleting ----------------------------------------------------------------------


def story_path(root: Path, slug: str) -> Path:
    """Where a slug's story file is: the bundle's index.md, else the single file."""
    folder = root / slug
    return folder / "index.md" if folder.is_dir() else root / f"{slug}.md"


def rename_story(root: Path, story: Story, new_slug: str) -> Path:
    """Give a story a new slug (its URL); refuse if another story has it."""
    if not SLUG_RE.match(new_slug) or len(new_slug) > SLUG_MAX_CHARS:
        raise ModerationError(
            "Use lowercase letters, digits and hyphens, starting with a letter or digit, "
            f"for example '{slugify(new_slug) or 'maria-alvarez'}'."
        )
    taken = SlugTaken(f"Another story already uses '{new_slug}'. Choose another.")
    with locked(story.source):
        if story.is_bundle:
            if (root / f"{new_slug}.md").exists():
                raise taken
            try:
                (root / new_slug).mkdir()
            except FileExistsError:
                raise taken from None
            os.rename(story.source.parent, root / new_slug)
            return root / new_slug / "index.md"
        if (root / new_slug).exists():
            raise taken
        target = root / f"{new_slug}.md"
        try:
            os.link(story.source, target)  # fails, atomically, if the name is taken
        except FileExistsError:
            raise taken from None
        story.source.unlink()
        return target


def delete_story(root: Path, story: Story, *, photo_shared: bool = False) -> None:
    """Remove a story's files: the whole bundle, or the single file (and its photo,
    unless another story shows it). A bundle leaves in one rename, so no reader
    sees half of one."""
    with locked(story.source):
        if story.is_bundle:
            doomed = root / f"{DELETING_PREFIX}{story.slug}-{secrets.token_hex(4)}"
            os.rename(story.source.parent, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            return
        story.source.unlink()
    if story.photo is not None and not photo_shared:
        story.photo.unlink(missing_ok=True)


# -- reading forms ----------------------------------------------------------------------------


@dataclass
class FormResult:
    """Cleaned values by form field, and an error message by form field."""

    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Reader:
    def __init__(self, form: Mapping[str, Any]) -> None:
        self.form = form
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        value = self.form.get(name, "")
        if isinstance(value, list):
            value = value[0] if value else ""
        return str(value or "")

    def text(
        self, name: str, *, missing: str | None = None, limit: int = TEXT_MAX_CHARS, what: str = ""
    ) -> str:
        value = " ".join(_clean(self.raw(name)).split())
        self.values[name] = value
        if not value and missing:
            self.errors[name] = missing
        elif len(value) > limit:
            self.errors[name] = (
                f"{what or 'This'} is {len(value)} characters; keep it to {limit} or fewer."
            )
        return value

    def date(self, name: str, *, missing: str | None = None) -> dt.date | None:
        raw = self.raw(name).strip()
        self.values[name] = raw
        if not raw:
            if missing:
                self.errors[name] = missing
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError
            value = dt.date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = f"'{raw[:40]}' is not a date we can read; use {DATE_HINT}."
            return None
        self.values[name] = value
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.raw(name) or default
        if value not in options:
            self.errors[name] = f"Choose one of: {', '.join(options)}."
            value = default
        self.values[name] = value
        return value

    def places(self, name: str, *, missing: str | None) -> list[str]:
        raw = self.form.get(name) or []
        chosen = [raw] if isinstance(raw, str) else list(raw)
        unknown = [p for p in chosen if p not in PLACES]
        value = [p for p in PLACES if p in chosen]
        self.values[name] = value
        if unknown:
            self.errors[name] = f"Choose from: {', '.join(PLACES)}."
        elif not value and missing:
            self.errors[name] = missing
        return value

    def tags(self, name: str) -> list[str]:
        raw = _clean(self.raw(name))
        tags = [" ".join(t.split()).casefold().lstrip("#") for t in re.split(r"[,;\n]", raw)]
        value = list(dict.fromkeys(t for t in tags if t))
        self.values[name] = ", ".join(value)
        if len(value) > TAGS_MAX:
            self.errors[name] = f"That is {len(value)} tags; use {TAGS_MAX} or fewer."
        elif any(len(t) > TAG_MAX_CHARS for t in value):
            self.errors[name] = f"Keep each tag to {TAG_MAX_CHARS} characters or fewer."
        return value

    def body(self, name: str, *, missing: str | None = None) -> str:
        value = normalize_body(self.raw(name))
        self.values[name] = value
        if not value.strip() and missing:
            self.errors[name] = missing
        elif len(value) > BODY_MAX_CHARS:
            self.errors[name] = (
                f"The story is {len(value):,} characters; keep it to {BODY_MAX_CHARS:,} or fewer."
            )
        return value

    def flag(self, name: str) -> bool:
        value = self.raw(name) in ("1", "on", "true", "yes")
        self.values[name] = value
        return value

    def result(self) -> FormResult:
        return FormResult(self.values, self.errors)


def _clean(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


def _quote(r: _Reader, missing: str | None) -> str:
    quote = r.text("quote", missing=missing, limit=10_000)
    if len(quote) > QUOTE_MAX_CHARS:
        r.errors["quote"] = (
            f"The quote is {len(quote)} characters; keep it to {QUOTE_MAX_CHARS} or fewer "
            "so it reads in one glance on a TV."
        )
    return quote


def _consent(r: _Reader, today: dt.date, *, required: bool, is_new: bool) -> None:
    given_by = r.text(
        "consent_given_by",
        missing="Enter who gave consent (usually the customer)." if required else None,
        what="The name",
    )
    when = r.date(
        "consent_date",
        missing=f"Enter the date consent was given, as {DATE_HINT}." if required else None,
    )
    scope = r.places(
        "consent_scope",
        missing="Tick at least one place the customer agreed to." if required else None,
    )
    expires = r.date("consent_expires")
    if not required and (given_by or when or scope or r.values["consent_date"]):
        # Consent is optional while editing, but half a record is not a record.
        if not given_by:
            r.errors.setdefault("consent_given_by", "Enter who gave consent.")
        if not r.values["consent_date"]:
            r.errors.setdefault("consent_date", f"Enter when, as {DATE_HINT}.")
        if not scope:
            r.errors.setdefault("consent_scope", "Tick at least one place.")
    if when and when > today:
        r.errors.setdefault("consent_date", "This date is in the future; enter when it was given.")
    if when and expires and expires <= when:
        r.errors.setdefault("consent_expires", "Consent must expire after the day it was given.")
    if is_new and expires and expires < today:
        r.errors.setdefault("consent_expires", "This date has already passed.")


def read_submission(form: Mapping[str, Any], today: dt.date, *, has_photo: bool) -> FormResult:
    """Check the staff submission form; every problem is reported against its field."""
    r = _Reader(form)
    r.text("name", missing="Enter the customer's name.", what="The name")
    r.text("role", missing="Enter their role, for example 'Swing-shift foreman'.", what="The role")
    r.text("company", missing="Enter the company they work for.", what="The company")
    r.text("location", what="The location")
    r.text("title", limit=TITLE_MAX_CHARS, what="The title")
    _quote(r, "Enter one sentence in their words, for the TV.")
    r.body("body", missing="Tell the story: what happened, and what changed for them.")
    r.tags("tags")
    alt = r.text("photo_alt", limit=ALT_MAX_CHARS, what="The description")
    if has_photo and not alt:
        r.errors["photo_alt"] = (
            "Describe the photo for people who cannot see it, for example "
            "'Maria on the foundry floor holding a casting'."
        )
    r.choice("kind", KINDS, "story")
    _consent(r, today, required=True, is_new=True)
    r.text("submitted_by", missing="Enter your name, so the moderator knows who to ask.")
    email = r.text("submitter_email", missing="Enter your email address.", limit=254)
    if email and not EMAIL_RE.match(email):
        r.errors["submitter_email"] = "Enter an email address like sam.ortiz@example.com."
    return r.result()


def submission_front_matter(
    values: Mapping[str, Any], today: dt.date, *, login: str | None = None
) -> dict[str, Any]:
    """The new story's front matter, in the order people read it."""
    consent: dict[str, Any] = {
        "given_by": values["consent_given_by"],
        "date": values["consent_date"],
        "scope": list(values["consent_scope"]),
    }
    if values.get("consent_expires"):
        consent["expires"] = values["consent_expires"]
    front: dict[str, Any] = {
        "name": values["name"],
        "role": values["role"],
        "company": values["company"],
        "location": values.get("location") or None,
        "title": values.get("title") or None,
        "quote": values["quote"],
        "photo_alt": values.get("photo_alt") or None,
        "kind": values.get("kind") or "story",
        "tags": [t.strip() for t in str(values.get("tags") or "").split(",") if t.strip()],
        "date": today,
        "status": "pending",
        "consent": consent,
        "submitted_by": values["submitted_by"],
        "submitter_email": values["submitter_email"],
        "submitter_login": login,
        "submitted_at": timestamp(),
    }
    return {k: v for k, v in front.items() if v not in (None, "")}


EDIT_FIELDS = {
    # form field: front-matter key
    "name": "name",
    "role": "role",
    "company": "company",
    "location": "location",
    "title": "title",
    "quote": "quote",
    "photo_alt": "photo_alt",
    "kind": "kind",
    "tags": "tags",
    "date": "date",
    "publish": "publish",
    "expires": "expires",
    "submitted_by": "submitted_by",
    "consent_given_by": "consent.given_by",
    "consent_date": "consent.date",
    "consent_scope": "consent.scope",
    "consent_expires": "consent.expires",
    "consent_withdrawn": "consent.withdrawn",
}


def read_dates(form: Mapping[str, Any]) -> FormResult:
    """A story's publish and expiry days, as set from its moderation page."""
    r = _Reader(form)
    publish = r.date("publish")
    expires = r.date("expires")
    if publish and expires and expires < publish:
        r.errors["expires"] = "The story must expire on or after its publish date."
    return r.result()


def edit_values(story: Story) -> dict[str, Any]:
    """The edit form's starting values, from the story as the parser read it."""
    consent = story.consent
    return {
        "slug": story.slug,
        "name": story.name,
        "role": story.role,
        "company": story.company,
        "location": story.location,
        "title": story.title,
        "quote": story.quote,
        "photo_alt": story.photo_alt,
        "kind": story.kind,
        "tags": ", ".join(story.tags),
        "date": story.date,
        "publish": story.publish,
        "expires": story.expires,
        "submitted_by": story.submitted_by,
        "consent_given_by": consent.given_by if consent else "",
        "consent_date": consent.date if consent else None,
        "consent_scope": sorted(consent.scope) if consent else [],
        "consent_expires": consent.expires if consent else None,
        "consent_withdrawn": consent.withdrawn if consent else None,
        "body": story.body,
    }


def read_edit(form: Mapping[str, Any], story: Story, today: dt.date) -> FormResult:
    """Check the moderator's edit form against the same rules as a submission."""
    r = _Reader(form)
    slug = r.text("slug", missing="Enter the link name.", limit=SLUG_MAX_CHARS).casefold()
    r.values["slug"] = slug
    if slug and not SLUG_RE.match(slug):
        r.errors["slug"] = (
            "Use lowercase letters, digits and hyphens, for example "
            f"'{slugify(slug) or story.slug}'."
        )
    r.text("name", missing="Enter the customer's name.", what="The name")
    r.text("role", missing="Enter their role.", what="The role")
    r.text("company", missing="Enter the company they work for.", what="The company")
    r.text("location", what="The location")
    r.text("title", limit=TITLE_MAX_CHARS, what="The title")
    _quote(r, None)
    r.body("body")
    r.tags("tags")
    r.text("photo_alt", limit=ALT_MAX_CHARS, what="The description")
    r.choice("kind", KINDS, story.kind)
    r.date("date")
    publish = r.date("publish")
    expires = r.date("expires")
    if publish and expires and expires < publish:
        r.errors.setdefault("expires", "The story must expire on or after its publish date.")
    r.text("submitted_by", what="The name")
    _consent(r, today, required=story.consent is not None, is_new=False)
    r.date("consent_withdrawn")
    return r.result()


def edit_changes(story: Story, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the front-matter keys whose value the moderator changed."""
    before = edit_values(story)
    changes: dict[str, Any] = {}
    for field_name, key in EDIT_FIELDS.items():
        old, new = before[field_name], values.get(field_name)
        if field_name == "tags":
            old_tags = list(story.tags)
            new_tags = [t.strip() for t in str(new or "").split(",") if t.strip()]
            if new_tags != old_tags:
                changes[key] = new_tags
            continue
        if (old or None) != (new or None):
            changes[key] = new if new not in ("", []) else None
    if story.consent is None and not any(k.startswith("consent.") for k in changes):
        return changes
    if story.consent is None:
        # A new consent record: write it as one block, in the usual order.
        for key in ("consent.given_by", "consent.date", "consent.scope"):
            changes.setdefault(key, values.get(EDIT_KEYS[key]))
    return changes


EDIT_KEYS = {key: field_name for field_name, key in EDIT_FIELDS.items()}


def where_it_would_show(story: Story, today: dt.date) -> dict[str, str | None]:
    """Per place, why an approved copy of this story would still be hidden (None: shown)."""
    approved = replace(story, status="approved")
    return {place: approved.hidden_reason(place, today) for place in PLACES}
