"""What the kiosk reads: the story list, change events and health."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request

from ..screens import NAME_RE, Screen, resolve_screen
from ..stories import SLUG_RE
from ..takedown import playlist_etag
from . import csrf, get_db, get_wall, replay
from .auth import client_address, current_moderator
from .playlists import playlist_for

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0

# What a heartbeat may hold. A kiosk sends a few hundred bytes; one that could
# not report for days sends a count for each story it showed meanwhile.
HEARTBEAT_MAX_BYTES = 64 * 1024
SHOWN_MAX_ENTRIES = 2000
SHOWN_MAX_COUNT = 100_000
SLUG_MAX_CHARS = 200
UPTIME_MAX_SECONDS = 10 * 365 * 86400.0
# Screens one client address may add in a day, besides those named in SCREENS:
# enough for the TVs of a floor behind one router, not for flooding the list.
NEW_SCREENS_PER_ADDRESS = (20, 86400.0)


def current_screen() -> Screen:
    """The screen asking, from ?screen= and the instance config, with query overrides."""
    args = request.args
    return resolve_screen(
        current_app.config.get("SCREENS") or {},
        args.get("screen", "")[:64],
        tags=args.get("tags", "")[:400],
        interval=args.get("interval", "")[:16],
        hours=args.get("hours", "")[:16],
        teams=current_app.config.get("TEAMS") or {},
    )


@bp.get("/api/stories")
def stories():
    """List what a hallway screen shows, as JSON with an ETag."""
    get_wall().catch_up()
    playlist = playlist_for(current_screen())
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        sent = playlist.gzipped
        response = Response(sent, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(f"{playlist.etag}-gz")
    else:
        sent = playlist.body
        response = Response(sent, mimetype="application/json")
        response.set_etag(playlist.etag)
    # For PlaylistReplay, which gives this answer again while it holds.
    request.environ[replay.ENVIRON_KEY] = (*playlist.made_for, sent)
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


class BadHeartbeat(ValueError):
    """What is wrong with a heartbeat, in words for whoever set up the kiosk."""


def read_heartbeat(data: object) -> dict:
    """A heartbeat's fields, checked: anything a kiosk would not send is refused."""
    if not isinstance(data, dict):
        raise BadHeartbeat("send a JSON object")
    screen = data.get("screen")
    if not isinstance(screen, str | None):
        raise BadHeartbeat("screen: send the screen's name as text")
    screen = (screen or "").strip()
    if screen and not NAME_RE.match(screen):
        raise BadHeartbeat(
            "screen names use letters, digits, spaces, '.', '_' or '-', at most 64 characters"
        )
    story = data.get("story")
    if story not in (None, "") and not _is_slug(story):
        raise BadHeartbeat("story: send the slug of the story on the screen, or null")
    playlist = data.get("playlist")
    if not isinstance(playlist, str | None):
        raise BadHeartbeat("playlist: send the playlist's ETag as text, or null")
    uptime = data.get("uptime", 0)
    if isinstance(uptime, bool) or not isinstance(uptime, int | float) or math.isnan(uptime):
        raise BadHeartbeat("uptime: send the seconds since the kiosk started, as a number")
    shown = data.get("shown")
    if not isinstance(shown, dict | None):
        raise BadHeartbeat("shown: send an object of story slugs and how often each was shown")
    shown = shown or {}
    if len(shown) > SHOWN_MAX_ENTRIES:
        raise BadHeartbeat(f"shown: at most {SHOWN_MAX_ENTRIES} stories in one heartbeat")
    for slug, count in shown.items():
        if not _is_slug(slug):
            raise BadHeartbeat(f"shown: {slug[:80]!r} is not a story's slug")
        if isinstance(count, bool) or not isinstance(count, int):
            raise BadHeartbeat(f"shown: the count for {slug!r} is not a whole number")
        if not 0 <= count <= SHOWN_MAX_COUNT:
            raise BadHeartbeat(f"shown: the count for {slug!r} is not 0 to {SHOWN_MAX_COUNT:,}")
    return {
        "screen": screen,
        "story": story or None,
        # As sent it may be W/"<etag>-gz"; stored as the playlist's own ETag.
        "playlist": playlist_etag((playlist or "")[:64]),
        # A kiosk's clock may step back; its uptime is shown, not trusted.
        "uptime": min(max(float(uptime), 0.0), UPTIME_MAX_SECONDS),
        "shown": shown,
    }


def _is_slug(value: object) -> bool:
    return isinstance(value, str) and len(value) <= SLUG_MAX_CHARS and bool(SLUG_RE.match(value))


@bp.post("/api/heartbeat")
@csrf.exempt  # kiosks post here without a session: a heartbeat changes nothing of anyone's
def heartbeat():
    """Record that a kiosk is alive: its screen, the story on it and what it has shown."""
    request.max_content_length = HEARTBEAT_MAX_BYTES  # larger: 413, from the app's handler
    if not request.is_json:
        return jsonify(error="send a JSON object, as application/json"), 400
    try:
        fields = read_heartbeat(json.loads(request.get_data(cache=False)))
    except (ValueError, RecursionError) as exc:  # not JSON, nested too deep, or BadHeartbeat
        error = str(exc) if isinstance(exc, BadHeartbeat) else "send a JSON object"
        return jsonify(error=error), 400
    address = client_address()
    configured = current_app.config.get("SCREENS") or {}
    screen = fields["screen"] or f"unnamed {address}"
    get_wall().catch_up()  # count a story this worker has not applied yet
    index = get_wall().index
    # Well-formed slugs of stories not (or no longer) here are left out, not
    # refused: a kiosk may report a story deleted since its last playlist.
    shown = {slug: n for slug, n in fields["shown"].items() if index.get(slug) is not None}
    recorded = get_db().record_heartbeat(
        screen,
        story=fields["story"],
        playlist=fields["playlist"],
        uptime=fields["uptime"],
        shown=shown,
        address=address,
        user_agent=request.user_agent.string[:300],
        new_screens=None if screen in configured else NEW_SCREENS_PER_ADDRESS,
        # Two intervals: one late heartbeat still counts the time between.
        alive_max=2.0 * int(current_app.config["HEARTBEAT_SECONDS"]),
        keep_days=int(current_app.config["IMPACT_RETENTION_DAYS"]),
    )
    if not recorded:
        count, _ = NEW_SCREENS_PER_ADDRESS
        message = (
            f"{address} has added {count} new screens today, the most one address may. "
            "Name this screen in the wall's settings (SCREENS), or ask a moderator to "
            "forget screens no longer used."
        )
        response = jsonify(error=message)
        response.status_code = 429
        response.headers["Retry-After"] = "3600"
        return response
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
