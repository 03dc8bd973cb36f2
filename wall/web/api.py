"""What the kiosk reads: the story list, change events and health."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request

from ..rotation import cycle
from ..screens import NAME_RE, Screen, resolve_screen
from . import csrf, get_db, get_wall, today
from .auth import current_moderator
from .cards import story_json

bp = Blueprint("api", __name__)

HEARTBEAT_SECONDS = 15.0
_CACHE_SIZE = 64


def current_screen() -> Screen:
    """The screen asking, from ?screen= and the instance config, with query overrides."""
    args = request.args
    return resolve_screen(
        current_app.config.get("SCREENS") or {},
        args.get("screen", "")[:64],
        tags=args.get("tags", "")[:400],
        interval=args.get("interval", "")[:16],
        hours=args.get("hours", "")[:16],
    )


def playlist_body(screen: Screen) -> tuple[bytes, str, bytes]:
    """The JSON body and ETag of a screen's playlist, built once per index version."""
    wall = get_wall()
    key = (wall.index.version, today(), screen, request.host_url)
    cache: OrderedDict = current_app.extensions.setdefault("storywall.playlists", OrderedDict())
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    everything = [s for s in wall.index.visible("hallway") if s.kind in screen.kinds]
    chosen = (
        [s for s in everything if set(s.tags) & set(screen.tags)] if screen.tags else everything
    )
    notes = list(screen.notes)
    if screen.tags and not chosen and everything:
        # A typo in a screen's tags must not leave a hallway TV on the empty splash.
        notes.append(f"no stories tagged {', '.join(screen.tags)}; showing everything")
        chosen = everything
    stories = [story_json(s) for s in chosen]
    order = [s["slug"] for s in stories]
    body = json.dumps(
        {
            "stories": stories,
            # Screens in a group step through the plain order in lockstep, each at
            # its own offset, so no two show the same story at the same moment.
            "cycle": order if screen.group else cycle(chosen, today()),
            "screen": {**screen.as_json(), "notes": notes},
        },
        separators=(",", ":"),
    ).encode()
    # The ETag names the content, not the version: every worker agrees on it.
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    # Compressed once per version, not per request: a 1,000-story playlist
    # shrinks about tenfold, and hundreds of screens fetch the same bytes.
    entry = (body, etag, gzip.compress(body, compresslevel=6, mtime=0))
    cache[key] = entry
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return entry


@bp.get("/api/stories")
def stories():
    """List what a hallway screen shows, as JSON with an ETag."""
    get_wall().catch_up()
    body, etag, compressed = playlist_body(current_screen())
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(compressed, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(f"{etag}-gz")
    else:
        response = Response(body, mimetype="application/json")
        response.set_etag(etag)
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


@bp.post("/api/heartbeat")
@csrf.exempt  # kiosks post here without a session: a heartbeat changes nothing of anyone's
def heartbeat():
    """Record that a kiosk is alive: its screen, the story on it and what it has shown."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="send a JSON object"), 400
    screen = str(data.get("screen") or "").strip()[:64] or f"unnamed {request.remote_addr}"
    if not NAME_RE.match(screen) and not screen.startswith("unnamed "):
        return jsonify(error="screen names use letters, digits, spaces, '.', '_' or '-'"), 400
    index = get_wall().index
    shown: dict[str, int] = {}
    raw_shown = data.get("shown") if isinstance(data.get("shown"), dict) else {}
    for slug, count in list(raw_shown.items())[:500]:
        if isinstance(count, int) and 0 < count <= 100_000 and index.get(str(slug)) is not None:
            shown[str(slug)] = count
    story = data.get("story")
    try:
        uptime = min(max(float(data.get("uptime", 0)), 0.0), 10 * 365 * 86400.0)
    except (TypeError, ValueError):
        uptime = 0.0
    get_db().record_heartbeat(
        screen,
        story=str(story)[:200] if story else None,
        playlist=str(data.get("playlist") or "")[:64] or None,
        uptime=uptime,
        shown=shown,
        address=request.remote_addr,
        user_agent=request.user_agent.string[:300],
    )
    # `now` lets the screens of a group keep step by the server's clock.
    return jsonify(ok=True, every=int(current_app.config["HEARTBEAT_SECONDS"]), now=time.time())


class StreamSlots:
    """How many event streams this worker may hold open at once.

    Each stream holds a worker thread; past the limit a kiosk gets a quick 503
    with Retry-After (and keeps polling /api/stories), instead of taking the
    threads that ordinary page requests need.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit and self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


def stream_slots() -> StreamSlots:
    slots = current_app.extensions.get("storywall.streams")
    if slots is None:
        slots = StreamSlots(int(current_app.config.get("STREAMS_PER_WORKER") or 0))
        current_app.extensions["storywall.streams"] = slots
    return slots


@bp.get("/api/events")
def events():
    """Stream a `version` event on every change to the stories, with heartbeats."""
    wall = get_wall()
    index = wall.index
    slots = stream_slots()
    if not slots.take():
        response = jsonify(error="too many screens connected to this worker; poll /api/stories")
        response.status_code = 503
        response.headers["Retry-After"] = "30"
        return response

    def stream() -> Iterator[str]:
        version = index.version
        yield f"retry: 2000\nevent: version\ndata: {version}\n\n"
        quiet_since = time.monotonic()
        # Wake every second to notice a worker shutting down (a reload, say):
        # the stream then ends, and the kiosk reconnects to a fresh worker.
        while wall.serving():
            new = index.wait_for_change(version, 1.0)
            if new != version:
                version = new
                quiet_since = time.monotonic()
                yield f"event: version\ndata: {version}\n\n"
            elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                quiet_since = time.monotonic()
                yield f": heartbeat {int(time.time())}\n\n"

    response = Response(
        stream(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # Called when the server closes the response, even if it never started it.
    response.call_on_close(slots.give_back)
    return response


@bp.get("/healthz")
def healthz():
    """Report whether the index is loaded and being kept current."""
    wall = get_wall()
    index = wall.index
    watcher = wall.watcher
    watching = wall.watch == "off" or (watcher is not None and watcher.alive)
    healthy = index.loaded and watching
    body = {
        "status": "ok" if healthy else "degraded",
        "index": {
            "loaded": index.loaded,
            "stories": len(index.stories()),
            "on_hallway": len(index.visible("hallway")),
            "problems": len(index.problems()),
            "streams_open": stream_slots().open,
            "version": index.version,
            "updated_at": index.updated_at,
            "folder_exists": index.root.is_dir(),
        },
        "watcher": {
            "alive": watcher.alive if watcher else False,
            "mode": watcher.mode if watcher else wall.watch,
            "restarts": watcher.restarts if watcher else 0,
            "last_rescan_age": (
                round(time.monotonic() - watcher.last_rescan, 1) if watcher else None
            ),
        },
    }
    if current_moderator() is not None:
        # Where the server's files are is for the people who run it, not for anyone.
        body["index"]["folder"] = str(index.root)
    return jsonify(body), 200 if healthy else 503
