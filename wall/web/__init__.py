"""The web app over the core: blueprints, security headers, and the one way views reach the wall."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, g

from ..core import Wall
from ..db import Database

log = logging.getLogger(__name__)

# Scripts and styles come only from our own origin; style attributes are
# allowed because a photo's focal point is set per picture.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'; form-action 'self'"
)


def init_app(app: Flask) -> None:
    stories = Path(app.config["STORIES_DIR"])
    wall = Wall(
        stories,
        Path(app.config["INSTANCE_PATH"]),
        watch=str(app.config["WATCH"]),
        rescan_every=float(app.config["RESCAN_SECONDS"]),
        max_pixels=int(app.config["MAX_PHOTO_PIXELS"]),
    )
    wall.load()
    app.extensions["storywall"] = wall
    app.extensions["storywall.db"] = Database(Path(app.config["INSTANCE_PATH"]) / "storywall.db")

    from . import api, intranet, kiosk

    app.register_blueprint(intranet.bp)
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(api.bp)

    @app.before_request
    def watch_in_this_process() -> None:
        wall.ensure_watching()

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def site() -> dict[str, object]:
        return {"site_name": app.config["SITE_NAME"]}

    if app.config["WATCH"] != "off" and not app.config.get("DEFER_WATCH"):
        wall.ensure_watching()


def get_wall() -> Wall:
    """The wall this app serves."""
    return current_app.extensions["storywall"]


def get_db() -> Database:
    """The instance's SQLite database: screens, audit log, users, rate limits."""
    return current_app.extensions["storywall.db"]


def today():  # type: ignore[no-untyped-def]
    if "today" not in g:
        g.today = get_wall().index.today()
    return g.today
