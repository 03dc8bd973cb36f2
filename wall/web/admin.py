"""Moderation: the queue, every story, problems, screens and the audit log.

Every route here is for moderators only (a before_request guard, so no route
can forget it). Every change goes through wall.moderation, carries the token
of the file the moderator saw, and is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
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
    send_file,
    url_for,
)

from .. import moderation as mod
from ..photos import RENDITION_TYPES, WIDTHS, PhotoError
from ..screens import NAME_RE
from ..stories import FRONT_MATTER_KEYS, PLACES, SLUG_RE, Story, load_story
from . import cards, get_db, get_wall, today
from .auth import current_moderator, require_moderator, safe_next
from .cards import portrait, story_json

bp = Blueprint("admin", __name__, url_prefix="/admin")

REASON_MAX_CHARS = 1000
# Front-matter keys the story page shows as fields; any others are listed as they are.
KNOWN_KEYS = FRONT_MATTER_KEYS


@bp.before_request
def only_moderators():  # type: ignore[no-untyped-def]
    return require_moderator()


@bp.after_request
def private(response):  # type: ignore[no-untyped-def]
    response.headers["Cache-Control"] = "no-store"
    return response


def pending_stories() -> list[Story]:
    """The queue: stories waiting for a moderator, oldest first."""
    waiting = [s for s in get_wall().index.stories() if s.status == "pending"]
    return sorted(waiting, key=lambda s: (str(s.meta.get("submitted_at") or s.date or ""), s.slug))


@bp.app_context_processor
def moderation_nav() -> dict[str, Any]:
    moderator = current_moderator()
    return {
        "moderator": moderator,
        "pending_count": len(pending_stories()) if moderator else 0,
    }


# -- photos and previews, for stories not (yet) on any screen ---------------------------------


def photo_sources(story: Story) -> dict[str, Any] | None:
    """As cards.photo_sources, from the moderators' photo route: it serves any story."""
    return cards.photo_sources(story, endpoint="admin.photo")


@bp.get("/photos/<slug>/<token>/<int:width>.<fmt>")
def photo(slug: str, token: str, width: int, fmt: str):
    """Send a rendition of any story's photo, for the preview."""
    wall = get_wall()
    found = wall.index.get(slug)
    if found is None or found.photo is None or fmt not in RENDITION_TYPES or width not in WIDTHS:
        abort(404)
    try:
        path = wall.photos.rendition(found.photo, width, fmt)
    except (PhotoError, OSError):
        abort(404)
    return send_file(path, mimetype=RENDITION_TYPES[fmt], conditional=True, etag=True)


@bp.get("/stories/<slug>/tv")
def preview(slug: str):
    """Show the real kiosk page, playing only this story, as the hallway TV will."""
    story_or_gone(slug)
    return render_template(
        "kiosk.html",
        stories_url=url_for("admin.preview_playlist", slug=slug),
        events_url="",  # a preview: no live events, heartbeats or offline cache
        heartbeat_url="",
        worker_url="",
        screen="",
        tags="",
        interval="",
        hours="",
        reload_at="",
        heartbeat_seconds=0,
    )


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
    if not SLUG_RE.match(slug):
        abort(404)
    index = get_wall().index
    index.refresh([slug])  # this worker may not have seen the latest edit yet
    story = index.get(slug)
    if story is None:
        problems = [p for p in index.problems() if _slug_of(p.path) == slug]
        page = render_template("admin/gone.html", slug=slug, problems=problems)
        abort(make_response(page, 422 if problems else 404))
    return story


def current_story(slug: str) -> Story | None:
    """The story as it is on disk now, for an action; None if it is gone or unreadable."""
    if not SLUG_RE.match(slug):
        return None
    index = get_wall().index
    index.refresh([slug])
    return index.get(slug)


def _slug_of(path) -> str:  # type: ignore[no-untyped-def]
    root = get_wall().index.root
    try:
        relative = path.relative_to(root)
    except ValueError:
        return ""
    top = relative.parts[0] if relative.parts else ""
    return top[:-3] if top.endswith(".md") else top


def relative(path) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(path.relative_to(get_wall().index.root.parent))
    except ValueError:
        return str(path)


def as_on_disk(story: Story) -> tuple[Story, str]:
    """The story parsed from the very bytes its token names: what a moderator sees
    is exactly what their action applies to, even if the file changes meanwhile."""
    try:
        current = mod.read_story_file(story.source)
    except mod.ModerationError:
        return story, ""  # gone or unreadable: any action on it will say so
    parsed, _ = load_story(story.source, get_wall().index.root, data=current.raw)
    return (parsed, current.token) if parsed is not None else (story, "")


