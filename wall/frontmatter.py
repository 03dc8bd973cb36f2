"""Front matter as text: find its fences, and change it line by line.

The parser (wall.stories) and the editor share the fence rule here. An edit
touches only the lines of the fields that change: unknown keys, comments, key
order and the body's bytes stay as they were, so a story kept in git shows a
one-line diff for a one-field change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

FENCE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)


class DELETE:
    """A change that removes a key from the front matter."""


class NoFrontMatter(ValueError):
    """The text has no front matter between two '---' lines."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class BadFrontMatter(ValueError):
    """Front matter that is not YAML, so it cannot be edited line by line."""


def content_token(data: bytes) -> str:
    """Names one state of a file; an edit form carries it to detect changes on disk."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


@dataclass(frozen=True)
class StoryText:
    """A story file's text, split at its fences so each part can be kept byte for byte."""

    head: str  # the opening fence line
    front: str  # between the fences
    fence: str  # the closing fence line, with its line break
    gap: str  # blank lines between the fence and the body
    body: str

    @property
    def text(self) -> str:
        return self.head + self.front + self.fence + self.gap + self.body

    @property
    def newline(self) -> str:
        return "\r\n" if self.head.endswith("\r\n") else "\n"


def split_text(text: str) -> StoryText:
    """Split a story's text at its front-matter fences; raise NoFrontMatter if it has none."""
    if not FENCE.match(text):
        raise NoFrontMatter("no front matter: the file must start with a line '---'")
    closing = FENCE.search(text, text.index("\n") + 1) if "\n" in text else None
    if closing is None:
        raise NoFrontMatter("the front matter is never closed: add a line '---' after it")
    start = text.index("\n") + 1
    after = text.find("\n", closing.end())
    fence_end = len(text) if after < 0 else after + 1
    rest = text[fence_end:]
    body = rest.lstrip("\r\n")
    return StoryText(
        head=text[:start],
        front=text[start : closing.start()],
        fence=text[closing.start() : fence_end],
        gap=rest[: len(rest) - len(body)],
        body=body,
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
        raise BadFrontMatter(f"YAML syntax error: {exc}") from None
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


def edited_text(current: StoryText, changes: Mapping[str, Any], body: str | None = None) -> str:
    """The file's new text: changed keys rewritten, everything else byte for byte."""
    front = set_front_matter(current.front, changes) if changes else current.front
    new_body, fence = current.body, current.fence
    if body is not None and not same_body(body, current.body):
        new_body = normalize_body(body, current.newline)
        if new_body and not fence.endswith("\n"):
            fence += current.newline  # the file ended at its closing fence
    return current.head + front + fence + current.gap + new_body
