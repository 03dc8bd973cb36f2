"""A small least-recently-used cache that a worker's threads can share."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from flask import current_app

V = TypeVar("V")


class LRU(Generic[V]):
    """At most `size` entries; reading one makes it the last to go.

    Every read and write holds a lock: a gthread worker's threads share the
    cache, and an OrderedDict read, moved and evicted by several at once
    loses entries or raises KeyError. Values are built outside the lock, so a
    slow build never holds up the readers of other keys. One thread builds a
    missing value; others asking for it meanwhile wait for that one build
    rather than make their own (after a change, hundreds of kiosks ask for
    the same new playlist within a second).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        """Store `value` unless another thread stored one first; return the stored one."""
        with self._lock:
            stored = self._entries.setdefault(key, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return stored

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        while True:
            with self._lock:
                value = self._entries.get(key)
                if value is not None:
                    self._entries.move_to_end(key)
                    return value
                building = self._building.get(key)
                if building is None:
                    done = self._building[key] = threading.Event()
                    break
            building.wait()  # then take what it stored, or build if it failed
        try:
            return self.put(key, build())
        finally:
            with self._lock:
                del self._building[key]
            done.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def app_cache(name: str, size: int) -> LRU:
    """The app's cache called `name`, made on first use."""
    cache = current_app.extensions.get(name)
    if cache is None:
        # setdefault is atomic: two threads making it at once end up with one.
        cache = current_app.extensions.setdefault(name, LRU(size))
    return cache
