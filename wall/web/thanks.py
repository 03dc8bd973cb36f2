"""A customer thanks a team: /thanks, a page that may face the internet on its own.

Phone first, and it works without JavaScript: who they are, whom they thank,
their message and a photo if they like, and their own consent, with the real
hallway slide and intranet card as previews before they send. Everything it
needs is under /thanks, plus the static files in THANKS_STATIC, so a reverse
proxy can expose only that (docs/deploy.md).

Against abuse, without third-party services: a honeypot field, a rate limit
per address (THANKS_RATE_LIMIT), a size limit on every field, and a daily cap
past which thank-yous are held back for moderators to look at when they can.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from markupsafe import Markup

from ..forms import FormResult
from ..moderation import InvalidStory, ModerationError
from ..stories import CREDITS, QUOTE_MAX_CHARS, Story, credited_name
from ..teams import Team
from ..thanks import (
    HONEYPOT,
    MESSAGE_MAX_CHARS,
    VIA,
    Note,
    ThankYous,
    note_of,
    read_thank_you,
)
from ..thanks import resolve_to as resolve_typed
from . import cards, get_wall
from .auth import client_address, within_rate
from .consent import answer_of
from .kiosk import preview_page, qr_svg
from .submit import OVERSIZE_FACTOR, read_photo, stash_path, upload_limit

bp = Blueprint("thanks", __name__, url_prefix="/thanks")

# What /thanks needs from outside its prefix, as path prefixes: what a reverse proxy
# that exposes only the thank-you page must let through (docs/deploy.md).
THANKS_STATIC = (
    "/static/wall.css",
    "/static/favicon.svg",
    "/static/kiosk.css",
    "/static/kiosk.",  # the kiosk's modules, under a versioned folder
    "/kiosk/theme/",
)
ACTIONS = ("preview", "send")
PLACEHOLDER = {
    "name": "Your name",
    "role": "Your role",
    "company": "Your company",
    "message": "Your words, as the screens will show them.",
}


def service() -> ThankYous:
    return get_wall().thanks


def teams() -> dict[str, Team]:
    return current_app.config.get("TEAMS") or {}


@bp.before_request
def only_when_enabled() -> None:
    if not current_app.config.get("THANKS_ENABLED", True):
        abort(404)


@bp.after_request
def not_kept(response):  # type: ignore[no-untyped-def]
    # Forms carry a CSRF token, previews a customer's words: neither is for a cache.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- the page --------------------------------------------------------------------------------


@bp.get("")
def page():
    """Show the thank-you form, laid out for a phone."""
    return render_page(blank_values())


@bp.get("/<team>")
def for_team(team: str):
    """Show the thank-you form with the team already chosen: the link on a team's card."""
    if team not in teams():
        abort(404)
    return render_page(blank_values(team))


