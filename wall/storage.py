"""Story files on disk: create, change, rename and delete them, safely.

- A submission becomes a new bundle (its story file and ``photo.jpg``). It
  is built in a hidden staging folder, checked with the story parser, and
  moved into place under a slug no other story has, claimed with an atomic
  ``mkdir``: two people sending the same name at once get two bundles.
- A change carries the token of the file it was based on and is refused if
  the file has changed since; it is checked with the story parser before it
  is written, atomically, under a lock shared by every process.

These are the steps; wall.moderation puts them together into whole actions.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import NotAPlainFile, open_plain, read_plain, write_atomic
from .folder import BUNDLE_INDEX, StoryFolder, is_bundle_file, root_of, story_slug
from .frontmatter import (
    NoFrontMatter,
    StoryText,
    content_token,
    dump_front_matter,
    edited_text,
    normalize_body,
    split_text,
)
from .parsing import StoryLimits, load_story
from .stories import SLUG_RE, Problem, Story, slugify

PHOTO_NAME = "photo.jpg"
SLUG_MAX_CHARS = 60
STAGING_PREFIX = ".new-"
DELETING_PREFIX = ".deleted-"


class ModerationError(Exception):
    """Something a person asked for that could not be done, and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoryGone(ModerationError):
    """The story's file is no longer on disk: deleted or renamed since it was read."""


class Conflict(ModerationError):
    """The file changed on disk since the person started from it."""

    def __init__(self, message: str, current: StoryFile | None = None) -> None:
        super().__init__(message)
        self.current = current


class InvalidStory(ModerationError):
    """The result would not be a readable story; `problems` say why, by field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems) or "not a valid story")
        self.problems = problems


class SlugTaken(ModerationError):
    """Another story already uses that slug."""


GONE = (
    "This story is no longer in the stories folder: it was deleted or renamed "
    "while you were looking at it. Nothing was changed."
)
CHANGED = (
    "This story changed on disk since you opened it (someone edited the file, "
    "or another moderator saved first). Nothing was saved."
)


@dataclass(frozen=True)
class StoryFile:
    """A story file's bytes, and its text split at the fences."""

    path: Path
    raw: bytes
    parts: StoryText

    @property
    def token(self) -> str:
        return content_token(self.raw)

    @property
    def text(self) -> str:
        return self.parts.text


def split_story_text(path: Path, raw: bytes) -> StoryFile:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidStory([Problem(path, "not UTF-8 text")]) from None
    try:
        return StoryFile(path, raw, split_text(text))
    except NoFrontMatter as exc:
        raise InvalidStory([Problem(path, exc.message, exc.line)]) from None


def read_story_file(path: Path) -> StoryFile:
    try:
        raw = read_plain(path)
    except (FileNotFoundError, NotADirectoryError, NotAPlainFile):
        raise StoryGone(GONE) from None
    return split_story_text(path, raw)


