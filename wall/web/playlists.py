"""The kiosk's playlist: built once per index version and screen, from entries kept between them.

A wall of ten thousand stories makes a playlist of five megabytes. Each
story's entry is encoded once and kept for as long as the index holds that
same `Story` (an edit, a withdrawal or a new photo makes a new one), so a new
version of the playlist encodes only what changed and joins the rest. What
depends on every story (the order, the cycle, the ETag, the compressed
bytes) is made again per version, in C where it counts: joining, hashing and
compressing five megabytes takes tens of milliseconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from flask import current_app, request

from ..core import Wall
from ..db import DATABASE_TROUBLE
from ..rotation import boosted, cycle
from ..screens import Screen
from ..stories import KINDS, Story
from . import get_db, get_wall, today
from .cache import LRU
from .cards import KioskLinks, story_json
from .gzipped import GzipPieces

log = logging.getLogger(__name__)

_encode = json.JSONEncoder(separators=(",", ":")).encode
# Entries per piece of a playlist compressed on its own, on average: about 120 kB,
# four times deflate's window, so starting afresh costs a few per cent in size.
PIECE = 256
# Playlists kept per version: one per screen's settings and address.
KEPT_PER_VERSION = 64
# Addresses the wall is reached by (an intranet name, an IP address, a proxy's
# name) whose encoded entries are kept.
ADDRESSES = 4


@dataclass(frozen=True)
class Playlist:
    """One screen's playlist as sent: the JSON, its ETag, and the same JSON gzipped."""

    body: bytes
    etag: str  # names the content, not the version: every worker agrees on it
    gzipped: bytes
    made_for: tuple[int, dt.date]  # the index version and day asked for (or later)


