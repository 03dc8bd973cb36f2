"""Keep a StoryIndex in step with its folder, using watchdog.

Events only say where to look. They are collected until the folder has been
quiet for a moment (editors and `git` write in bursts: vim renames the old
file away before writing the new one), then the index re-reads the slugs
they touched. A periodic full rescan is the safety net for anything missed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from .index import StoryIndex

log = logging.getLogger(__name__)

# watchdog 7 also reports "opened" and "closed_no_write". Asking the kernel
# only for changes keeps the index's own reads from triggering more reads, and
# from flooding inotify's queue when 10,000 stories are read at start-up.
_CHANGES = {"created", "modified", "moved", "deleted", "closed"}
_EVENT_FILTER = [
    FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, FileMovedEvent, DirMovedEvent,
    FileDeletedEvent, DirDeletedEvent, FileClosedEvent,
]  # fmt: skip


class _Forwarder(FileSystemEventHandler):
    def __init__(self, paths: queue.SimpleQueue[str | None]) -> None:
        self.paths = paths

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return
        self.paths.put(str(event.src_path))
        if event.dest_path:
            self.paths.put(str(event.dest_path))


class StoryWatcher:
    """Watch `index.root` and refresh `index` after every change."""

    def __init__(
        self,
        index: StoryIndex,
        *,
        poll: bool = False,
        quiet: float = 0.05,
        max_delay: float = 0.25,
        rescan_every: float = 300.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.index = index
        self.poll = poll
        self.quiet = quiet
        self.max_delay = max_delay
        self.rescan_every = rescan_every
        self.poll_interval = poll_interval
        self.mode = "poll" if poll else "native"
        self.restarts = 0
        self.last_rescan = 0.0
        self._paths: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._watched: tuple[int, int] | None = None
        self._pending: set[str] = set()  # noticed, not yet applied
        self._pending_lock = threading.Lock()

    # -- life cycle ------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._start_observer()
        self._thread = threading.Thread(target=self._run, name="story-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._paths.put(None)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def alive(self) -> bool:
        thread_ok = self._thread is not None and self._thread.is_alive()
        return thread_ok and self._observer_alive()

    def _start_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
        root = self.index.root
        if not root.is_dir():
            self._observer = None
            return
        observer: BaseObserver
        observer = PollingObserver(timeout=self.poll_interval) if self.poll else Observer()
        observer.schedule(
            _Forwarder(self._paths),
            str(root),
            recursive=True,
            event_filter=_EVENT_FILTER,
            follow_symlink=True,  # deploy tools make stories/ a symlink to a release
        )
        try:
            observer.start()
        except OSError as exc:
            # inotify runs out of watches on big trees (fs.inotify.max_user_watches);
            # polling is slower but still correct.
            log.warning("cannot watch %s natively (%s); polling instead", root, exc)
            observer = PollingObserver(timeout=self.poll_interval)
            observer.schedule(
                _Forwarder(self._paths),
                str(root),
                recursive=True,
                event_filter=_EVENT_FILTER,
                follow_symlink=True,
            )
            observer.start()
            self.mode = "poll (fallback)"
        self._observer = observer
        self._watched = _identity(root)

    # -- the loop --------------------------------------------------------------

    def _run(self) -> None:
        self.last_rescan = time.monotonic()
        while not self._stopping.is_set():
            paths = self._collect()
            if self._stopping.is_set():
                return
            try:
                self._heal()
                if paths:
                    self.index.refresh_paths(paths)
                    with self._pending_lock:
                        self._pending -= paths
                if time.monotonic() - self.last_rescan >= self.rescan_every:
                    self.index.rescan()
                    self.last_rescan = time.monotonic()
                self.index.tick()
            except Exception:
                # The watcher must outlive any one bad moment on disk (a folder
                # vanishing mid-read, say); the next event or rescan converges.
                log.exception("error while refreshing the story index")

    def _collect(self) -> set[str]:
        """Wait for a change, then gather the burst it belongs to."""
        paths: set[str] = set()
        try:
            first = self._paths.get(timeout=1.0)
        except queue.Empty:
            return paths
        if first is None:
            return paths
        paths.add(first)
        self._note_pending(first)
        deadline = time.monotonic() + self.max_delay
        while (left := deadline - time.monotonic()) > 0:
            try:
                path = self._paths.get(timeout=min(self.quiet, left))
            except queue.Empty:
                break
            if path is None:
                break
            paths.add(path)
            self._note_pending(path)
        return paths

    def _note_pending(self, path: str) -> None:
        with self._pending_lock:
            self._pending.add(path)

    def catch_up(self) -> None:
        """Apply changes already noticed but still waiting for the folder to go quiet.

        Every worker has its own index: a kiosk told of a change by one worker
        may ask another that has the change in hand but not yet applied. That
        worker calls this first, so it never answers with what it had before.
        """
        if not self._pending and self._paths.empty():
            return
        drained: set[str] = set()
        while True:
            try:
                path = self._paths.get_nowait()
            except queue.Empty:
                break
            if path is None:
                self._paths.put(None)  # a stop request: leave it for the loop
                break
            drained.add(path)
        with self._pending_lock:
            paths = self._pending | drained
        if paths:
            self.index.refresh_paths(paths)

    def _heal(self) -> None:
        """Restart the observer if it died or the folder was replaced under it."""
        current = _identity(self.index.root)
        if current == self._watched and self._observer_alive():
            return
        if current is None:
            if self._observer is not None:
                log.warning("stories folder %s is gone; waiting for it", self.index.root)
                self._observer.stop()
                self._observer = None
                self._watched = None
                self.index.rescan()
            return
        log.warning("watching %s again (folder replaced or watcher stopped)", self.index.root)
        self.restarts += 1
        self._start_observer()
        self.index.rescan()
        self.last_rescan = time.monotonic()

    def _observer_alive(self) -> bool:
        observer = self._observer
        if observer is None or not observer.is_alive():
            return False
        return all(emitter.is_alive() for emitter in observer.emitters)


def _identity(path: Path) -> tuple[int, int] | None:
    """The folder's device and inode, following symlinks: changes on a swap."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
