"""The hallway screen: a full-screen page that rotates through the stories."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    send_from_directory,
)

from . import get_wall
from .cards import public_story_url

bp = Blueprint("kiosk", __name__)


@bp.get("/kiosk")
def kiosk():
    """Show the full-screen rotation for a hallway TV."""
    args = request.args
    return render_template(
        "kiosk.html",
        screen=args.get("screen", "")[:64],
        tags=args.get("tags", "")[:400],
        interval=args.get("interval", "")[:16],
        hours=args.get("hours", "")[:16],
        reload_at=str(current_app.config["RELOAD_AT"]),
        heartbeat_seconds=int(current_app.config["HEARTBEAT_SECONDS"]),
    )


def preview_page(stories_url: str, **first_slide: Any) -> str:
    """The real kiosk page playing one playlist, for a preview: no live events,
    heartbeats or offline cache. With `first`, its slide is filled in on the server."""
    return render_template(
        "kiosk.html",
        stories_url=stories_url,
        events_url="",
        heartbeat_url="",
        worker_url="",
        screen="",
        tags="",
        interval="",
        hours="",
        reload_at="",
        heartbeat_seconds=0,
        **first_slide,
    )


@bp.get("/kiosk-sw.js")
def service_worker():
    """Serve the kiosk's service worker from the root, so it may cache the whole wall."""
    response = send_file(
        f"{current_app.static_folder}/kiosk-sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/kiosk/theme/<path:filename>")
def theme(filename: str):
    """Serve the deployment's kiosk theme (colours, font, logo) from the instance folder.

    `kiosk-theme/theme.css` sets the CSS custom properties listed at the top of
    kiosk.css; files beside it (a logo, a font) are referred to relatively.
    """
    folder = Path(current_app.config["INSTANCE_PATH"]) / "kiosk-theme"
    if filename == "theme.css" and not (folder / filename).is_file():
        response = Response("/* no kiosk theme */\n", mimetype="text/css")
    else:
        response = send_from_directory(folder, filename, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@lru_cache(maxsize=2048)
def qr_svg(url: str, scale: int = 4) -> str:
    """A QR code of `url` as SVG: for the kiosk's slides, and inline on pages that show a link."""
    import segno  # here, not at start-up: with its XML writers it is a twentieth of a second

    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True, title="QR code"
    )
    return out.getvalue().decode()


@bp.get("/stories/<slug>/qr.svg")
def qr_code(slug: str):
    """A QR code that opens the story's intranet page on a phone."""
    index = get_wall().index
    story = index.get(slug)
    if story is None or not index.visible_anywhere(story):
        abort(404)
    # One SVG unit a module: the kiosk sizes the code by its width in modules
    # (see --qr-module in kiosk.css), so that a phone reads it from 1.5 m.
    response = Response(qr_svg(public_story_url(slug), scale=1), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
