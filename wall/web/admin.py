"""Moderation: the queue, every story, problems, screens and the audit log.

Every route here is for moderators only (a before_request guard, so no route
can forget it). Views only translate: a form into a call to the moderation
service (wall.moderation), which owns each whole action, and its answer or
exception into a page.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import moderation as mod
from ..db import DATABASE_TROUBLE
from ..forms import (
    EDIT_KEYS,
    apply_choices,
    edit_base,
    edit_values,
    form_value,
    read_dates,
    read_edit,
)
from ..notify import MODERATOR_EVENTS
from ..screens import NAME_RE
from ..stories import FRONT_MATTER_KEYS, PLACES, Story
from . import cards, get_db, get_moderation, get_wall, today
from .auth import current_moderator, for_moderators_only, safe_next
from .cards import portrait, story_json
from .filters import ago, duration, relative, when
from .kiosk import preview_page, qr_svg
from .renditions import send_rendition

bp = Blueprint("admin", __name__, url_prefix="/admin")


for_moderators_only(bp)


@bp.app_context_processor
def moderation_nav() -> dict[str, Any]:
    try:
        moderator = current_moderator()
    except DATABASE_TROUBLE:  # the database is away: every page but the admin's goes on
        moderator = None
    return {
        "moderator": moderator,
        "pending_count": len(get_wall().thanks.queue()) if moderator else 0,
    }


# -- photos and previews, for stories not (yet) on any screen ---------------------------------


def photo_sources(story: Story) -> dict[str, Any] | None:
    """As cards.photo_sources, from the moderators' photo route: it serves any story."""
    return cards.photo_sources(story, endpoint="admin.photo")


def photo_preparation(story: Story) -> str | None:
    """None while the story's photo is still being prepared for the screens; "" once it is,
    or with no photo to show; else why the photo cannot be shown."""
    if story.shown_photo is None:
        return ""
    try:
        return get_wall().photos.preparation(story.shown_photo)
    except OSError:
        return ""  # gone since the index read it: the story's problems say so


@bp.context_processor
def photo_state() -> dict[str, Any]:
    return {"photo_preparation": photo_preparation}


@bp.get("/photos/<slug>/<token>/<int:width>.<fmt>")
def photo(slug: str, token: str, width: int, fmt: str):
    """Send a rendition of any story's photo, for the preview."""
    found = get_wall().index.get(slug)
    if found is None:
        abort(404)
    response = send_rendition(found, token, width, fmt)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/stories/<slug>/tv")
def preview(slug: str):
    """Show the real kiosk page, playing only this story, as the hallway TV will."""
    story_or_gone(slug)
    return preview_page(url_for("admin.preview_playlist", slug=slug))


@bp.get("/stories/<slug>/tv.json")
def preview_playlist(slug: str):
    """The preview's playlist: this one story, whatever its status."""
    story = story_or_gone(slug)
    entry = story_json(story)
    entry["photo"] = photo_sources(story)
    entry.pop("qr", None)  # its target answers only for published stories
    return jsonify({"stories": [entry], "cycle": [story.slug]})


# -- pages ---------------------------------------------------------------------------------------


def story_or_gone(slug: str) -> Story:
    """The story as it is on disk now, or a page saying it is gone."""
    moderation = get_moderation()
    story = moderation.current(slug)
    if story is None:
        problems = moderation.problems_of(slug)
        page = render_template("admin/gone.html", slug=slug, problems=problems)
        abort(make_response(page, 422 if problems else 404))
    return story


@bp.get("/")
def queue():
    """Show the stories waiting for a moderator, oldest first, each one click from approval;
    then the thank-yous held back over the daily cap."""
    stories = get_wall().thanks.queue()
    held = get_wall().thanks.held()
    return render_template(
        "admin/queue.html",
        stories=stories,
        held=held,
        daily_cap=current_app.config["THANKS_DAILY_CAP"],
        tokens={s.slug: s.token for s in [*stories, *held]},
        would={s.slug: get_moderation().where_it_would_show(s) for s in [*stories, *held]},
        photo_sources=photo_sources,
        portrait=portrait,
    )


@bp.get("/stories")
def stories():
    """List every story with its status and where it shows today."""
    index = get_wall().index
    status = request.args.get("status", "")
    query = request.args.get("q", "").strip()[:200]
    found = index.stories()
    if status in ("pending", "approved", "rejected"):
        found = [s for s in found if s.status == status]
    if query:
        found = [s for s in found if s.matches(query)]
    found = sorted(found, key=lambda s: (s.name.casefold(), s.slug))
    return render_template(
        "admin/stories.html",
        stories=found,
        status=status,
        query=query,
        shown={s.slug: {p: index.hidden_reason(s, p, today()) for p in PLACES} for s in found},
    )


