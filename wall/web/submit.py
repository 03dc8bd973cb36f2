"""The staff form: share a customer's story from a phone, for a moderator to approve.

It works without JavaScript: the server checks every field, shows each error
next to its field, and keeps everything typed. An uploaded photo is cleaned
(upright, no metadata) and kept in the instance folder under a random token
until the form is sent, so a mistake elsewhere never means choosing it again.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from ..db import DatabaseError
from ..db import is_unavailable as db_is_unavailable
from ..files import write_atomic
from ..forms import read_submission, submission_front_matter
from ..moderation import InvalidStory
from ..photos import PhotoError, prepare_upload
from ..portraits import portrait_colors
from ..settings import DEFAULTS
from ..stories import QUOTE_MAX_CHARS, SLUG_RE, initials_of
from . import (
    DATABASE_AWAY,
    DISK_FULL,
    database_trouble,
    disk_full,
    get_moderation,
    get_wall,
    is_disk_full,
    today,
)
from .auth import current_user, refused_without_token, within_rate
from .kiosk import qr_svg

bp = Blueprint("submit", __name__)
log = logging.getLogger(__name__)

STASH_RE = re.compile(r"^[0-9a-f]{32}$")
STASH_HOURS = 24
# The form may be sent with a photo over the limit: reading (and dropping) it
# lets us keep every field and say what is wrong, rather than answer 413 and
# lose the lot. Beyond this many times the limit, the request is refused.
OVERSIZE_FACTOR = 4


def upload_limit() -> int:
    return int(
        float(current_app.config.get("MAX_UPLOAD_MB") or DEFAULTS["MAX_UPLOAD_MB"]) * 1024 * 1024
    )


def stash_dir() -> Path:
    return Path(current_app.instance_path) / "uploads"


def stash_path(token: str) -> Path | None:
    """Where a stashed photo is, for a well-formed token; None for anything else."""
    if not STASH_RE.match(token or ""):
        return None
    path = stash_dir() / f"{token}.jpg"
    return path if path.is_file() else None


def stash(data: bytes) -> str:
    folder = stash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STASH_HOURS * 3600
    for old in folder.glob("*.jpg"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another worker swept it first
    token = secrets.token_hex(16)
    write_atomic(folder / f"{token}.jpg", data)
    return token


def may_submit():  # type: ignore[no-untyped-def]
    """None if this person may use the form; else where to send them."""
    if current_app.config.get("SUBMIT_REQUIRES_LOGIN") and current_user() is None:
        return redirect(url_for("auth.login", next=request.path), code=303)
    return None


def form_values() -> dict[str, Any]:
    """What was typed, as it was typed: for showing the form again."""
    values: dict[str, Any] = request.form.to_dict()
    values["consent_scope"] = request.form.getlist("consent_scope")
    values.pop("csrf_token", None)
    return values


def blank_values() -> dict[str, Any]:
    remembered = session.get("submitter") or {}
    return {
        "kind": "story",
        "consent_scope": [],
        "submitted_by": remembered.get("name") or current_user() or "",
        "submitter_email": remembered.get("email", ""),
    }


def render_form(
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    *,
    photo_token: str | None = None,
    status: int = 200,
    notice: str | None = None,
):  # type: ignore[no-untyped-def]
    name = str(values.get("name") or "")
    background, color = portrait_colors(name or "?")
    initials = initials_of(name)
    return render_template(
        "submit.html",
        values=values,
        errors=errors or {},
        photo_token=photo_token,
        photo_url=url_for("submit.photo", token=photo_token) if photo_token else None,
        portrait={"initials": initials, "background": background, "color": color},
        quote_max=QUOTE_MAX_CHARS,
        max_bytes=upload_limit(),
        max_mb=upload_limit() // (1024 * 1024),
        notice=notice,
        tags=[t for t, _ in get_wall().index.tags("intranet")[:8]],
    ), status


@bp.get("/submit")
def form():
    """Show the story form, laid out for a phone."""
    return may_submit() or render_form(blank_values())


@bp.post("/submit")
def send():
    """Check the form; preview it, or save it as a new pending story."""
    refused = may_submit()
    if refused:
        return refused
    values = form_values()
    errors: dict[str, str] = {}
    photo_token = None
    kept = values.pop("photo_token", "")
    if stash_path(kept) is not None and not values.pop("photo_remove", None):
        photo_token = kept
    if not within_rate("submit", "SUBMIT_RATE_LIMIT"):
        notice = "Too many stories sent from your address just now. Wait a while, then send again."
        return render_form(values, photo_token=photo_token, status=429, notice=notice)
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        photo_token = read_photo(upload, errors) or photo_token
    result = read_submission(values, today(), has_photo=photo_token is not None)
    errors = {**result.errors, **errors}
    if errors or request.form.get("action") == "preview":
        return render_form(values, errors, photo_token=photo_token, status=400 if errors else 200)
    front = submission_front_matter(result.values, today(), login=current_user())
    photo_file = stash_path(photo_token) if photo_token else None
    submitter = f"{result.values['submitted_by']} <{result.values['submitter_email']}>"
    g.photo_token = photo_token  # for the form shown again if the disk is full
    try:
        story = get_moderation().submit(
            front,
            result.values["body"],
            photo_file.read_bytes() if photo_file else None,
            who=submitter,
        )
    except InvalidStory as exc:
        # The checks above mirror the parser's; should they ever disagree, the
        # parser's word wins and is shown against its field.
        errors = {p.field.replace(".", "_") if p.field else "body": p.message for p in exc.problems}
        return render_form(values, errors, photo_token=photo_token, status=400)
    if photo_file is not None:
        photo_file.unlink(missing_ok=True)
    session["submitter"] = {
        "name": result.values["submitted_by"],
        "email": result.values["submitter_email"],
    }
    session["submitted"] = [story.slug, *session.get("submitted", [])][:10]
    # The customer's private link, for the submitter to send: shown on the next page.
    token = get_wall().consent.make_link(story.slug, submitter)
    links = dict(list((session.get("links") or {}).items())[-2:])
    session["links"] = {**links, story.slug: token}
    return redirect(url_for("submit.thanks", slug=story.slug), code=303)


def read_photo(upload, errors: dict[str, str]) -> str | None:  # type: ignore[no-untyped-def]
    """Clean an uploaded photo and stash it; on a problem, say so under the field."""
    limit = upload_limit()
    upload.stream.seek(0, os.SEEK_END)
    size = upload.stream.tell()
    upload.stream.seek(0)
    if size > limit:
        errors["photo"] = (
            f"This photo is {size / 1048576:.0f} MB; the limit is {limit // 1048576} MB. "
            "Choose a smaller one, or take the photo again at a lower resolution."
        )
        return None
    if size == 0:
        errors["photo"] = "The photo arrived empty; choose it again."
        return None
    try:
        cleaned = prepare_upload(upload.stream.read(), int(current_app.config["MAX_PHOTO_PIXELS"]))
    except PhotoError as exc:
        errors["photo"] = f"We cannot use this photo: {exc}."
        return None
    return stash(cleaned)


@bp.get("/submit/photo/<token>.jpg")
def photo(token: str):
    """Send a photo uploaded with the form, cleaned, for its preview."""
    path = stash_path(token)
    if path is None or may_submit() is not None:
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/submit/thanks/<slug>")
def thanks(slug: str):
    """Say thank you, and what happens next, for a story that exists (pending counts)."""
    if not SLUG_RE.match(slug):
        abort(404)
    mine = slug in session.get("submitted", [])
    story = get_wall().index.get(slug)
    if story is None and mine:
        # Saved a moment ago by another worker, whose change this one's watcher
        # may not have applied yet.
        story = get_moderation().current(slug)
    if story is None:
        abort(404)
    # Only the person who sent it sees whose story it is, and the customer's link.
    token = (session.get("links") or {}).get(slug) if mine else None
    link = url_for("consent.page", token=token, _external=True) if token else None
    return render_template(
        "submit_thanks.html",
        story=story if mine else None,
        link=link,
        qr=qr_svg(link, scale=6) if link else None,
    )


@bp.errorhandler(RequestEntityTooLarge)
def far_too_large(error: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """A request too big to read at all (the page's script normally stops this first)."""
    message = (
        f"That photo is far over the {upload_limit() // (1024 * 1024)} MB limit, so nothing "
        "you sent could be read. Choose a smaller photo and fill in the form again."
    )
    return render_form(blank_values(), {"photo": message}, status=413)


@bp.errorhandler(CSRFError)
def expired(error: CSRFError):  # type: ignore[no-untyped-def]
    """A form without a valid token (an old tab, cookies cleared): show it again, nothing lost."""
    if request.method != "POST" or request.endpoint != "submit.send":
        return refused_without_token(error)
    values = form_values()
    kept = values.pop("photo_token", "")
    notice = (
        "This form had expired (or your browser dropped its cookie), so nothing was sent. "
        "Everything you typed is still here: check it and send again."
    )
    return render_form(
        values, photo_token=kept if stash_path(kept) else None, status=400, notice=notice
    )


@bp.errorhandler(OSError)
@bp.errorhandler(DatabaseError)
@bp.errorhandler(sqlite3.OperationalError)
def nothing_saved_while_sending(error: Exception):  # type: ignore[no-untyped-def]
    """The disk is full or the database away: show the form again with everything
    typed, and say so."""
    full, away = is_disk_full(error), db_is_unavailable(error)
    if not (full or away) or request.endpoint != "submit.send":
        return disk_full(error) if isinstance(error, OSError) else database_trouble(error)
    log.error(
        "%s: %s %s: %s",
        "disk full" if full else "database unavailable",
        request.method,
        request.path,
        error,
    )
    values = form_values()
    kept = g.get("photo_token") or values.pop("photo_token", "")
    why = DISK_FULL if full else DATABASE_AWAY
    notice = f"{why} Everything you typed is still here: try sending it again later."
    return render_form(
        values,
        photo_token=kept if stash_path(kept) else None,
        status=507 if full else 503,
        notice=notice,
    )


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    @app.before_request
    def room_for_an_oversized_photo() -> None:
        # Before CSRF protection reads the form: see OVERSIZE_FACTOR.
        if request.endpoint == "submit.send":
            request.max_content_length = upload_limit() * OVERSIZE_FACTOR + 1024 * 1024

    app.register_blueprint(bp)
