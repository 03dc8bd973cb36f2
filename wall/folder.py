"""The stories folder: which paths are stories, and that nothing leads out of it.

This is the one home of the layout rule. A story is a *bundle*
``<slug>/index.md`` with its photos beside it, or a single file
``<slug>.md``; a bundle shadows a single file with the same slug. Names
starting with ``.`` or ``_`` (and editors' temp files) are never stories.

Paths from content are hostile: git keeps symlinks, so anyone who can merge
into a stories repository could point a photo or a story file at any file the
server can read. Every path is resolved and refused when its real path is
outside the real stories folder. The folder itself may be a symlink (a deploy
tool's release swap), so its real path is resolved afresh on each check.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

BUNDLE_INDEX = "index.md"
SUFFIX = ".md"

_TEMP_SUFFIXES = (
    "~", ".swp", ".swo", ".swx", ".tmp", ".part", ".partial", ".crdownload", ".bak", ".orig",
)  # fmt: skip


def is_ignored_name(name: str) -> bool:
    """True for names that are never stories: drafts, hidden and editor temp files."""
    return (
        name.startswith((".", "_", "#"))
        or name.endswith(_TEMP_SUFFIXES)
        or name == "4913"  # vim probes whether it may write in a folder with this name
        or name.casefold() in {"readme.md", "license.md", "contributing.md"}
    )


def story_slug(path: Path) -> str:
    """The slug a story file is known by: its bundle folder or its file stem."""
    return path.parent.name if path.name == BUNDLE_INDEX else path.stem


def is_bundle_file(path: Path) -> bool:
    return path.name == BUNDLE_INDEX


def root_of(path: Path) -> Path:
    """The stories folder a story file sits in."""
    return path.parent.parent if is_bundle_file(path) else path.parent


class StoryFolder:
    """The layout of one stories folder, and the guard at its edge."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._root_name = str(self.root)

    # -- where a slug's files are ----------------------------------------------------

    def bundle(self, slug: str) -> Path:
        return self.root / slug

    def single_file(self, slug: str) -> Path:
        return self.root / f"{slug}{SUFFIX}"

    def source(self, slug: str) -> tuple[Path, bool, Path | None]:
        """The file a slug's story is read from, whether it is a bundle, and the
        single file the bundle shadows (None when not a bundle)."""
        source, is_bundle, single = self.source_name(slug)
        return Path(source), is_bundle, Path(single) if single is not None else None

    def source_name(self, slug: str) -> tuple[str, bool, str | None]:
        """`source()` as plain strings: a rescan asks this of every story in the folder."""
        folder = os.path.join(self._root_name, slug)
        if os.path.isdir(folder):
            return os.path.join(folder, BUNDLE_INDEX), True, folder + SUFFIX
        return folder + SUFFIX, False, None

    def is_taken(self, slug: str) -> bool:
        """True when any story, bundle or single file, already uses `slug`."""
        return os.path.lexists(self.bundle(slug)) or os.path.lexists(self.single_file(slug))

    def slug_for_path(self, path: str | os.PathLike[str]) -> str | None:
        """The slug whose story a changed path belongs to, or None if it is no story's.

        Every story lives in one top-level entry of the stories folder, so the
        first path component names it, whatever changed beneath.
        """
        try:
            relative = Path(path).relative_to(self.root)
        except ValueError:
            return None
        if not relative.parts:
            return None
        top = relative.parts[0]
        if is_ignored_name(top) or any(is_ignored_name(part) for part in relative.parts[1:]):
            return None
        if len(relative.parts) == 1:
            if top.endswith(SUFFIX):
                return top[: -len(SUFFIX)]
            if "." not in top:
                return top  # a bundle folder itself: created, moved or removed
            return None
        return top

    def slugs(self) -> Iterator[str]:
        """Every slug with something on disk that could be a story."""
        yield from self.source_names()

    def source_names(self) -> dict[str, tuple[str, bool, str | None]]:
        """`source_name()` of every slug with something on disk, from one listing.

        The listing already says which names are folders and which single files
        exist, so a rescan of ten thousand bundles need not ask each of them:
        a bundle's shadowed single file is None here when there is none.
        """
        try:
            entries = {entry.name: entry for entry in os.scandir(self.root)}
        except (FileNotFoundError, NotADirectoryError):
            return {}
        found: dict[str, tuple[str, bool, str | None]] = {}
        inside = self._root_name + os.sep
        for name, entry in entries.items():
            if is_ignored_name(name):
                continue
            if entry.is_dir():
                single = name + SUFFIX
                shadowed = inside + single if single in entries else None
                found[name] = (inside + name + os.sep + BUNDLE_INDEX, True, shadowed)
            elif name.endswith(SUFFIX):
                found.setdefault(name[: -len(SUFFIX)], (inside + name, False, None))
        return found

    # -- containment -----------------------------------------------------------------

    def outside_reason(self, path: Path) -> str | None:
        """Why `path` may not be read (its real path leaves the folder), or None."""
        return outside_reason(self.root, path)


def outside_reason(root: Path, path: Path) -> str | None:
    """Why `path` may not be read as part of the stories folder `root`, or None.

    A symlink is followed to where it really points; anything that ends up
    outside the real stories folder is refused.
    """
    if _plainly_inside(root, path):
        return None
    try:
        real_root = Path(root).resolve()
        real = Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return f"cannot be resolved: {exc}"
    if real.is_relative_to(real_root):
        return None
    return "is a link to a file outside the stories folder; copy the file in instead"


def _plainly_inside(root: Path, path: Path) -> bool:
    """True when `path` lies under `root` through real folders to a real file: no
    symlink and no '..' on the way down from `root`.

    Then its real path is the real root joined with the same names, inside it
    whatever the root itself points at, and there is nothing to resolve. This
    costs a `lstat` per level below the root (two for a bundle's story file)
    where resolving both paths costs one per level of the whole path, twice:
    at ten thousand stories, the difference is a large part of start-up.
    """
    top, below = os.fspath(root), os.fspath(path)
    prefix = top if top.endswith(os.sep) else top + os.sep
    if not below.startswith(prefix):
        return False
    parts = below[len(prefix) :].split(os.sep)
    if any(part in ("", ".", "..") for part in parts):
        return False
    here = top
    for part in parts:
        here = os.path.join(here, part)
        try:
            if stat.S_ISLNK(os.lstat(here).st_mode):
                return False
        except OSError:
            return False  # gone, or not a folder on the way: the full check says why
    return True
