"""The intranet wall: browse, search and read the stories, and their photos."""

from __future__ import annotations

import logging
import math
import re
import time

from flask import Blueprint, abort, current_app, render_template, request, url_for
from markupsafe import Markup

from ..db import DATABASE_TROUBLE
from ..stories import Story
from ..teams import of_team
from . import get_db, get_wall, today
from .cache import app_cache
from .cards import photo_sources, portrait, share_card, tag_label
from .renditions import send_rendition

log = logging.getLogger(__name__)

bp = Blueprint("intranet", __name__)

_GRID_CACHE_SIZE = 256

# A page number as people type it; six digits is a million pages, far past any wall.
PAGE_RE = re.compile(r"[0-9]{1,6}")


@bp.get("/")
def wall():
    """Show the stories as cards, featured first then newest; search and filter by tag."""
    index = get_wall().index
    query = request.args.get("q", "").strip()[:200]
    tag = request.args.get("tag", "").strip().casefold()[:80]
    teams = current_app.config.get("TEAMS") or {}
    team = teams.get(request.args.get("team", "").strip()[:64])
    stories = index.visible("intranet", tags=[tag] if tag else ())
    if team is not None:
        stories = [s for s in stories if of_team(s, team)]
    if query:
        stories = [s for s in stories if s.matches(query)]
    size = int(current_app.config["PAGE_SIZE"])
    pages = max(math.ceil(len(stories) / size), 1)
    raw_page = request.args.get("page", "").strip() or "1"
    page = int(raw_page) if PAGE_RE.fullmatch(raw_page) else 0
    if not 1 <= page <= pages:
        return no_such_page(pages, query, tag, team.key if team else "")
    shown = stories[(page - 1) * size : page * size]
    return render_template(
        "wall.html",
        grid=_grid(index.version, shown),
        stories=shown,
        total=len(stories),
        query=query,
        tag=tag,
        team=team,
        teams=teams,
        page=page,
        pages=pages,
        has_next=page < pages,
        impact_line=impact_line() if current_app.config["IMPACT_LINE"] else None,
        **tag_bar(index.tags("intranet"), tag),
    )


TAG_BAR_SIZE = 12


def tag_bar(tags: list[tuple[str, int]], chosen: str) -> dict[str, object]:
    """Every tag in use, as (tag, label, count): the most used in the bar, the rest
    alphabetically behind a "more" toggle, open when the chosen tag is among them."""
    labelled = [(t, tag_label(t), n) for t, n in tags]
    more = sorted(labelled[TAG_BAR_SIZE:], key=lambda item: (item[1].casefold(), item[0]))
    return {
        "tags": labelled[:TAG_BAR_SIZE],
        "more_tags": more,
        "more_open": any(t == chosen for t, _, _ in more),
    }


def no_such_page(pages: int, query: str, tag: str, team: str = ""):  # type: ignore[no-untyped-def]
    """A 404 for a page past the end (or not a page at all), with a link to the last one."""
    what = "stories" if not (query or tag or team) else "results"
    message = (
        f"There is no such page: the wall has {pages} "
        f"{'page' if pages == 1 else 'pages'} of {what}. Stories may have come off the wall "
        "since the link was made."
    )
    link = link_text = None  # with one page and no filter, the page's own link back will do
    if pages > 1 or query or tag or team:
        last = pages if pages > 1 else None
        link = url_for(
            "intranet.wall", q=query or None, tag=tag or None, team=team or None, page=last
        )
        link_text = f"Go to page {pages}" if last else "Back to the results"
    return render_template(
        "error.html",
        code=404,
        title="No such page",
        message=message,
        link=link,
        link_text=link_text,
    ), 404


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


def impact_line() -> dict[str, int] | None:
    """This quarter's four numbers, worked out at most once a minute per worker and
    version: every intranet page shows them, and they walk every story. None while
    the database is away: the wall goes on without its line."""
    wall = get_wall()
    key = (wall.index.version, today(), int(time.time() // 60))
    try:
        return app_cache("storywall.impact_line", 4).get_or_build(key, wall.impact.line)
    except DATABASE_TROUBLE as exc:
        log.warning("impact line left out: %s", exc)
        return None


@bp.get("/stories/<slug>")
def story(slug: str):
    """Show one story in full."""
    found = get_wall().index.get(slug)
    if found is None or not get_wall().index.is_visible(found, "intranet", today()):
        abort(404)
    try:
        shown, screens = get_db().display_counts(slug)
    except DATABASE_TROUBLE as exc:  # the story is worth more than its count
        log.warning("display counts left out: %s", exc)
        shown, screens = 0, 0
    return render_template(
        "story.html",
        story=found,
        photo=photo_sources(found),
        portrait=portrait(found),
        share=share_card(found),
        shown=shown,
        screens=screens,
    )


@bp.get("/photos/<slug>/<token>/<int:width>.<fmt>")
def photo(slug: str, token: str, width: int, fmt: str):
    """Send a rendition of a published story's photo; never the original file."""
    index = get_wall().index
    found = index.get(slug)
    if found is None or not index.visible_anywhere(found):
        abort(404)
    return send_rendition(found, token, width, fmt)