@bp.get("/")
def queue():
    """Show the stories waiting for a moderator, oldest first, each one click from approval."""
    seen = [as_on_disk(s) for s in pending_stories()]
    stories = [s for s, _ in seen]
    return render_template(
        "admin/queue.html",
        stories=stories,
        tokens={s.slug: token for s, token in seen},
        would={s.slug: mod.where_it_would_show(s, today()) for s in stories},
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
        shown={s.slug: {p: s.hidden_reason(p, today()) for p in PLACES} for s in found},
    )


@bp.get("/stories/<slug>")
def story(slug: str):
    """Show one story as each screen will show it, with every action and its history."""
    found = story_or_gone(slug)
    return render_story(found)


def render_story(found: Story, status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    found, token = as_on_disk(found)
    shown, screens = get_db().display_counts(found.slug)
    extra.setdefault("dates", {"publish": found.publish or "", "expires": found.expires or ""})
    return render_template(
        "admin/story.html",
        story=found,
        token=token,
        where={p: found.hidden_reason(p, today()) for p in PLACES},
        would=mod.where_it_would_show(found, today()),
        other_keys={k: v for k, v in found.meta.items() if k not in KNOWN_KEYS},
        path=relative(found.source),
        audit=get_db().audit_log(found.slug, limit=100),
        shown=shown,
        screens=screens,
        photo_sources=photo_sources,
        portrait=portrait,
        **extra,
    ), status


# -- actions ---------------------------------------------------------------------------------


def _back(slug: str | None = None):  # type: ignore[no-untyped-def]
    target = safe_next(request.form.get("next"))
    if target is None:
        target = url_for("admin.story", slug=slug) if slug else url_for("admin.queue")
    return redirect(target, code=303)


def _where_now(story: Story) -> str:
    places = [p for p in PLACES if story.is_visible(p, today())]
    if places:
        return "Now on: " + " and ".join("hallway TVs" if p == "hallway" else p for p in places)
    return "It is not on any screen: " + (story.hidden_reason("hallway", today()) or "")


@bp.post("/stories/<slug>/<action>")
def act(slug: str, action: str):
    """Approve, reject, unpublish, feature, schedule or withdraw consent for a story."""
    who = current_moderator() or "?"
    index = get_wall().index
    found = current_story(slug)
    if found is None:
        flash(mod.GONE, "error")
        return redirect(url_for("admin.queue"), code=303)
    form = request.form
    detail = ""
    if action == "approve":
        changes = mod.approve_changes(who)
    elif action == "reject":
        reason = " ".join(form.get("reason", "").split())
        if not reason:
            flash("Give a reason for rejecting, so the next person knows why.", "error")
            return redirect(url_for("admin.story", slug=slug, _anchor="reject"), code=303)
        changes = mod.reject_changes(who, reason[:REASON_MAX_CHARS])
        detail = reason[:REASON_MAX_CHARS]
    elif action == "unpublish":
        changes = mod.unpublish_changes()
    elif action in ("feature", "unfeature"):
        changes = {"featured": action == "feature"}
    elif action == "dates":
        result = mod.read_dates(form)
        if not result.ok:
            return render_story(found, 400, dates=result.values, date_errors=result.errors)
        changes = {k: result.values[k] or None for k in ("publish", "expires")}
        detail = ", ".join(f"{k} {v or 'none'}" for k, v in changes.items())
    elif action == "withdraw":
        try:
            changes = mod.withdraw_consent_changes(found, today())
        except mod.ModerationError as exc:
            flash(exc.message, "error")
            return _back(slug)
        detail = " ".join(form.get("note", "").split())[:REASON_MAX_CHARS]
    else:
        abort(404)
    try:
        written, _ = mod.update_story(
            found.source, changes, expected=form.get("token", ""), root=index.root
        )
    except mod.Conflict as exc:
        index.refresh([slug])
        flash(exc.message + " Here is the current version; check it and try again.", "error")
        return redirect(url_for("admin.story", slug=slug), code=303)
    except mod.StoryGone as exc:
        index.refresh([slug])
        flash(exc.message, "error")
        return redirect(url_for("admin.queue"), code=303)
    except mod.InvalidStory as exc:
        flash(f"Not saved: the file would have problems: {exc.message}", "error")
        return redirect(url_for("admin.story", slug=slug), code=303)
    index.refresh([slug])
    label = ACTION_LABELS[action]
    get_db().audit(who, label, slug, detail)
    flash(f"{written.name}: {label}. {_where_now(written)}.")
    return _back(slug)


ACTION_LABELS = {
    "approve": "approved",
    "reject": "rejected",
    "unpublish": "unpublished",
    "feature": "featured",
    "unfeature": "no longer featured",
    "dates": "dates set",
    "withdraw": "consent withdrawn",
}


@bp.route("/stories/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str):
    """Edit a story's fields and body; refuse if the file changed since the form opened."""
    index = get_wall().index
    if request.method == "GET":
        found, token = as_on_disk(story_or_gone(slug))
        return render_edit(found, mod.edit_values(found), token)
    found = current_story(slug)
    token = request.form.get("token", "")
    form = {**request.form.to_dict(), "consent_scope": request.form.getlist("consent_scope")}
    if found is None:
        return render_edit(None, form, token, slug=slug, status=410, gone=mod.GONE)
    result = mod.read_edit(form, found, today())
    if not result.ok:
        return render_edit(found, result.values, token, errors=result.errors, status=400)
    new_slug = result.values["slug"]
    root = index.root
    if new_slug != slug and ((root / new_slug).exists() or (root / f"{new_slug}.md").exists()):
        errors = {"slug": f"Another story already uses '{new_slug}'. Choose another."}
        return render_edit(found, result.values, token, errors=errors, status=409)
    changes = mod.edit_changes(found, result.values)
    try:
        written, _ = mod.update_story(
            found.source, changes, body=result.values["body"], expected=token, root=root
        )
    except mod.Conflict as exc:
        index.refresh([slug])
        return render_edit(
            found,
            result.values,
            exc.current.token,
            status=409,
            conflict=exc.message,
            on_disk=exc.current.text,
        )
    except mod.StoryGone as exc:
        index.refresh([slug])
        return render_edit(None, result.values, token, slug=slug, status=410, gone=exc.message)
    except mod.InvalidStory as exc:
        errors = {mod.EDIT_KEYS.get(p.field or "", "_"): p.message for p in exc.problems}
        return render_edit(found, result.values, token, errors=errors, status=400)
    who = current_moderator() or "?"
    body_changed = not mod.same_body(result.values["body"], found.body)
    changed = [*changes, *(["body"] if body_changed else [])]
    if changed:
        get_db().audit(who, "edited", slug, "changed " + ", ".join(changed))
    index.refresh([slug])
    if new_slug != slug:
        try:
            mod.rename_story(root, written, new_slug)
        except mod.ModerationError as exc:
            flash(f"Saved, but not renamed: {exc.message}", "error")
            return redirect(url_for("admin.edit", slug=slug), code=303)
        index.refresh([slug, new_slug])
        get_db().audit(who, "renamed", new_slug, f"from {slug} to {new_slug}")
        slug = new_slug
    flash("Saved." if changed or new_slug != found.slug else "No changes to save.")
    return redirect(url_for("admin.story", slug=slug), code=303)


def render_edit(  # type: ignore[no-untyped-def]
    story: Story | None,
    values: dict[str, Any],
    token: str,
    *,
    slug: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
):
    return render_template(
        "admin/edit.html",
        story=story,
        slug=story.slug if story else slug,
        values=values,
        token=token,
        errors=errors or {},
        **extra,
    ), status


@bp.route("/stories/<slug>/delete", methods=["GET", "POST"])
def delete(slug: str):
    """Delete a story's files, after a confirmation."""
    if request.method == "GET":
        found, token = as_on_disk(story_or_gone(slug))
        return render_template(
            "admin/delete.html", story=found, token=token, path=relative(found.source)
        )
    index = get_wall().index
    found = current_story(slug)
    if found is None:
        flash(mod.GONE, "error")
        return redirect(url_for("admin.queue"), code=303)
    if as_on_disk(found)[1] != request.form.get("token"):
        flash("This story changed since you opened it; check it again before deleting.", "error")
        return redirect(url_for("admin.story", slug=slug), code=303)
    shared = any(s.photo == found.photo and s.slug != slug for s in index.stories())
    try:
        mod.delete_story(index.root, found, photo_shared=shared)
    except mod.ModerationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.queue"), code=303)
    index.refresh([slug])
    get_db().audit(
        current_moderator() or "?", "deleted", slug, f"{found.name}; {relative(found.source)}"
    )
    flash(f"Deleted {found.name} ({relative(found.source)}).")
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
                "uptime": _duration(row["uptime"] or 0),
                "last_seen": _ago(now - row["last_seen"]),
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
    if not get_db().rename_screen(old, new):
        flash(f"There is no screen called {old} any more.", "error")
        return redirect(url_for("admin.screens"), code=303)
    get_db().audit(current_moderator() or "?", "renamed a screen", None, f"from {old} to {new}")
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
    if not get_db().forget_screen(name, counts=counts):
        flash(f"There is no screen called {name} any more.", "error")
        return redirect(url_for("admin.screens"), code=303)
    detail = name + (", and what it has shown" if counts else "")
    get_db().audit(current_moderator() or "?", "forgot a screen", None, detail)
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
        rows=[{**dict(r), "when": _when(r["at"])} for r in rows],
        slug=slug,
    )


@bp.app_template_filter("when")
def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"
