"""The customer's own page: /consent/<token>.

They see their story exactly as the screens will show it (the real kiosk
slide, landscape and portrait, the intranet card and the full story),
choose where it may appear, until when and how they are credited, correct
it, and consent, decline, or take it down again, all without an account and
without JavaScript. The token is the only key: every page under it is kept
out of caches and sends no Referer, so the link never leaks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from ..consent import (
    CHANGED_WHILE_OPEN,
    Choices,
    Corrections,
    CustomerConsent,
    LinkNotFound,
    StoryRemoved,
    Visit,
)
from ..forms import read_customer_answer
from ..moderation import Conflict, ModerationError, StoryGone
from ..stories import CREDITS, PLACES, Story, credited_name
from . import cards, get_wall
from .auth import client_address, within_rate
from .kiosk import preview_page
from .renditions import send_rendition

bp = Blueprint("consent", __name__, url_prefix="/consent")

ACTIONS = ("preview", "consent", "suggest", "decline", "withdraw")
DONE = {
    "consented": "Thank you. Your consent is recorded, exactly for what you saw.",
    "suggested": "Thank you. Your changes went to the moderators; you will see them here.",
    "sent": "Thank you. Your changes and your consent are recorded. A moderator checks the "
    "changes before the story goes up.",
    "declined": "Understood. Your story will not be shown anywhere.",
    "withdrawn": "Your story has been taken down from every screen and from the intranet.",
}


@bp.after_request
def private(response):  # type: ignore[no-untyped-def]
    # The token in the address is the only key: never cached, never sent on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def service() -> CustomerConsent:
    return get_wall().consent


def no_such_link(removed: bool = False):  # type: ignore[no-untyped-def]
    """The same plain answer for a wrong, revoked or expired link: nothing to learn from it."""
    if removed:
        title = "This story is no longer on our walls"
        message = (
            "The story this link was for has been removed. Nothing of it is shown "
            "anywhere. If you have a question, ask the person who sent you the link."
        )
    else:
        title = "This link does not work"
        message = (
            "It may be mistyped, replaced by a newer link, or too old. Ask the person who "
            "sent it to you for a new one."
        )
    page = render_template("error.html", code=404, title=title, message=message, plain=True)
    return page, 404


def open_visit(token: str, *, opened: bool = True) -> Visit | tuple[Any, int]:
    try:
        return service().visit(token, opened=opened)
    except StoryRemoved:
        return no_such_link(removed=True)
    except LinkNotFound:
        return no_such_link()


@bp.route("/<token>", methods=["GET", "POST"])
def page(token: str):
    """Show the customer their story as it will be shown, and take their answer."""
    visit = open_visit(token, opened=request.method == "GET")
    if not isinstance(visit, Visit):
        return visit
    if request.method == "GET":
        return render_page(token, visit, form_values(visit))
    action = request.form.get("action", "preview")
    if action not in ACTIONS:
        abort(400)
    values = {**request.form.to_dict(), "places": request.form.getlist("places")}
    if not within_rate("consent", "CONSENT_RATE_LIMIT"):
        notice = "Too many answers from your address just now. Wait a while, then try again."
        return render_page(token, visit, values, notice=notice, status=429)
    if action == "withdraw":
        return answered(token, "withdrawn", lambda: service().withdraw(token, **who()))
    if action == "decline":
        return answered(token, "declined", lambda: service().decline(token, **who()))
    result = read_customer_answer(
        values,
        today=get_wall().index.today(),
        latest=service().latest_day(),
        credit=visit.story.credit,
        photo=visit.story.consent.photo if visit.story.consent else True,
        signing=action == "consent",
    )
    if action == "suggest":  # only the corrections count
        errors = {k: v for k, v in result.errors.items() if k in ("name", "role", "quote")}
        errors |= {k: v for k, v in result.errors.items() if k == "suggestion"}
    else:
        errors = result.errors
    if errors or action == "preview":
        return render_page(
            token, visit, result.values, errors=errors, status=400 if errors else 200
        )
    choices, corrections = answer_of(result.values)
    seen = request.form.get("seen", "")
    if action == "suggest":
        return answered(
            token,
            "suggested",
            lambda: service().suggest(token, corrections, seen=seen, **who()),
            values,
        )
    done = "sent" if corrections.against(visit.story) or corrections.suggestion else "consented"
    signature = result.values["signature"]
    return answered(
        token,
        done,
        lambda: service().consent(token, choices, corrections, signature, seen=seen, **who()),
        values,
    )


def who() -> dict[str, str]:
    return {"address": client_address(), "user_agent": request.headers.get("User-Agent", "")}


def answered(token: str, done: str, act, values: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """Carry out the customer's answer; on a problem, show the page again, nothing lost."""
    try:
        act()
    except StoryGone:
        return no_such_link(removed=True)
    except ModerationError as exc:
        visit = open_visit(token, opened=False)
        if not isinstance(visit, Visit):
            return visit
        # A Conflict: the file moved under the save itself, after the page's own check.
        notice = CHANGED_WHILE_OPEN if isinstance(exc, Conflict) else exc.message
        return render_page(token, visit, values or form_values(visit), notice=notice, status=409)
    except LinkNotFound:
        return no_such_link()
    return redirect(url_for("consent.page", token=token, done=done), code=303)


