"""Who is asking: moderators' sign-in, single sign-on from a trusted proxy, sessions.

A session cookie holds only a random sign-in token; the database keeps its
hash. Signing out, removing a moderator or changing their password ends it
on every device, and a stolen cookie is worthless after that.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError

from ..accounts import LOGIN_MAX_AGE, USER_NAME_RE
from ..settings import parse_rate
from . import get_accounts, get_db

bp = Blueprint("auth", __name__)


# -- the network: proxies, client addresses, HTTPS ---------------------------------------


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    raw = current_app.config.get("TRUSTED_PROXIES") or ""
    items = raw if isinstance(raw, list | tuple) else re.split(r"[,\s]+", str(raw))
    networks = []
    for item in items:
        if str(item).strip():
            try:
                networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                current_app.logger.warning("TRUSTED_PROXIES: not an address: %r", item)
    return networks


def _is_trusted(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in _networks())


def from_trusted_proxy() -> bool:
    return _is_trusted(request.remote_addr)


def client_address() -> str:
    """The client's address: behind trusted proxies, the nearest untrusted hop."""
    address = request.remote_addr or "unknown"
    if not _is_trusted(address):
        return address
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop):
            return hop[:64]
    return address


def request_is_https() -> bool:
    if request.scheme == "https":
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https" and from_trusted_proxy()


class WallSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure per request when it came over HTTPS."""

    def get_cookie_secure(self, app):  # type: ignore[no-untyped-def]
        setting = app.config.get("SESSION_COOKIE_SECURE", "auto")
        if isinstance(setting, str):
            if setting.strip().lower() == "auto":
                return request_is_https()
            return setting.strip().lower() in ("1", "true", "yes", "on")
        return bool(setting)


# -- rate limits -----------------------------------------------------------------------------


def within_rate(what: str, setting: str) -> bool:
    """Count one attempt at `what` from this client; False when over the limit."""
    limit, per = parse_rate(current_app.config[setting])  # checked at start-up
    return get_db().hit(f"{what}:{client_address()}", limit, per)


# -- who is signed in ----------------------------------------------------------------------------


def sso_user() -> str | None:
    header = str(current_app.config.get("SSO_HEADER") or "").strip()
    if not header or not from_trusted_proxy():
        return None
    name = request.headers.get(header, "").strip()
    return name if USER_NAME_RE.match(name) else None


def current_user() -> str | None:
    """The signed-in person's name: from single sign-on, or a moderator's session."""
    if "user" not in g:
        name = sso_user()
        token = session.get("login")
        if name is None and isinstance(token, str):
            name = get_accounts().session_user(token)
            if name is None:
                session.pop("login", None)  # ended, expired, or the account was removed
        g.user = name
    return g.user


def current_moderator() -> str | None:
    """The signed-in person's name, if they have a moderator account."""
    if "moderator" not in g:
        name = current_user()
        g.moderator = name if name and get_accounts().is_moderator(name) else None
    return g.moderator


def safe_next(target: str | None) -> str | None:
    """A local path to return to after signing in; never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def for_moderators_only(bp: Blueprint) -> None:
    """Every page of `bp` needs a moderator, and no cache keeps a copy of it."""

    @bp.before_request
    def only_moderators():  # type: ignore[no-untyped-def]
        return require_moderator()

    @bp.after_request
    def private(response):  # type: ignore[no-untyped-def]
        response.headers["Cache-Control"] = "no-store"
        return response


def require_moderator() -> Any:
    """None to go on; else the response for someone who is not a moderator."""
    if current_moderator() is not None:
        return None
    name = current_user()
    if name is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), code=303)
    page = render_template(
        "error.html",
        code=403,
        title="Moderators only",
        message=f"You are signed in as {name}, who has no moderator account. A moderator "
        f"can add one on the server with: storywall user add {name} --sso",
    )
    abort(make_response(page, 403))


# -- the views --------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign a moderator in with their name and password."""
    next_url = safe_next(request.values.get("next")) or url_for("admin.queue")
    if request.method == "GET" and current_moderator() is not None:
        return redirect(next_url, code=303)  # signed in already, perhaps by single sign-on
    error = None
    status = 200
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:64]
        password = request.form.get("password", "")
        if not within_rate("login", "LOGIN_RATE_LIMIT"):
            error = "Too many sign-in attempts from your address. Wait a minute and try again."
            status = 429
        else:
            account = get_accounts().check_password(name, password)
            if account is not None:
                sign_in(account)
                return redirect(next_url, code=303)
            error = "That name and password do not match a moderator account."
    return render_template(
        "login.html", error=error, name=name, next=safe_next(request.values.get("next"))
    ), status


def sign_in(name: str) -> None:
    """Start a fresh session for `name`: a new cookie, a new CSRF token."""
    old = session.get("login")
    token = get_accounts().sign_in(
        name, client_address(), replacing=old if isinstance(old, str) else None
    )
    session.clear()
    session["login"] = token
    session.permanent = True
    g.pop("user", None)
    g.pop("moderator", None)


@bp.post("/logout")
def logout():
    """Sign out of this session."""
    token = session.get("login")
    user = current_user()
    if isinstance(token, str):
        get_accounts().sign_out(token, user)
    session.clear()
    if sso_user():
        flash("You are signed in through single sign-on; sign out there to leave.")
    else:
        flash("You are signed out.")
    return redirect(url_for("auth.login"), code=303)


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Cookie settings and who-is-signed-in for every template."""
    app.session_interface = WallSessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = LOGIN_MAX_AGE
    # Send the cookie only when the session changes. Re-sending it on every
    # request lets a slow request that read the session earlier (the preview
    # frame's playlist, say) overwrite a newer cookie, and lose a flash message.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.register_blueprint(bp)
    app.register_error_handler(CSRFError, refused_without_token)


def refused_without_token(error: CSRFError):  # type: ignore[no-untyped-def]
    """A form sent without a valid token: an old tab, a dropped cookie, or another site."""
    message = (
        "This form could not be accepted: it was opened too long ago, your browser dropped "
        "its cookie, or it was not sent from this site. Nothing was changed. Go back, "
        "reload the page, and try again."
    )
    page = render_template("error.html", code=400, title="Please try that again", message=message)
    return page, 400
