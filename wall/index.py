"""The live index: every story in the folder, kept in memory, versioned.

The index never trusts an event to say *what* changed, only *where* to look.
`refresh()` re-reads the named slugs from disk and converges to what is
there, so a missed, doubled or out-of-order event cannot leave it wrong.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from . import index_cache
from .folder import StoryFolder
from .ordered import OrderedStories
from .parsing import DEFAULT_LIMITS, StoryLimits, load_story
from .stories import Problem, Story

log = logging.getLogger(__name__)

# A file's times are as coarse as the kernel's clock tick (or two seconds, on
# some file systems): changed again within the tick it was read in, it shows
# the same stat. Files changed this shortly before a read are not trusted by
# their stat alone when that read is later compared against (see `rescan`).
UNSURE_NS = 2_000_000_000

# When this many stories are new to the index at once (a first start, a check
# of a whole folder), half are read by a forked helper on another core: parsing
# YAML is CPU-bound, and the GIL keeps threads from sharing it. Below this the
# fork and the hand-back cost more than they save.
HELPER_FROM = 2_000

Stat = tuple[str, int, int, int, int]  # path, mtime, size, inode, ctime (which nobody can set)
Signature = tuple[Stat | None, Stat | None, Stat | None]


@dataclass(frozen=True)
class Entry:
    """What one slug looked like on disk when last read."""

    signature: Signature
    story: Story | None
    problems: tuple[Problem, ...]


def _stat(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (path, st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _unsure(signature: Signature, since: int | None) -> bool:
    """Whether any of these files changed at or after `since` (ns), so may again unseen."""
    if since is None:
        return False
    source, shadowed, photo = signature
    return (
        (source is not None and source[4] >= since)
        or (shadowed is not None and shadowed[4] >= since)
        or (photo is not None and photo[4] >= since)
    )


def _may_fork() -> bool:
    """Whether a helper may be forked: never with other threads running, whose
    locks the child would inherit held."""
    return hasattr(os, "fork") and threading.active_count() == 1 and (os.cpu_count() or 1) > 1


class _HelperRead:
    """Entries read by a forked child, handed back through a pipe as one pickle."""

    def __init__(self, read: Callable[[str], Entry | None], slugs: list[str]) -> None:
        self.slugs = slugs
        readable, writable = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            os.close(readable), os.close(writable)
            raise
        if self.pid == 0:
            status = 1
            try:
                os.close(readable)
                with os.fdopen(writable, "wb") as pipe:
                    entries = {slug: read(slug) for slug in slugs}
                    pickle.dump(entries, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                status = 0
            except Exception:
                log.exception("a helper process could not read its stories")
            finally:  # whatever happened (Ctrl-C too), never return into the parent's code
                os._exit(status)
        os.close(writable)
        self._pipe = os.fdopen(readable, "rb")

    def result(self) -> dict[str, Entry | None] | None:
        """What the child read, each slug it was given; None if it failed."""
        # Unpickled as it arrives, never held whole: five megabytes at 10,000 stories.
        with self._pipe:
            try:
                entries = pickle.load(self._pipe)
            except Exception:  # cut short: the child failed
                entries = None
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped by someone else: what arrived will tell
            status = 0
        if status != 0:
            return None
        if not isinstance(entries, dict) or entries.keys() != set(self.slugs):
            return None
        return entries


class StoryIndex:
    """All stories under `root`, re-read as their files change."""

    def __init__(
        self,
        root: Path,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        limits: StoryLimits = DEFAULT_LIMITS,
        customer_only: bool = False,
    ) -> None:
        self.folder = StoryFolder(root)
        # Whether only the customer's own consent counts (WALL_CONSENT_CUSTOMER_ONLY).
        self.customer_only = customer_only
        self.root = self.folder.root
        self.limits = limits
        self.today = today
        self.version = 0
        self.loaded = False
        self.loaded_ns = time.time_ns()  # when load() began reading the folder
        self.unsaved_cache: tuple[Path, dict[str, Entry]] | None = None
        self.updated_at = time.time()
        self._entries: dict[str, Entry] = {}
        self._photo_owners: dict[Path, set[str]] = {}
        # Every readable story, and per place the ones shown there on one day,
        # each kept in order as stories change (None, or missing: made afresh
        # when next asked for); and the lists handed out for the current version.
        self._order: OrderedStories | None = None
        self._shown: dict[str, tuple[dt.date, OrderedStories]] = {}
        self._sorted: tuple[int, list[Story]] | None = None
        self._visible: dict[tuple[int, dt.date, str], list[Story]] = {}
        self._day = today()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)

    # -- reading ---------------------------------------------------------------

    def load(self, cache: Path | None = None, *, save_cache: bool = True) -> None:
        """Read every story in the folder.

        With a `cache` file (in the instance folder), a restart re-reads only
        the files whose size, time or inode changed since the last start:
        parsing 10,000 files costs seconds, comparing their stats does not.
        The cache is rewritten when anything was read afresh; with `save_cache`
        false, not now but by `save_cache()`, when the caller chooses.
        """
        started = time.perf_counter()
        self.loaded_ns = time.time_ns()
        # Hundreds of thousands of objects are made here and none is garbage:
        # the collector's passes over them, each longer than the last, would
        # add a fifth to the time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            saved, scanned_ns = self._read_cache(cache) if cache is not None else ({}, None)
            self.rescan(unsure_since=scanned_ns - UNSURE_NS if scanned_ns else None)
        finally:
            if collecting:
                gc.enable()
        self.loaded = True
        with self._lock:
            kept = {slug: e for slug, e in self._entries.items() if e.story is not None}
        reused = sum(1 for slug, entry in kept.items() if saved.get(slug) is entry)
        # Rewritten only when something was read afresh or is gone: a restart
        # with nothing changed is spared writing tens of megabytes.
        if cache is not None and (reused != len(kept) or len(saved) != len(kept)):
            self.unsaved_cache = (cache, kept)
            if save_cache:
                self.save_cache()
        log.info(
            "indexed %d stories (%d problems, %d unchanged since the last start) from %s in %.2fs",
            len(kept),
            len(self.problems()),
            reused,
            self.root,
            time.perf_counter() - started,
        )

    def _read_cache(self, cache: Path) -> tuple[dict[str, Entry], int | None]:
        """The entries saved by the last start, now the index's, and when it began reading."""
        saved, read_ns = index_cache.read(cache, self.root)
        entries = {slug: e for slug, e in saved.items() if isinstance(e, Entry)}
        with self._lock:
            self._entries = dict(entries)
            self._order, self._shown = None, {}
        return entries, read_ns

    def save_cache(self) -> None:
        """Write the cache `load()` left unsaved, if any."""
        if self.unsaved_cache is not None:
            cache, entries = self.unsaved_cache
            self.unsaved_cache = None
            index_cache.write(cache, self.root, self.loaded_ns, entries)

    def rescan(self, *, unsure_since: int | None = None) -> bool:
        """Compare the whole folder with the index; re-read only what differs.

        Comparing with what an earlier read recorded (a cache, a parent
        process), `unsure_since` (ns since the epoch) is a little before that
        read began: files changed since then are read again whatever their
        stat says, for a change within the clock tick of the read leaves none.
        """
        listed = self.folder.source_names()
        with self._lock:
            known = set(self._entries)
        return self._refresh(listed.keys() | known, unsure_since, listed)

    def catch_up(self) -> bool:
        """In a process forked after `load()`: read what changed since, comparing stats.

        Only files changed since the load began (or just before) are read again;
        everything else the parent read is kept as it is.
        """
        return self.rescan(unsure_since=self.loaded_ns - UNSURE_NS)

    def refresh_paths(self, paths: Iterable[str | os.PathLike[str]]) -> bool:
        """Re-read the stories that changed paths belong to."""
        slugs: set[str] = set()
        for path in paths:
            slug = self.folder.slug_for_path(path)
            if slug is not None:
                slugs.add(slug)
            else:
                with self._lock:
                    slugs |= self._photo_owners.get(Path(path), set())
        return self.refresh(slugs) if slugs else False

    def refresh(self, slugs: Iterable[str]) -> bool:
        """Re-read these slugs from disk. Return True if anything changed."""
        return self._refresh(slugs, None, {})

    def _refresh(
        self,
        slugs: Iterable[str],
        unsure_since: int | None,
        listed: dict[str, tuple[str, bool, str | None]],
    ) -> bool:
        with self._lock:
            olds = {slug: self._entries.get(slug) for slug in slugs}
        fresh = [slug for slug, old in olds.items() if old is None]

        def read_new(slug: str) -> Entry | None:
            return self._read(slug, None, None, listed.get(slug))

        helper = None
        if len(fresh) >= HELPER_FROM and _may_fork():
            handed = fresh[len(fresh) // 2 :]
            try:
                helper = _HelperRead(read_new, handed)
            except OSError as exc:  # no process to spare (a limit, no memory): read them all here
                log.info("reading every story here: no helper process (%s)", exc)
            else:
                helped = set(handed)
                olds = {slug: old for slug, old in olds.items() if slug not in helped}
        updates: dict[str, Entry | None] = {}
        try:
            for slug, old in olds.items():
                new = self._read(slug, old, unsure_since, listed.get(slug))
                if new is not old:
                    updates[slug] = new
        finally:
            # Whatever happens here, the helper is waited for, never left behind.
            read = helper.result() if helper is not None else None
        if helper is not None:
            if read is None:  # the helper failed: read its share here after all
                log.warning("a helper process could not read its stories; reading them here")
                read = {slug: read_new(slug) for slug in helped}
            updates.update((slug, new) for slug, new in read.items() if new is not None)
        with self._lock:
            changed = False
            for slug, new in updates.items():
                old = self._entries.get(slug)
                self._reorder(old.story if old else None, new.story if new else None)
                if new is None:
                    if old is not None:
                        del self._entries[slug]
                        self._forget_photo(slug, old)
                        changed = True
                    continue
                same = (
                    old is not None
                    and old.story == new.story
                    and old.problems == new.problems
                    # A replaced photo is a change (its rendition URLs change).
                    and (old.signature[2] or ())[:4] == (new.signature[2] or ())[:4]
                )
                self._entries[slug] = new
                if old is not None:
                    self._forget_photo(slug, old)
                if new.story is not None and new.story.photo is not None:
                    self._photo_owners.setdefault(new.story.photo, set()).add(slug)
                changed = changed or not same
            if changed:
                self._bump()
        return changed

    def _reorder(self, old: Story | None, new: Story | None) -> None:
        """Put `new` where `old` was in the kept orders (under the lock)."""
        if old is new:
            return
        try:
            if self._order is not None:
                if old is not None and not self._order.discard(old):
                    raise ValueError(f"{old.slug} is not in order")
                if new is not None:
                    self._order.add(new)
            for place, (day, shown) in self._shown.items():
                if old is not None:
                    shown.discard(old)  # False when it was not shown there: nothing to take out
                if new is not None and self.is_visible(new, place, day):
                    shown.add(new)
        except ValueError:
            # Never expected; if the kept orders disagree with the entries, they
            # are made afresh when next asked for rather than trusted.
            log.exception("story order out of step; sorting afresh")
            self._order, self._shown = None, {}

    def _forget_photo(self, slug: str, entry: Entry) -> None:
        if entry.story is not None and entry.story.photo is not None:
            owners = self._photo_owners.get(entry.story.photo)
            if owners is not None:
                owners.discard(slug)
                if not owners:
                    del self._photo_owners[entry.story.photo]

    def _read(
        self,
        slug: str,
        old: Entry | None,
        unsure_since: int | None,
        listed: tuple[str, bool, str | None] | None,
    ) -> Entry | None:
        # Strings, not Paths, until a file must be parsed: a rescan of an
        # unchanged folder is only this, ten thousand times over.
        name, is_bundle, single = listed or self.folder.source_name(slug)
        shadowed = (
            _stat(single) if single else None
        )  # a single file with a bundle's slug is ignored
        source_stat = _stat(name)
        if source_stat is None:
            if is_bundle:
                source = Path(name)
                problem = Problem(
                    source.parent, f"this folder has no {source.name}, so it is not a story yet"
                )
                return Entry((None, None, None), None, (problem,))
            return None
        kept = old.story if old is not None else None
        signature = (source_stat, shadowed, _stat(str(kept.photo)) if kept and kept.photo else None)
        # A file with problems is always re-read: what fixes it (a photo
        # copied in, say) may not touch the story file itself.
        if (
            kept is not None
            and old.signature == signature  # type: ignore[union-attr]
            and (unsure_since is None or not _unsure(signature, unsure_since))
        ):
            return old
        source = Path(name)
        single = Path(single) if single else None
        try:
            story, problems = load_story(source, self.root, limits=self.limits)
        except Exception as exc:
            # A file that trips the parser in a way nobody foresaw must cost
            # that one story, never the index or the watcher thread.
            log.exception("unexpected error reading %s", source)
            story, problems = None, [Problem(source, f"could not be read: {exc!r}")]
        if shadowed is not None and single is not None:
            problems.append(Problem(single, f"the bundle {slug}/ has the same slug; file ignored"))
        if story is not None and story.photo is not None:
            signature = (source_stat, shadowed, _stat(str(story.photo)))
        if old is None or list(old.problems) != problems:
            # Once per new problem: a file with problems is re-read on every
            # rescan, and each forked worker rescans what its parent logged.
            for problem in problems:
                log.warning("skipping story: %s", problem)
        return Entry(signature, story, tuple(problems))

    def _bump(self) -> None:
        self.version += 1
        self.updated_at = time.time()
        self._sorted = None
        self._changed.notify_all()

    def tick(self) -> bool:
        """Bump the version when the day changes: publish and expiry dates may have passed."""
        today = self.today()
        with self._lock:
            if today == self._day:
                return False
            self._day = today
            self._bump()
            return True

    # -- asking ----------------------------------------------------------------

    def stories(self) -> list[Story]:
        """Every readable story, visible or not: featured first, then newest."""
        with self._lock:
            if self._sorted is None or self._sorted[0] != self.version:
                self._sorted = (self.version, self._ordered().in_wall_order())
            return self._sorted[1]

    def _ordered(self) -> OrderedStories:
        """Every readable story in order (under the lock)."""
        if self._order is None:
            self._order = OrderedStories(
                e.story for e in self._entries.values() if e.story is not None
            )
        return self._order

    def visible(self, place: str, *, tags: Iterable[str] = ()) -> list[Story]:
        """The stories allowed in `place` today, optionally only those with any of `tags`."""
        today = self.today()
        with self._lock:
            key = (self.version, today, place)
            cached = self._visible.get(key)
            if cached is None:
                kept = self._shown.get(place)
                if kept is None or kept[0] != today:
                    # Once a day per place; after that, each change places only itself.
                    shown = self._ordered().where(lambda s: self.is_visible(s, place, today))
                    kept = self._shown[place] = (today, shown)
                cached = kept[1].in_wall_order()
                if len(self._visible) > 8:
                    self._visible.clear()
                self._visible[key] = cached
        wanted = {t.casefold() for t in tags if t}
        return [s for s in cached if wanted.intersection(s.tags)] if wanted else list(cached)

    def hidden_reason(self, story: Story, place: str, today: dt.date | None = None) -> str | None:
        """Why `story` may not appear in `place` today (None: it may), under this wall's policy."""
        return story.hidden_reason(place, today or self.today(), customer_only=self.customer_only)

    def is_visible(self, story: Story, place: str, today: dt.date | None = None) -> bool:
        return self.hidden_reason(story, place, today) is None

    def visible_anywhere(self, story: Story) -> bool:
        """True when the story may appear in at least one place today."""
        today = self.today()
        return any(self.is_visible(story, place, today) for place in ("hallway", "intranet"))

    def get(self, slug: str) -> Story | None:
        with self._lock:
            entry = self._entries.get(slug)
        return entry.story if entry is not None else None

    def problems(self) -> list[Problem]:
        with self._lock:
            found = [p for e in self._entries.values() for p in e.problems]
        return sorted(found, key=lambda p: (str(p.path), p.line or 0))

    def tags(self, place: str) -> list[tuple[str, int]]:
        """Tags in use among the stories visible in `place`, most used first."""
        counts: dict[str, int] = {}
        for story in self.visible(place):
            for tag in story.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until the version moves past `since` or `timeout` passes; return it."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != since, timeout)
            return self.version
