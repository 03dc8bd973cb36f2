"""The intranet wall: browse, search and read the stories, and their photos."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from markupsafe import Markup

from ..stories import Story
from . import get_db, get_wall, today
from .cache import app_cache
from .cards import photo_sources, portrait
from .renditions import send_rendition

bp = Blueprint("intranet", __name__)

_GRID_CACHE_SIZE = 256


@bp.get("/")
def wall():
    """Show the stories as cards, featured first then newest; search and filter by tag."""
    index = get_wall().index
    query = request.args.get("q", "").strip()[:200]
    tag = request.args.get("tag", "").strip().casefold()[:80]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    stories = index.visible("intranet", tags=[tag] if tag else ())
    if query:
        stories = [s for s in stories if s.matches(query)]
    size = int(current_app.config["PAGE_SIZE"])
    shown = stories[(page - 1) * size : page * size]
    return render_template(
        "wall.html",
        grid=_grid(index.version, shown),
        stories=shown,
        total=len(stories),
        query=query,
        tag=tag,
        page=page,
        has_next=page * size < len(stories),
        tags=index.tags("intranet")[:14],
    )


def _grid(version: int, stories: list[Story]) -> Markup:
    """The cards, rendered once per index version: the 9 a.m. rush reads the same page."""
    key = (version, today(), request.host_url, tuple(s.slug for s in stories))
    return app_cache("storywall.grids", _GRID_CACHE_SIZE).get_or_build(
        key,
        lambda: Markup(
            render_template(
                "_grid.html", stories=stories, photo_sources=photo_sources, portrait=portrait
            )
        ),
    )


@bp.get("/stories/<slug>")
def story(slug: str):
    """Show one story in full."""
    found = get_wall().index.get(slug)
    if found is None or not found.is_visible("intranet", today()):
        abort(404)
    shown, screens = get_db().display_counts(slug)
    return render_template(
        "story.html",
        story=found,
        photo=photo_sources(found),
        portrait=portrait(found),
        shown=shown,
        screens=screens,
    )


@bp.get("/photos/<slug>/<token>/<int:width>.<fmt>")
def photo(slug: str, token: str, width: int, fmt: str):
    """Send a rendition of a published story's photo; never the original file."""
    found = get_wall().index.get(slug)
    if found is None or not (
        found.is_visible("intranet", today()) or found.is_visible("hallway", today())
    ):
        abort(404)
    return send_rendition(found, token, width, fmt)