@bp.get("/stories/<slug>")
def story(slug: str):
    """Show one story as each screen will show it, with every action and its history."""
    return render_story(story_or_gone(slug))


def render_story(found: Story, status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    shown, screens = get_db().display_counts(found.slug)
    extra.setdefault("dates", {"publish": found.publish or "", "expires": found.expires or ""})
    return render_template(
        "admin/story.html",
        story=found,
        token=found.token,
        where={p: get_wall().index.hidden_reason(found, p, today()) for p in PLACES},
        would=get_moderation().where_it_would_show(found),
        other_keys={k: v for k, v in found.meta.items() if k not in FRONT_MATTER_KEYS},
        path=relative(found.source),
        audit=get_db().audit_log(found.slug, limit=100),
        shown=shown,
        screens=screens,
        photo_sources=photo_sources,
        portrait=portrait,
        customer=get_wall().consent.for_moderators(found),
        takedown=get_wall().consent.takedown(
            found, float(current_app.config["SCREEN_STALE_SECONDS"])
        ),
        **extra,
    ), status


# -- actions ---------------------------------------------------------------------------------


def _back(slug: str | None = None):  # type: ignore[no-untyped-def]
    target = safe_next(request.form.get("next"))
    if target is None:
        target = url_for("admin.story", slug=slug) if slug else url_for("admin.queue")
    return redirect(target, code=303)


def _where_now(story: Story) -> str:
    index = get_wall().index
    places = [p for p in PLACES if index.is_visible(story, p, today())]
    if places:
        return "Now on: " + " and ".join("hallway TVs" if p == "hallway" else p for p in places)
    return "It is not on any screen: " + (index.hidden_reason(story, "hallway", today()) or "")


@bp.post("/stories/<slug>/<action>")
def act(slug: str, action: str):
    """Approve, reject, unpublish, feature, schedule or withdraw consent for a story."""
    moderation = get_moderation()
    who = current_moderator() or "?"
    form = request.form
    token = form.get("token", "")
    try:
        if action == "approve":
            done = moderation.approve(slug, token, who)
        elif action == "reject":
            if not " ".join(form.get("reason", "").split()):
                flash("Give a reason for rejecting, so the next person knows why.", "error")
                return redirect(url_for("admin.story", slug=slug, _anchor="reject"), code=303)
            done = moderation.reject(slug, token, who, form.get("reason", ""))
        elif action == "unpublish":
            done = moderation.unpublish(slug, token, who)
        elif action in ("feature", "unfeature"):
            done = moderation.feature(slug, token, who, action == "feature")
        elif action == "dates":
            result = read_dates(form)
            if not result.ok:
                found = story_or_gone(slug)
                return render_story(found, 400, dates=result.values, date_errors=result.errors)
            values = result.values
            done = moderation.set_dates(
                slug, token, who, values["publish"] or None, values["expires"] or None
            )
        elif action == "withdraw":
            done = moderation.withdraw(slug, token, who, form.get("note", ""))
        else:
            abort(404)
    except mod.Conflict as exc:
        flash(exc.message + " Here is the current version; check it and try again.", "error")
        return redirect(url_for("admin.story", slug=slug), code=303)
    except mod.StoryGone as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.queue"), code=303)
    except mod.InvalidStory as exc:
        flash(f"Not saved: the file would have problems: {exc.message}", "error")
        return redirect(url_for("admin.story", slug=slug), code=303)
    except mod.ModerationError as exc:
        flash(exc.message, "error")
        return _back(slug)
    flash(f"{done.story.name}: {done.label}. {_where_now(done.story)}.")
    return _back(slug)


@bp.route("/stories/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str):
    """Edit a story's fields and body; on a conflict, show both versions, field by field."""
    if request.method == "GET":
        found = story_or_gone(slug)
        return render_edit(found, edit_values(found), found.token)
    moderation = get_moderation()
    found = moderation.current(slug)
    token = request.form.get("token", "")
    form = {**request.form.to_dict(), "consent_scope": request.form.getlist("consent_scope")}
    if found is None:
        return render_edit(None, form, token, slug=slug, status=410, gone=mod.GONE)
    form, unchosen = apply_choices(form, found)
    result = read_edit(form, found, today())
    if unchosen or not result.ok:
        conflicts = {f: (form.get(f), form_value(f, edit_values(found)[f])) for f in unchosen}
        return render_edit(
            found,
            result.values,
            token,
            errors={**result.errors, **unchosen},
            status=400,
            base=form.get("base", ""),
            conflicts=conflicts,
        )
    try:
        done = moderation.edit(
            slug,
            token,
            current_moderator() or "?",
            result.values,
            base=form.get("base", ""),
            stale_ok=form.get("stale_ok") == "1",
        )
    except mod.EditConflict as exc:
        return render_edit(
            exc.current,
            exc.merge.values,
            exc.current.token,
            status=409,
            conflict=exc.message,
            merge=exc.merge,
            conflicts=exc.merge.conflicts,
        )
    except mod.StaleConsent as exc:
        return render_edit(found, result.values, token, status=409, stale=exc.message)
    except mod.StoryGone as exc:
        return render_edit(None, result.values, token, slug=slug, status=410, gone=exc.message)
    except mod.InvalidStory as exc:
        errors = {EDIT_KEYS.get(p.field or "", "_"): p.message for p in exc.problems}
        return render_edit(found, result.values, token, errors=errors, status=400)
    except mod.ModerationError as exc:  # the new link name is malformed or taken
        return render_edit(found, result.values, token, errors={"slug": exc.message}, status=409)
    flash("No changes to save." if done.label == "unchanged" else "Saved.")
    return redirect(url_for("admin.story", slug=done.story.slug), code=303)


def render_edit(  # type: ignore[no-untyped-def]
    story: Story | None,
    values: dict[str, Any],
    token: str,
    *,
    slug: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    base: str | None = None,
    conflicts: dict[str, tuple[Any, Any]] | None = None,
    **extra: Any,
):
    if base is None:
        base = edit_base(story) if story is not None else ""
    return render_template(
        "admin/edit.html",
        story=story,
        slug=story.slug if story else slug,
        values=values,
        token=token,
        base=base,
        errors=errors or {},
        conflicts=conflicts or {},
        **extra,
    ), status


# -- the customer's link and the evidence of their answers --------------------------------------


@bp.post("/stories/<slug>/link")
def make_link(slug: str):
    """Make a private link for the story's customer and show it, once."""
    story = story_or_gone(slug)
    token = get_wall().consent.make_link(slug, current_moderator() or "?")
    url = url_for("consent.page", token=token, _external=True)
    response = make_response(
        render_template(
            "admin/link.html",
            story=story,
            url=url,
            qr=qr_svg(url, scale=6),
            days=get_wall().consent.terms.link_days,
        )
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/stories/<slug>/link/revoke")
def revoke_link(slug: str):
    """Stop the customer's link; a new one can be made at once."""
    if get_wall().consent.revoke(slug, current_moderator() or "?"):
        flash("The link no longer works. Make a new one to ask the customer again.")
    else:
        flash("There was no working link.", "error")
    return redirect(url_for("admin.story", slug=slug, _anchor="customer"), code=303)


@bp.get("/stories/<slug>/consent.json")
def consent_json(slug: str):
    """Download everything on record about what the customer agreed to."""
    evidence = get_wall().consent.evidence(slug)
    if evidence["story"] is None and not evidence["records"]:
        abort(404)
    response = jsonify(evidence)
    response.headers["Content-Disposition"] = f'attachment; filename="consent-{slug}.json"'
    return response


@bp.get("/stories/<slug>/consent")
def consent_record(slug: str):
    """Show the consent record as a page to print or keep."""
    evidence = get_wall().consent.evidence(slug)
    if evidence["story"] is None and not evidence["records"]:
        abort(404)
    return render_template("admin/consent_record.html", slug=slug, evidence=evidence)


@bp.get("/expiring")
def expiring():
    """List the stories whose consent ends soon, each one click from a renewal link."""
    consent = get_wall().consent
    return render_template(
        "admin/expiring.html", stories=consent.expiring(), days=consent.terms.expiring_days
    )


@bp.route("/stories/<slug>/delete", methods=["GET", "POST"])
def delete(slug: str):
    """Delete a story's files, after a confirmation."""
    if request.method == "GET":
        found = story_or_gone(slug)
        return render_template(
            "admin/delete.html", story=found, token=found.token, path=relative(found.source)
        )
    try:
        who = current_moderator() or "?"
        gone = get_moderation().delete(slug, request.form.get("token", ""), who)
    except mod.Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.story", slug=slug), code=303)
    except mod.ModerationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.queue"), code=303)
    flash(f"Deleted {gone.name} ({relative(gone.source)}).")
    return redirect(url_for("admin.queue"), code=303)


@bp.get("/problems")
def problems():
    """List the story files that cannot be shown, and why."""
    index = get_wall().index
    return render_template(
        "admin/problems.html",
        problems=[(relative(p.path), p) for p in index.problems()],
    )


@bp.get("/screens")
def screens():
    """List the hallway screens from their heartbeats: which are alive, and what they show."""
    now = time.time()
    stale = float(current_app.config.get("SCREEN_STALE_SECONDS") or 180)
    index = get_wall().index
    rows = []
    seen = set()
    for row in get_db().screens():
        seen.add(row["name"])
        story = index.get(row["story"]) if row["story"] else None
        rows.append(
            {
                "name": row["name"],
                "story": story,
                "slug": row["story"],
                "playlist": row["playlist"],
                "uptime": duration(row["uptime"] or 0),
                "last_seen": ago(now - row["last_seen"]),
                "alive": now - row["last_seen"] <= stale,
                "address": row["address"],
                "user_agent": row["user_agent"],
                "shown": row["shown"],
            }
        )
    configured = sorted(set(current_app.config.get("SCREENS") or {}) - seen)
    return render_template("admin/screens.html", screens=rows, never_seen=configured)


@bp.post("/screens/rename")
def rename_screen():
    """Call a screen by another name, with what it has shown; merge it into one of that name."""
    old = request.form.get("name", "")
    new = " ".join(request.form.get("new_name", "").split())
    if not NAME_RE.match(new):
        flash(
            f"Not renamed: {new!r} is not a screen name. Use letters, digits, spaces, "
            "'.', '_' or '-', at most 64 characters.",
            "error",
        )
        return redirect(url_for("admin.screens"), code=303)
    if not get_db().rename_screen(old, new, actor=current_moderator() or "?"):
        flash(f"There is no screen called {old} any more.", "error")
        return redirect(url_for("admin.screens"), code=303)
    address = url_for("kiosk.kiosk", screen=new)
    flash(
        f"{old} is now called {new}, with what it has shown. A kiosk still opened under "
        f"the old name reports as {old} again: open it at {address}."
    )
    return redirect(url_for("admin.screens"), code=303)


@bp.post("/screens/forget")
def forget_screen():
    """Take a screen off the list, and if asked, what it has shown."""
    name = request.form.get("name", "")
    counts = bool(request.form.get("counts"))
    if not get_db().forget_screen(name, counts=counts, actor=current_moderator() or "?"):
        flash(f"There is no screen called {name} any more.", "error")
        return redirect(url_for("admin.screens"), code=303)
    flash(
        f"Forgot {name}" + (" and what it has shown" if counts else "") + ". If a kiosk "
        "still runs under that name, it is listed again with its next heartbeat."
    )
    return redirect(url_for("admin.screens"), code=303)


@bp.get("/audit")
def audit():
    """Show the moderation audit log, newest first."""
    slug = request.args.get("slug", "").strip()[:100] or None
    rows = get_db().audit_log(slug, limit=500)
    return render_template(
        "admin/audit.html",
        rows=[{**dict(r), "when": when(r["at"])} for r in rows],
        slug=slug,
    )


# -- notifications: each moderator's own settings, and the outbox ----------------------------------


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Show and save where the moderator's notifications go, and which ones they want."""
    notifier = get_wall().notifier
    name = current_moderator() or "?"
    mine = notifier.settings_for(name)
    if mine is None:
        abort(404)
    status = 200
    if request.method == "POST":
        modes = {
            event: request.form.get(f"mode_{event}") or mine["modes"][event]
            for event in MODERATOR_EVENTS
        }
        email = request.form.get("email", "")[:254]
        try:
            notifier.save_settings(name, email, modes, actor=name)
        except ValueError as exc:
            flash(str(exc), "error")
            mine, status = {"email": email, "modes": modes}, 400
        else:
            flash("Saved your notification settings.")
            return redirect(url_for("admin.settings"), code=303)
    return render_template(
        "admin/settings.html",
        mine=mine,
        events=MODERATOR_EVENTS,
        configured=notifier.configured,
        email_on=notifier.config.email_on,
        digest_at=notifier.config.digest_at,
    ), status


@bp.get("/outbox")
def outbox():
    """List notifications waiting or failed, with their error; say how to turn them on."""
    summary = get_wall().notifier.outbox_summary()
    for row in summary["rows"]:
        row["created"] = when(row["created_at"])
        row["due"] = when(row["due_at"])
    return render_template("admin/outbox.html", **summary)


@bp.post("/outbox/<delivery>/retry")
def retry_delivery(delivery: str):
    """Send a failed or waiting notification again now."""
    # A plain string in the rule, so the moderators-only guard answers before any 404.
    if not delivery.isdigit():
        abort(404)
    if get_wall().notifier.retry(int(delivery), current_moderator() or "?"):
        flash("It will be sent again in a moment.")
    else:
        flash("That notification is no longer waiting or failed.", "error")
    return redirect(url_for("admin.outbox"), code=303)
