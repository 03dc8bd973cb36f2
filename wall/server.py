"""`storywall serve`: the wall under gunicorn."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
from typing import Any

from gunicorn.app.base import BaseApplication

from . import create_app
from .index import StoryIndex

log = logging.getLogger(__name__)

# mallopt() parameters, from glibc's malloc.h.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


class WallServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn, configured in code, serving `create_app()`.

    The app is preloaded: the master reads the stories once and every worker
    starts from that copy, instead of each reading the whole folder again.
    Each worker then starts its own watcher (threads do not survive fork).
    """

    def __init__(self, settings: dict[str, Any], options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        self.application = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("preload_app", True)
        self.cfg.set("post_fork", self._post_fork)
        self.cfg.set("worker_exit", self._worker_exit)
        # No control socket: we manage workers with signals, and several
        # walls on one machine must not fight over ~/.gunicorn/.
        self.cfg.set("control_socket_disable", True)

    def load(self):  # type: ignore[no-untyped-def]
        if self.application is None:
            _give_back_large_blocks()
            self.application = create_app({**self.settings, "DEFER_WATCH": True})
            _save_index_cache_aside(self.application.extensions["storywall"].index)
            _trim_heap()
            # What the master made (the index above all) lives as long as the
            # workers: out of the collector's sight, its passes in each worker
            # stay short, and do not copy the pages they would otherwise touch.
            gc.freeze()
        return self.application

    def _post_fork(self, server: Any, worker: Any) -> None:
        if self.application is not None:
            wall = self.application.extensions["storywall"]
            # Event streams end as soon as this worker is told to stop, so a
            # graceful reload does not wait out the timeout on open kiosks.
            wall.serving = lambda: worker.alive
            wall.ensure_watching()

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self.application is not None:
            self.application.extensions["storywall"].stop()


def _give_back_large_blocks() -> None:
    """Have glibc's malloc return large freed blocks to the system, for master and workers.

    Each new version of a playlist allocates a few buffers of megabytes (at
    10,000 stories the JSON is five) and frees the last version's. After a few
    such frees glibc serves them from its heap instead of mapping them, where
    freed space lingers, and with hundreds of threads it keeps an arena per
    thread up to eight per core: a worker grew by 50 MB over 20 edits. Large
    blocks mapped (and unmapped when freed) and two arenas keep it flat.
    Elsewhere than glibc this does nothing.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    mallopt(M_ARENA_MAX, 2)


def _trim_heap() -> None:
    """Give back what reading the stories freed, before the workers inherit the heap.

    Parsing ten thousand files frees as much as it keeps, in holes glibc keeps
    for later; each worker would start with them counted in its memory.
    Elsewhere than glibc this does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _save_index_cache_aside(index: StoryIndex) -> None:
    """Write the index cache from a child process, while the master forks its workers.

    Pickling ten thousand stories takes a few tenths of a second that the first
    answer need not wait for; the master has no threads yet, so forking is
    safe, and the child sees the index exactly as loaded. gunicorn reaps it.
    """
    if index.unsaved_cache is None:
        return
    if os.fork() == 0:
        status = 1
        try:
            os.nice(10)  # behind the workers starting up on the same cores
            index.save_cache()
            status = 0
        except BaseException:  # a child must never return into gunicorn's master
            log.exception("could not write the index cache")
        finally:
            os._exit(status)
    index.unsaved_cache = None


def gunicorn_options(
    *, host: str, port: int, workers: int, threads: int, worker_class: str = "gthread"
) -> dict[str, Any]:
    """gunicorn's settings for `storywall serve`."""
    # A gthread worker holds at most worker_connections sockets, busy or idle:
    # with no more of them than threads, none is ever kept alive (gunicorn
    # warns, and closes every connection after one response). Idle keep-alive
    # sockets wait in the poller, not in a thread. For gevent,
    # worker_connections is the number of requests at once.
    keep_alive = max(32, threads // 8) if worker_class == "gthread" else 0
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": worker_class,
        "threads": threads,
        "worker_connections": threads + keep_alive,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        # One line per request, key=value, easy to grep and to ship to a log store.
        "access_log_format": 'remote="%(h)s" request="%(r)s" status=%(s)s bytes=%(B)s '
        'ms=%(M)s ua="%(a)s"',
    }


def serve(
    settings: dict[str, Any],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    worker_class: str = "gthread",
) -> None:
    # Each open kiosk event stream holds a thread (or, with gevent, one of the
    # worker's connections); keep some back for pages.
    reserve = max(4, threads // 8)
    settings = {**settings, "STREAMS_PER_WORKER": max(threads - reserve, 1)}
    options = gunicorn_options(
        host=host, port=port, workers=workers, threads=threads, worker_class=worker_class
    )
    WallServer(settings, options).run()