# -- writing under a lock --------------------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the story file now at `path`, across processes.

    A write replaces the file (a new inode), so after waiting for the lock we
    check that we still hold the file the path names, and try again if not.
    """
    for _ in range(50):
        try:
            fd = open_plain(path)
        except (FileNotFoundError, NotADirectoryError, NotAPlainFile):
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


def check_story(path: Path, root: Path, data: bytes, limits: StoryLimits | None = None) -> Story:
    """Parse `data` as the file at `path` would be; raise InvalidStory on any problem."""
    story, problems = load_story(path, root, data=data, limits=limits)
    if story is None or problems:
        raise InvalidStory(problems)
    return story


Commit = Callable[[str], None]


def _then(commit: Commit | None, slug: str, undo: Callable[[], object]) -> None:
    """Run `commit` (writing the audit record) after a write; if it fails, undo the write."""
    if commit is None:
        return
    try:
        commit(slug)
    except BaseException:
        undo()
        raise


def update_story(
    path: Path,
    changes: Mapping[str, Any],
    *,
    body: str | None = None,
    expected: str | None = None,
    root: Path | None = None,
    limits: StoryLimits | None = None,
    commit: Commit | None = None,
    new_slug: str | None = None,
    check: Callable[[Story, Story], None] | None = None,
) -> tuple[Story, str]:
    """Change a story's fields (and body), refusing if the file is not the one
    `expected` names; return the story as written and the file's new token.

    With `new_slug`, the story moves to that slug (its URL) in the same step:
    the fields and the link name change together or not at all. `check` sees
    the story before and after, and may refuse (raise) before anything is
    written. `commit` runs
    after the write, under the lock; if it raises, everything is put back, so
    a change and its audit record land together or not at all.
    """
    root = root or root_of(path)
    with locked(path):
        current = read_story_file(path)
        if expected is not None and current.token != expected:
            raise Conflict(CHANGED, current)
        # Never edit what we refuse to read (an alias bomb would expand on rewriting).
        before = check_story(path, root, current.raw, limits)
        new = edited_text(current.parts, changes, body).encode("utf-8")
        story = check_story(path, root, new, limits)
        if check is not None:
            check(before, story)
        target, unmove = path, None
        if new_slug is not None and new_slug != story.slug:
            target, unmove = _move(StoryFolder(root), path, new_slug)
        try:
            if new != current.raw:
                write_atomic(target, new)
        except BaseException:
            if unmove is not None:
                unmove()
            raise

        def undo() -> None:
            if new != current.raw:
                write_atomic(target, current.raw)
            if unmove is not None:
                unmove()

        _then(commit, story_slug(target), undo)
        if target != path and not is_bundle_file(path):
            path.unlink()  # a single file was linked to its new name; the old one goes last
    if target != path:
        story = check_story(target, root, new, limits)
    return story, content_token(new)


def _move(folder: StoryFolder, path: Path, new_slug: str) -> tuple[Path, Callable[[], None]]:
    """Give the story at `path` the slug `new_slug`, claimed atomically; return its new
    path and how to undo the move. A single file keeps its old name until the caller
    removes it."""
    check_slug(folder, new_slug)
    taken = SlugTaken(f"Another story already uses '{new_slug}'. Choose another.")
    if is_bundle_file(path):
        if os.path.lexists(folder.single_file(new_slug)):
            raise taken
        try:
            folder.bundle(new_slug).mkdir()  # claims the slug: of two claims, one wins
        except FileExistsError:
            raise taken from None
        try:
            os.rename(path.parent, folder.bundle(new_slug))  # onto the empty folder
        except OSError:
            folder.bundle(new_slug).rmdir()
            raise
        return folder.bundle(new_slug) / BUNDLE_INDEX, lambda: os.rename(
            folder.bundle(new_slug), path.parent
        )
    if os.path.lexists(folder.bundle(new_slug)):
        raise taken
    target = folder.single_file(new_slug)
    try:
        os.link(path, target)  # fails, atomically, if the name is taken
    except FileExistsError:
        raise taken from None
    return target, target.unlink


# -- creating a submission --------------------------------------------------------------------


def create_story(
    folder: StoryFolder,
    front: Mapping[str, Any],
    body: str,
    photo: bytes | None = None,
    *,
    slug_base: str | None = None,
    commit: Commit | None = None,
) -> Story:
    """Write a new bundle under a slug no other story uses; never overwrite one.

    The bundle is built and checked in a hidden staging folder, then moved into
    place in one rename onto a slug folder claimed with an atomic mkdir.
    """
    root = folder.root
    root.mkdir(parents=True, exist_ok=True)
    _sweep_staging(root)
    base = slug_base or slugify(str(front.get("name") or ""))
    base = base[:SLUG_MAX_CHARS].strip("-") or "story"
    staging = root / f"{STAGING_PREFIX}{secrets.token_hex(8)}"
    bundle = staging / base
    try:
        bundle.mkdir(parents=True)
        data = dict(front)
        if photo is not None:
            write_atomic(bundle / PHOTO_NAME, photo)
            data["photo"] = PHOTO_NAME
        text = ("---\n" + dump_front_matter(data) + "---\n" + normalize_body(body)).encode()
        write_atomic(bundle / BUNDLE_INDEX, text)
        check_story(bundle / BUNDLE_INDEX, staging, text)
        slug = claim_slug(folder, base)
        try:
            os.rename(bundle, folder.bundle(slug))  # onto the empty folder we just claimed
        except OSError:
            folder.bundle(slug).rmdir()
            raise
        _then(commit, slug, lambda: _remove_bundle(folder, slug))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    story, problems = load_story(folder.bundle(slug) / BUNDLE_INDEX, root)
    if story is None:
        raise InvalidStory(problems)
    return story


def claim_slug(folder: StoryFolder, base: str) -> str:
    """Claim the first free slug from `base`, `base-2`, ... with an empty bundle folder."""
    for n in range(1, 10_000):
        slug = base if n == 1 else f"{base}-{n}"
        if folder.is_taken(slug):
            continue
        try:
            folder.bundle(slug).mkdir()  # atomic: of two claims on one slug, one wins
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


def _remove_bundle(folder: StoryFolder, slug: str) -> None:
    """Take a bundle out of the folder in one rename, so no reader sees half of it."""
    doomed = folder.root / f"{DELETING_PREFIX}{slug}-{secrets.token_hex(4)}"
    os.rename(folder.bundle(slug), doomed)
    shutil.rmtree(doomed, ignore_errors=True)


# -- renaming and deleting ----------------------------------------------------------------------


def check_slug(folder: StoryFolder, new_slug: str) -> None:
    """Refuse a slug that is malformed or that another story already uses."""
    if not SLUG_RE.match(new_slug) or len(new_slug) > SLUG_MAX_CHARS:
        raise ModerationError(
            "Use lowercase letters, digits and hyphens, starting with a letter or digit, "
            f"for example '{slugify(new_slug) or 'maria-alvarez'}'."
        )
    if folder.is_taken(new_slug):
        raise SlugTaken(f"Another story already uses '{new_slug}'. Choose another.")


def rename_story(
    folder: StoryFolder, story: Story, new_slug: str, *, commit: Commit | None = None
) -> Path:
    """Give a story a new slug (its URL); refuse if another story has it."""
    check_slug(folder, new_slug)
    moved, _ = update_story(story.source, {}, root=folder.root, commit=commit, new_slug=new_slug)
    return moved.source


def delete_story(
    folder: StoryFolder,
    story: Story,
    *,
    photo_shared: bool = False,
    expected: str | None = None,
    commit: Commit | None = None,
) -> None:
    """Remove a story's files: the whole bundle, or the single file (and its photo,
    unless another story shows it). A bundle leaves in one rename, so no reader
    sees half of one. The audit record is committed before anything is removed:
    a deletion cannot be undone."""
    with locked(story.source):
        if expected is not None and read_story_file(story.source).token != expected:
            raise Conflict(
                "This story changed since you opened it; check it again before deleting."
            )
        if commit is not None:
            commit(story.slug)
        if story.is_bundle:
            _remove_bundle(folder, story.slug)
            return
        story.source.unlink()
    if story.photo is not None and not photo_shared:
        story.photo.unlink(missing_ok=True)