class Playlists:
    """A worker's playlists by version, day, screen and address; and each story's entry."""

    def __init__(self, size: int) -> None:
        self._built: LRU[Playlist] = LRU(size)
        self._built_for: tuple[int, dt.date] | None = None  # the latest version and day asked
        # Per address the kiosks use (entries hold absolute links), the last few:
        # id(story) -> (that story, its entry). Holding the story keeps its id
        # from being reused by another.
        self._entries: OrderedDict[str, dict[int, tuple[Story, bytes, bool]]] = OrderedDict()
        self._gzip = GzipPieces()
        self._lock = threading.Lock()
        self._pruned_for: tuple[int, dt.date] | None = None

    def get(self, wall: Wall, screen: Screen) -> Playlist:
        """The playlist `screen` shows now: made at most once per index version."""
        now = (wall.index.version, today())
        built = self._built
        if self._built_for is None or now > self._built_for:
            # Playlists of an earlier version are not asked for again (but by a
            # request already under way): at ten thousand stories each is five
            # megabytes, so they go at once.
            with self._lock:
                if self._built_for is None or now > self._built_for:
                    self._built, self._built_for = LRU(self._built.size), now
                built = self._built
        key: Hashable = (*now, screen, request.url_root)
        return built.get_or_build(key, lambda: self._build(wall, screen, now))

    def _build(self, wall: Wall, screen: Screen, now: tuple[int, dt.date]) -> Playlist:
        everything = wall.index.visible("hallway")
        if not set(KINDS) <= set(screen.kinds):
            everything = [s for s in everything if s.kind in screen.kinds]
        chosen = (
            [s for s in everything if set(s.tags) & set(screen.tags)] if screen.tags else everything
        )
        notes = list(screen.notes)
        if screen.tags and not chosen and everything:
            # A typo in a screen's tags must not leave a hallway TV on the empty splash.
            notes.append(f"no stories tagged {', '.join(screen.tags)}; showing everything")
            chosen = everything
        pieces = self._pieces(wall, chosen)
        # Thank-yous to the team on this screen's floor, lately approved: they open
        # the cycle and come more often, and a kiosk puts one up at once when it
        # first appears.
        first = boosted(chosen, screen.teams, today(), int(current_app.config["THANKS_BOOST_DAYS"]))
        order = [s.slug for s in chosen]
        # Screens in a group step through the plain order in lockstep, each at
        # its own offset, so no two show the same story at the same moment.
        # (The boosted come first there too, but once: a story twice in the
        # cycle could meet itself on two screens of the group.)
        if screen.group:
            boosted_first = set(first)
            rotation = first + [s for s in order if s not in boosted_first]
        else:
            rotation = cycle(chosen, today(), first)
        pieces.append(
            b"".join(
                [
                    b'],"cycle":',
                    _encode(rotation).encode(),
                    b',"first":',
                    _encode(first).encode(),
                    b',"screen":',
                    _encode({**screen.as_json(), "notes": notes}).encode(),
                    b"}",
                ]
            )
        )
        # Byte for byte what json.dumps makes of the whole playlist at once.
        body = b"".join(pieces)
        etag = hashlib.blake2b(body, digest_size=12).hexdigest()
        # What it holds, for takedown reports: a kiosk's heartbeat names only the ETag.
        try:
            get_db().remember_playlist(etag, order)
        except DATABASE_TROUBLE:  # a full, locked or absent database must not keep screens waiting
            log.exception("could not remember playlist %s", etag)
        # Compressed once per version, not per request: a 1,000-story playlist
        # shrinks about tenfold, and hundreds of screens fetch the same bytes.
        # Only the pieces an edit touched are compressed again.
        return Playlist(body, etag, self._gzip.gzip(pieces, body), now)

    def _pieces(self, wall: Wall, stories: list[Story]) -> list[bytes]:
        """The playlist's opening and its stories' entries, cut into pieces.

        Each story's entry is encoded once and kept. The cuts fall after
        entries chosen by their own bytes (one in PIECE on average), not by
        position, so an edit, an addition or a removal changes one piece and
        leaves the others as they were, to be compressed no more.
        """
        root = request.url_root
        with self._lock:
            self._prune(wall)
            kept = self._entries.setdefault(root, {})
            self._entries.move_to_end(root)
            while len(self._entries) > ADDRESSES:  # a Host header is anyone's to make up
                self._entries.popitem(last=False)
            links: KioskLinks | None = None
            pieces: list[bytes] = []
            piece: list[bytes] = [b'{"stories":[']
            for story in stories:
                found = kept.get(id(story))
                if found is None or found[0] is not story:
                    links = links or KioskLinks()
                    entry = _encode(story_json(story, links)).encode()
                    found = kept[id(story)] = (story, entry, zlib.crc32(entry) % PIECE == 0)
                piece.append(found[1])
                if found[2]:
                    pieces.append(_joined(piece, first=not pieces))
                    piece = [b""]
            if len(piece) > 1 or not pieces:
                pieces.append(_joined(piece, first=not pieces))
            return pieces

    def _prune(self, wall: Wall) -> None:
        """Forget the entries of stories the index no longer holds as they were (under lock)."""
        index = wall.index
        now = (index.version, today())
        if self._pruned_for == now:
            return
        self._pruned_for = now
        self._gzip.new_version(now)
        current = {id(s) for s in index.visible("hallway")}
        for root, kept in list(self._entries.items()):
            self._entries[root] = {k: v for k, v in kept.items() if k in current}


def _joined(piece: list[bytes], *, first: bool) -> bytes:
    """A piece's bytes. The first opens the playlist (its head) before its entries;
    the others start with the comma that follows the entry before them."""
    head, *entries = piece
    return head + b",".join(entries) if first else b"," + b",".join(entries)


def playlists() -> Playlists:
    """This app's playlists, made on first use."""
    found = current_app.extensions.get("storywall.playlists")
    if found is None:
        made = Playlists(KEPT_PER_VERSION)
        found = current_app.extensions.setdefault("storywall.playlists", made)
    return found


def playlist_for(screen: Screen) -> Playlist:
    """The playlist `screen` shows now."""
    return playlists().get(get_wall(), screen)