@bp.post("")
def send():
    """Check the form; preview it, or send the thank-you to the moderators."""
    values = form_values()
    photo_token = None
    kept = str(values.pop("photo_token", ""))
    if stash_path(kept) is not None and not values.pop("photo_remove", None):
        photo_token = kept
    if not within_rate("thanks", "THANKS_RATE_LIMIT"):
        notice = "Too many messages from your address just now. Wait a while, then send again."
        return render_page(values, photo_token=photo_token, notice=notice, status=429)
    if str(request.form.get(HONEYPOT, "")).strip():
        # Only a robot fills in a field people cannot see: it is told "thank you",
        # and nothing is kept.
        return redirect(url_for("thanks.sent"), code=303)
    action = request.form.get("action", "preview")
    if action not in ACTIONS:
        abort(400)
    errors: dict[str, str] = {}
    upload = request.files.get("photo_file")
    if upload is not None and upload.filename:
        photo_token = read_photo(upload, errors) or photo_token
    result = checked(values, signing=action == "send")
    errors = {**result.errors, **errors}
    if errors or action == "preview":
        return render_page(values, errors, photo_token=photo_token, status=400 if errors else 200)
    choices, _ = answer_of(result.values)
    note = note_of(result.values, choices)
    photo = stash_path(photo_token) if photo_token else None
    try:
        story = service().send(
            note,
            photo,
            address=client_address(),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except InvalidStory as exc:
        # The checks above mirror the parser's; should they ever disagree, say so.
        errors = {"message": "; ".join(p.message for p in exc.problems)}
        return render_page(values, errors, photo_token=photo_token, status=400)
    except ModerationError as exc:
        return render_page(values, photo_token=photo_token, notice=exc.message, status=409)
    if photo is not None:
        photo.unlink(missing_ok=True)
    # Their own private link, as every customer story has: to see it, change their
    # choices, or take it down. Shown once, on the next page.
    token = get_wall().consent.make_link(story.slug, f"{note.name} (customer, {VIA})")
    session["thanked"] = {
        "to": cards.to_line(story),
        "places": sorted(choices.places),
        "link": url_for("consent.page", token=token, _external=True),
    }
    return redirect(url_for("thanks.sent"), code=303)


@bp.get("/sent")
def sent():
    """Say thank you, what happens next, and how to take it down again."""
    thanked = session.get("thanked")
    link = thanked.get("link") if isinstance(thanked, dict) else None
    return render_template(
        "thanks_sent.html",
        thanked=thanked,
        link=link,
        qr=Markup(qr_svg(link, scale=8)) if link else None,
    )


def form_values() -> dict[str, Any]:
    """What was typed, as it was typed: for showing the form again."""
    values: dict[str, Any] = request.form.to_dict()
    values["places"] = request.form.getlist("places")
    values.pop("csrf_token", None)
    values.pop(HONEYPOT, None)
    return values


def blank_values(team: str = "") -> dict[str, Any]:
    choices = service().default_choices()
    return {
        "team": team,
        "places": list(choices.places),
        "until": choices.until.isoformat(),
        "credit": "full",
        "photo": "show",
    }


def checked(values: dict[str, Any], *, signing: bool) -> FormResult:
    index = get_wall().index
    return read_thank_you(
        values,
        teams=teams(),
        today=index.today(),
        latest=get_wall().consent.latest_day(),
        signing=signing,
    )


def addressee(values: dict[str, Any]) -> str:
    team = str(values.get("team") or "")
    return team if team in teams() else resolve_typed(str(values.get("to") or "")[:120], teams())


def preview_note(values: dict[str, Any]) -> Note:
    """The thank-you as typed so far, with placeholders where nothing is yet."""
    choices, _ = answer_of(values)
    shown = {k: str(values.get(k) or "").strip() or v for k, v in PLACEHOLDER.items()}
    return Note(
        name=" ".join(shown["name"].split())[:120],
        role=" ".join(shown["role"].split())[:120],
        company=" ".join(shown["company"].split())[:120],
        message=shown["message"][:MESSAGE_MAX_CHARS],
        to=addressee(values),
        choices=choices,
        quote=" ".join(str(values.get("quote") or "").split())[:QUOTE_MAX_CHARS],
    )


def render_page(
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    *,
    photo_token: str | None = None,
    notice: str | None = None,
    status: int = 200,
):  # type: ignore[no-untyped-def]
    note = preview_note(values)
    photo = stash_path(photo_token) if photo_token else None
    shown = service().preview(note, photo)
    args = tv_args(note, shown, photo_token)
    name = str(values.get("name") or "").strip() or "Maria Alvarez"
    role = str(values.get("role") or "").strip() or "your role"
    company = str(values.get("company") or "").strip() or "your company"
    return render_template(
        "thanks.html",
        values=values,
        errors=errors or {},
        notice=notice,
        teams=teams(),
        shown=shown,
        photo_token=photo_token,
        photo_url=url_for("thanks.photo", token=photo_token) if photo_token else None,
        credit_names={
            "full": name,
            "short": credited_name(name, "short"),
            "anonymous": f"{role}, {company} (no name)",
        },
        statement=get_wall().consent.terms.statement,
        latest=get_wall().consent.latest_day().isoformat(),
        today=get_wall().index.today(),
        message_max=MESSAGE_MAX_CHARS,
        quote_max=QUOTE_MAX_CHARS,
        max_mb=upload_limit() // (1024 * 1024),
        max_bytes=upload_limit(),
        tv_landscape=url_for("thanks.tv", orientation="landscape", **args),
        tv_portrait=url_for("thanks.tv", orientation="portrait", **args),
        photo_sources=lambda s: stash_sources(s, photo_token),
        portrait=cards.portrait,
    ), status


# -- the previews: the real kiosk page, playing only this thank-you ------------------------------


def tv_args(note: Note, shown: Story, photo_token: str | None) -> dict[str, str]:
    """The preview as query values: only what the slide shows, each within its limit."""
    args = {
        "name": note.name,
        "role": note.role,
        "company": note.company,
        "quote": shown.tv_line,
        "to": note.to,
        "credit": note.choices.credit,
        "photo": "show" if note.choices.photo else "hide",
    }
    if photo_token:
        args["pt"] = photo_token
    return args


def previewed() -> tuple[Story, str | None]:
    """The thank-you the query describes, for the slide previews."""
    a = request.args
    credit = a.get("credit", "full")
    values = {
        "name": a.get("name", "")[:120],
        "role": a.get("role", "")[:120],
        "company": a.get("company", "")[:120],
        "message": a.get("quote", "")[:QUOTE_MAX_CHARS],
        "quote": a.get("quote", "")[:QUOTE_MAX_CHARS],
        "to": a.get("to", "")[:120],
        "team": a.get("to", "")[:120],
        "credit": credit if credit in CREDITS else "full",
        "photo": "hide" if a.get("photo") == "hide" else "show",
        "places": ["hallway", "intranet"],
    }
    token = a.get("pt", "")
    token = token if stash_path(token) is not None else None
    note = preview_note(values)
    return service().preview(note, stash_path(token) if token else None), token


@bp.get("/tv")
def tv():
    """The real hallway slide, for the customer's preview (works without JavaScript too)."""
    story, token = previewed()
    orientation = "portrait" if request.args.get("orientation") == "portrait" else "landscape"
    args = {k: v for k, v in request.args.items() if k != "orientation"}
    response = Response(
        preview_page(
            url_for("thanks.tv_playlist", orientation=orientation, **args),
            first=slide_json(story, token),
            orientation=orientation,
        )
    )
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/tv.json")
def tv_playlist():
    """The preview's playlist: this one thank-you, as the customer chose to show it."""
    story, token = previewed()
    orientation = "portrait" if request.args.get("orientation") == "portrait" else "landscape"
    return {
        "stories": [slide_json(story, token)],
        "cycle": [story.slug],
        "screen": {"orientation": orientation, "notes": []},
    }


def slide_json(story: Story, token: str | None) -> dict[str, Any]:
    entry = cards.story_json(story)
    entry["photo"] = stash_sources(story, token)
    entry.pop("qr", None)  # a story not yet published has no page to point to
    return entry


def stash_sources(story: Story, token: str | None) -> dict[str, Any] | None:
    """The photo the customer chose, cleaned, for the previews (one size: it is small)."""
    if not token or story.shown_photo is None:
        return None
    url = url_for("thanks.photo", token=token)
    return {
        "src": url,
        "webp": f"{url} 1200w",
        "jpeg": f"{url} 1200w",
        "alt": f"Photo of {story.credit_lines[0]}",
        "focus": list(story.photo_focus),
        "position": f"{story.photo_focus[0] * 100:.0f}% {story.photo_focus[1] * 100:.0f}%",
    }


@bp.get("/photo/<token>.jpg")
def photo(token: str):
    """Send the photo chosen on the form, cleaned (upright, no metadata), for its preview."""
    path = stash_path(token)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# -- the printed card with its QR code -------------------------------------------------------


def public_link(team: str | None) -> str:
    """The page's address as a customer's phone opens it, from outside if it faces outside."""
    config = current_app.config
    base = str(config.get("THANKS_PUBLIC_URL") or config.get("PUBLIC_URL") or "").rstrip("/")
    endpoint, values = ("thanks.for_team", {"team": team}) if team else ("thanks.page", {})
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


@bp.get("/card")
@bp.get("/card/<team>")
def card(team: str | None = None):
    """A card to print (an invoice insert, a service report, a reception desk) with a QR code."""
    chosen = teams().get(team) if team else None
    if team and chosen is None:
        abort(404)
    link = public_link(team)
    response = Response(
        render_template(
            "thanks_card.html",
            team=chosen,
            link=link,
            shown_link=link.split("://", 1)[-1],
            qr=Markup(qr_svg(link, scale=8)),  # segno's own SVG, of our own URL
        )
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    @app.before_request
    def room_for_an_oversized_photo() -> None:
        # Before CSRF protection reads the form: as for the story form (submit.py).
        if request.endpoint == "thanks.send":
            request.max_content_length = upload_limit() * OVERSIZE_FACTOR + 1024 * 1024

    app.register_blueprint(bp)
