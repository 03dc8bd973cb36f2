"""The web app over the core: blueprints, security headers, and the one way views reach the wall."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..core import Wall
from ..db import Database
from .cards import tag_label, tag_names

log = logging.getLogger(__name__)

# Every state-changing request carries a token from a form we served. A view
# that machines post to (not people, through a form) is exempted with
# `csrf.exempt` where it is defined.
csrf = CSRFProtect()

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
    app.extensions["storywall.tag_names"] = tag_names(app.config.get("TAGS"))
    app.add_template_filter(tag_label, "tag_label")
    app.extensions["storywall.db"] = Database(Path(app.config["INSTANCE_PATH"]) / "storywall.db")

    from . import api, assets, intranet, kiosk

    assets.init_app(app)

    app.register_blueprint(intranet.bp)
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(api.bp)

    from . import admin, auth, submit

    auth.init_app(app)
    submit.init_app(app)  # before CSRF protection reads a form: see submit.OVERSIZE_FACTOR
    app.register_blueprint(admin.bp)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a form left open all day still sends
    csrf.init_app(app)

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

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
        """Say what the upload limit is, rather than werkzeug's generic page."""
        message = (
            f"This upload is larger than the {float(app.config['MAX_UPLOAD_MB']):g} MB limit. "
            "Choose a smaller photo, or take it again at a lower resolution."
        )
        if request.path.startswith("/api/"):
            return jsonify(error="too large", message=message), 413
        return render_template(
            "error.html", code=413, title="That upload is too large", message=message
        ), 413

    @app.errorhandler(NotFound)
    def not_found(error: NotFound):  # type: ignore[no-untyped-def]
        """Our own page (or JSON, for the API), with a way back to the stories."""
        if request.path.startswith("/api/"):
            return jsonify(error="not found"), 404
        message = (
            "There is nothing at this address. The link may be mistyped, or the story "
            "may no longer be shown."
        )
        return render_template("error.html", code=404, title="Nothing here", message=message), 404

    @app.errorhandler(MethodNotAllowed)
    def method_not_allowed(error: MethodNotAllowed):  # type: ignore[no-untyped-def]
        """Our own page (or JSON, for the API), saying which methods the address takes."""
        allow = {"Allow": ", ".join(error.valid_methods or ())}
        if request.path.startswith("/api/"):
            return jsonify(error="method not allowed"), 405, allow
        message = "This address cannot be used that way. Open it as a link instead."
        return (
            render_template("error.html", code=405, title="Not like that", message=message),
            405,
            allow,
        )

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