def form_values(visit: Visit) -> dict[str, Any]:
    """The form as it starts: the story's consent as it is, else the usual terms."""
    choices = service().default_choices(visit.story)
    return {
        "places": list(choices.places),
        "until": choices.until.isoformat(),
        "credit": choices.credit,
        "photo": "show" if choices.photo else "hide",
        "name": visit.story.name,
        "role": visit.story.role,
        "quote": visit.story.quote,
        "suggestion": "",
        "signature": "",
    }


def answer_of(values: dict[str, Any]) -> tuple[Choices, Corrections]:
    """The choices and corrections in a checked form (or the defaults where it is not)."""
    today = get_wall().index.today()
    until = values.get("until")
    if not isinstance(until, dt.date) or until <= today or until > service().latest_day():
        until = today + dt.timedelta(days=service().terms.default_days)
    places = tuple(p for p in PLACES if p in (values.get("places") or ())) or PLACES
    credit = values.get("credit") if values.get("credit") in CREDITS else "full"
    choices = Choices(
        places=places, until=until, credit=credit, photo=values.get("photo") != "hide"
    )
    corrections = Corrections(
        name=str(values.get("name") or ""),
        role=str(values.get("role") or ""),
        quote=str(values.get("quote") or ""),
        suggestion=str(values.get("suggestion") or "").strip(),
    )
    return choices, corrections


def preview_args(values: dict[str, Any]) -> dict[str, Any]:
    """The choices as query values, for the slide previews."""
    choices, corrections = answer_of(values)
    args: dict[str, Any] = {
        "credit": choices.credit,
        "photo": "show" if choices.photo else "hide",
    }
    for field in ("name", "role", "quote"):
        if getattr(corrections, field):
            args[field] = getattr(corrections, field)
    return args


def render_page(  # type: ignore[no-untyped-def]
    token: str,
    visit: Visit,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
):
    choices, corrections = answer_of(values)
    shown = service().preview(visit.story, choices, corrections)
    story = visit.story
    args = preview_args(values)
    return render_template(
        "consent.html",
        token=token,
        visit=visit,
        story=story,
        shown=shown,
        values=values,
        errors=errors or {},
        notice=notice,
        done=DONE.get(request.args.get("done", "")) if request.method == "GET" else None,
        credit_names={
            "full": story.name,
            "short": credited_name(story.name, "short"),
            "anonymous": f"{story.role}, {story.company} (no name)",
        },
        statement=service().terms.statement,
        shown_now=get_wall().index.visible_anywhere(story),
        # Where and how often their face was shown: what they may well ask us.
        display_counts=get_wall().db.display_counts(story.slug),
        latest=service().latest_day().isoformat(),
        today=get_wall().index.today(),
        tv_landscape=url_for("consent.tv", token=token, orientation="landscape", **args),
        tv_portrait=url_for("consent.tv", token=token, orientation="portrait", **args),
        photo_sources=lambda s: cards.photo_sources(s, endpoint="consent.photo", link=token),
        portrait=cards.portrait,
    ), status


# -- the previews: the real kiosk page, playing only this story as chosen ------------------------


def previewed(token: str) -> Story:
    """The customer's story with the choices in the query applied, for the previews."""
    visit = open_visit(token, opened=False)
    if not isinstance(visit, Visit):
        abort(404)
    args = request.args
    values: dict[str, Any] = {
        "credit": args.get("credit", visit.story.credit),
        "photo": args.get("photo", "show"),
        "name": args.get("name", "")[:120],
        "role": args.get("role", "")[:120],
        "quote": args.get("quote", "")[:200],
    }
    choices, corrections = answer_of(values)
    return service().preview(visit.story, choices, corrections)


@bp.get("/<token>/tv")
def tv(token: str):
    """The real hallway slide, for the customer's preview (works without JavaScript too)."""
    story = previewed(token)
    orientation = "portrait" if request.args.get("orientation") == "portrait" else "landscape"
    args = {k: v for k, v in request.args.items() if k != "orientation"}
    return preview_page(
        url_for("consent.tv_playlist", token=token, orientation=orientation, **args),
        first=slide_json(story, token),
        orientation=orientation,
    )


@bp.get("/<token>/tv.json")
def tv_playlist(token: str):
    """The preview's playlist: this one story, as the customer chose to show it."""
    story = previewed(token)
    orientation = "portrait" if request.args.get("orientation") == "portrait" else "landscape"
    return jsonify(
        {
            "stories": [slide_json(story, token)],
            "cycle": [story.slug],
            "screen": {"orientation": orientation, "notes": []},
        }
    )


def slide_json(story: Story, token: str) -> dict[str, Any]:
    entry = cards.story_json(story)
    entry["photo"] = cards.photo_sources(story, endpoint="consent.photo", link=token)
    entry.pop("qr", None)  # its target answers only once the story is published
    return entry


@bp.get("/<link>/photos/<slug>/<token>/<int:width>.<fmt>")
def photo(link: str, slug: str, token: str, width: int, fmt: str):
    """A rendition of the customer's own photo, for their preview, whatever its status."""
    visit = open_visit(link, opened=False)
    if not isinstance(visit, Visit) or visit.story.slug != slug:
        abort(404)
    # Their photo even when the file says not to show it: they may be choosing again.
    response = send_rendition(visit.story, token, width, fmt, photo=visit.story.photo)
    response.headers["Cache-Control"] = "no-store"
    return response
