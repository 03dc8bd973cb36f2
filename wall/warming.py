"""Photo renditions made before anyone asks for them.

When a story appears, or its photo changes, every rendition of its photo is
made in the background, so that the first screen to show it, and the
moderator's preview, find them on disk rather than waiting for an encode.

One thread per process does the work, at a lower CPU priority than the
requests it must not slow down (Linux gives each thread a nice value of its
own). It learns of changes from the index's version (`wait_for_change`) and
tells what changed by the identity of the index's stories: the index keeps
a story's object until its file or its photo changes. The photos it has yet
to prepare are a bounded, ordered set; when more arrive than it holds, they
are dropped in favour of one sweep over every story, which passes over a
photo already prepared in two stats.

`PhotoCache.prepare` makes the renditions, named by content and locked
across processes: with several workers, whichever comes first makes a
rendition and the others find it made. Renditions stay per server.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from .index import StoryIndex
from .photos import PhotoCache, PhotoError
from .stories import Story

log = logging.getLogger(__name__)


class PhotoWarmer:
    """Prepares every story photo's renditions in a background thread of this process."""

    def __init__(
        self,
        index: StoryIndex,
        photos: PhotoCache,
        *,
        capacity: int = 256,
        niceness: int = 10,
        poll: float = 0.25,
    ) -> None:
        self.index = index
        self.photos = photos
        self.capacity = capacity  # photos waiting at most; more make one sweep of every story
        self.niceness = niceness
        self.poll = poll  # how soon the thread notices it is asked to stop, when idle
        self.prepared = 0  # photos this warmer has prepared
        self.swept = 0  # sweeps over every story (at start, and whenever the queue overflowed)
        self.native_id: int | None = None  # the thread's id, for its priority
        self._pending: dict[Path, None] = {}  # an ordered set: a photo waits once
        self._sweep: Iterator[Story] | None = None
        self._known: set[int] = set()
        self._alive: list[Story] = []  # the stories in _known, kept so that their ids stay theirs
        self._version: int | None = None  # the index version last looked at
        self._idle_at: int | None = None
        self._state = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    @property
    def waiting(self) -> int:
        """Photos queued, not counting those a sweep has still to reach."""
        return len(self._pending)

    @property
    def sweeping(self) -> bool:
        return self._sweep is not None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and self._pid == os.getpid() and thread.is_alive()

    def start(self) -> None:
        """Start this process's thread, once; a forked worker starts its own."""
        with self._state:
            if self.running:
                return
            # What a parent process had seen or queued means nothing here: start afresh.
            self._pending, self._sweep, self._known, self._alive = {}, None, set(), []
            self._version = self._idle_at = None
            self._stopping = threading.Event()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, args=(self._stopping,), name="photo-warmer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop; wait up to `timeout` (it ends after the photo at hand)."""
        if not self.running:
            return
        thread = self._thread
        self._stopping.set()
        assert thread is not None
        thread.join(timeout)
        self._thread = self._pid = None

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until the stories the index holds now are all seen to; False if not in `timeout`."""
        version = self.index.version
        with self._state:
            return self._state.wait_for(
                lambda: self._idle_at is not None and self._idle_at >= version, timeout
            )

    # -- the thread ----------------------------------------------------------------------------

    def _run(self, stopping: threading.Event) -> None:
        self._lower_priority()
        while not stopping.is_set():
            self.look()
            if self.work_one():
                continue
            with self._state:
                self._idle_at = self._version
                self._state.notify_all()
            self.index.wait_for_change(self._version or 0, self.poll)

    def _lower_priority(self) -> None:
        self.native_id = threading.get_native_id()
        if sys.platform != "linux":
            return  # elsewhere a thread has no priority of its own: leave the process alone
        try:
            current = os.getpriority(os.PRIO_PROCESS, self.native_id)
            os.setpriority(os.PRIO_PROCESS, self.native_id, min(19, current + self.niceness))
        except OSError as exc:
            log.info("preparing photos at normal priority: %s", exc)

    # look() and work_one() are the thread's two steps; a test may take them itself,
    # one at a time, on a warmer it has not started.

    def look(self) -> None:
        """Queue the photos of the stories that are new or changed since the last look."""
        version = self.index.version
        if version == self._version:
            return
        stories = self.index.stories()
        fresh = [s for s in stories if id(s) not in self._known and s.shown_photo is not None]
        self._known = {id(s) for s in stories}
        self._alive = stories
        self._version = version
        if len(self._pending) + len(fresh) > self.capacity:
            # More than the queue holds (every story, at start): one sweep instead.
            self._pending.clear()
            self._sweep = iter(stories)
            self.swept += 1
            return
        for story in fresh:
            self._pending[story.shown_photo] = None  # type: ignore[index]

    def work_one(self) -> bool:
        """See to the next photo: prepare it unless it is already. False when none is left."""
        photo = self._next()
        if photo is None:
            return False
        self._prepare(photo)
        return True

    def _next(self) -> Path | None:
        """The next photo to see to: new and changed ones first, then the sweep's."""
        if self._pending:
            photo = next(iter(self._pending))
            del self._pending[photo]
            return photo
        while self._sweep is not None:
            story = next(self._sweep, None)
            if story is None:
                self._sweep = None
            elif story.shown_photo is not None:
                return story.shown_photo
        return None

    def _prepare(self, photo: Path) -> None:
        try:
            if self.photos.preparation(photo) is not None:
                return  # prepared already, or known not to be usable
            made = self.photos.prepare(photo)
        except PhotoError as exc:
            # The admin says so on the story. A transient one (memory, a read error) is
            # left to the first request for it, or the next sweep.
            log.warning("cannot prepare the photo %s: %s", photo, exc)
        except OSError as exc:
            # Gone since the index read it, or a full disk: a request makes what it needs.
            log.warning("cannot prepare the photo %s: %s", photo, exc)
        except Exception:
            # One photo must never stop the photos after it, nor the thread.
            log.exception("unexpected error preparing the photo %s", photo)
        else:
            self.prepared += 1
            log.debug("prepared %s: %d renditions made", photo, made)
