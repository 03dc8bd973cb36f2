"""The web app over the core: blueprints, security headers, and the one way views reach the wall."""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..accounts import Accounts
from ..core import Wall
from ..db import DATABASE_TROUBLE, Database
from ..db import is_disk_full as db_is_disk_full
from ..db import is_unavailable as db_is_unavailable
from ..moderation import Moderation
from ..settings import Settings, load_settings
from .cards import tag_label, to_line

log = logging.getLogger(__name__)

# Every state-changing request carries a token from a form we served. A view
# that machines post to (not people, through a form) is exempted with
# `csrf.exempt` where it is defined.
csrf = CSRFProtect()

DISK_FULL = "The server's disk is full; nothing was saved. Tell the wall's operator."
DATABASE_AWAY = (
    "The wall's database is not answering, so nothing was saved. The wall itself keeps "
    "showing stories. Try again in a minute; if it lasts, tell the wall's operator."
)


# Scripts and styles come only from our own origin; style attributes are
# allowed because a photo's focal point is set per picture.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'; form-action 'self'"
)


PACKAGE_DIR = Path(__file__).parent.parent


def _asset_folder(name: str) -> str:
    """templates/ and static/ sit in the package when installed, at the repo top in a checkout."""
    installed = PACKAGE_DIR / name
    return str(installed if installed.is_dir() else PACKAGE_DIR.parent / name)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the wall's web app; settings as `load_settings()` merges them.

    Given a test config, the environment is not read: a test sees only what it set.
    """
    settings = load_settings(test_config, environ={} if test_config is not None else None)
    instance = settings.instance_path
    app = Flask(
        "wall",
        instance_path=str(instance),
        template_folder=_asset_folder("templates"),
        static_folder=_asset_folder("static"),
    )
    app.config.from_mapping(settings)
    if "MAX_CONTENT_LENGTH" not in settings:
        # Werkzeug refuses a bigger body before reading it: a 413, never a full disk.
        app.config["MAX_CONTENT_LENGTH"] = int(float(settings["MAX_UPLOAD_MB"]) * 1024 * 1024)
    instance.mkdir(parents=True, exist_ok=True)
    init_app(app, settings)
    return app


def init_app(app: Flask, settings: Settings) -> None:
    wall = Wall.from_settings(settings)
    # Under `storywall serve` (DEFER_WATCH) the server writes the index cache
    # once its workers are on their way; see wall.server.
    wall.load(save_cache=not settings.get("DEFER_WATCH"))
    # Opened now, before any request thread could race to open it.
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = wall.session_secret()
    else:
        wall.db  # noqa: B018
    app.extensions["storywall"] = wall
    app.add_template_filter(tag_label, "tag_label")
    app.add_template_filter(to_line, "to_line")

    from . import api, assets, filters, intranet, kiosk

    assets.init_app(app)
    filters.init_app(app)

    app.register_blueprint(intranet.bp)
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(api.bp)

    from . import admin, auth, consent, impact, submit, thanks

    auth.init_app(app)
    submit.init_app(app)  # before CSRF protection reads a form: see submit.OVERSIZE_FACTOR
    thanks.init_app(app)  # likewise
    app.register_blueprint(admin.bp)
    app.register_blueprint(impact.bp)
    app.register_blueprint(consent.bp)
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

    app.register_error_handler(OSError, disk_full)
    for trouble in DATABASE_TROUBLE:
        app.register_error_handler(trouble, database_trouble)

    @app.errorhandler(NotFound)
    def not_found(error: NotFound):  # type: ignore[no-untyped-def]
        """Our own page (or JSON, for the API), with a way back to the stories."""
        if request.path.startswith("/api/"):
            return jsonify(error="not found"), 404
        if request.path.startswith("/consent/"):
            from .consent import no_such_link

            return no_such_link()  # a customer's garbled link: the same plain answer
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

    from .replay import PlaylistReplay

    app.wsgi_app = PlaylistReplay(app.wsgi_app, wall)  # type: ignore[method-assign]

    if app.config["WATCH"] != "off" and not app.config.get("DEFER_WATCH"):
        wall.ensure_watching()


def disk_full(error: Exception):  # type: ignore[no-untyped-def]
    """Say the disk is full (the stories or the instance folder), not a bare 500."""
    if not is_disk_full(error):
        raise error  # anything else is a fault: the usual 500, logged with its traceback
    log.error("disk full: %s %s: %s", request.method, request.path, error)
    if request.path.startswith("/api/"):
        return jsonify(error="disk full", message=DISK_FULL), 507
    return render_template(
        "error.html", code=507, title="The server's disk is full", message=DISK_FULL
    ), 507


def database_trouble(error: Exception):  # type: ignore[no-untyped-def]
    """A full disk under SQLite, or PostgreSQL away: say so plainly, not a bare 500.

    What the index serves (the intranet, kiosks' playlists) never gets here:
    only what needs the database (moderation, sign-in, forms) waits for it.
    """
    if is_disk_full(error):
        return disk_full(error)
    if not db_is_unavailable(error):
        raise error
    log.error("database unavailable: %s %s: %s", request.method, request.path, error)
    headers = {"Retry-After": "30"}
    if request.path.startswith("/api/"):
        return jsonify(error="database unavailable", message=DATABASE_AWAY), 503, headers
    return (
        render_template(
            "error.html", code=503, title="Moderation is paused for a moment", message=DATABASE_AWAY
        ),
        503,
        headers,
    )


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is a write refused for want of space (or of quota)."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return db_is_disk_full(error)


def get_wall() -> Wall:
    """The wall this app serves."""
    return current_app.extensions["storywall"]


def get_db() -> Database:
    """The instance's SQLite database: screens, audit log, users, rate limits."""
    return get_wall().db


def get_accounts() -> Accounts:
    """Moderator accounts and their sessions."""
    return get_wall().accounts


def get_moderation() -> Moderation:
    """The service that makes every change to a story."""
    return get_wall().moderation


def today():  # type: ignore[no-untyped-def]
    if "today" not in g:
        g.today = get_wall().index.today()
    return g.today
