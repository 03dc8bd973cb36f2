"""What the kiosk reads: the story list, change events and health."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request

from . import get_wall, today
from .cards import story_json

bp = Blueprint("api", __name__)

HEARTBEAT_SECONDS = 15.0
_CACHE_SIZE = 64


def _tags_arg() -> tuple[str, ...]:
    raw = request.args.get("tags", "")
    return tuple(sorted({t.strip().casefold() for t in raw.split(",") if t.strip()}))[:20]


def playlist_body(tags: tuple[str, ...]) -> tuple[bytes, str]:
    """The JSON body and ETag for the hallway playlist, built once per index version."""
    wall = get_wall()
    key = (wall.index.version, today(), tags, request.host_url)
    cache: OrderedDict = current_app.extensions.setdefault("storywall.playlists", OrderedDict())
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    stories = [story_json(s) for s in wall.index.visible("hallway", tags=tags)]
    body = json.dumps({"stories": stories, "tags": list(tags)}, separators=(",", ":")).encode()
    # The ETag names the content, not the version: every worker agrees on it.
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    cache[key] = (body, etag)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return body, etag


@bp.get("/api/stories")
def stories():
    """List what the hallway screens show, as JSON with an ETag."""
    body, etag = playlist_body(_tags_arg())
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


@bp.get("/api/events")
def events():
    """Stream a `version` event on every change to the stories, with heartbeats."""
    index = get_wall().index

    def stream() -> Iterator[str]:
        version = index.version
        yield f"retry: 2000\nevent: version\ndata: {version}\n\n"
        while True:
            new = index.wait_for_change(version, HEARTBEAT_SECONDS)
            if new != version:
                version = new
                yield f"event: version\ndata: {version}\n\n"
            else:
                yield f": heartbeat {int(time.time())}\n\n"

    return Response(
        stream(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


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
            "version": index.version,
            "updated_at": index.updated_at,
            "folder": str(index.root),
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
    return jsonify(body), 200 if healthy else 503
