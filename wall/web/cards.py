"""How a story is presented to browsers: photo sources, tag names and the kiosk's JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import current_app, url_for

from ..photos import SHARE_WIDTH, SIZES, stat_token
from ..portraits import portrait_colors
from ..rotation import seconds_on_screen
from ..stories import Story
from ..teams import addressed_to

_UNQUOTED = re.compile(r"^[A-Za-z0-9_-]+$")


class URLPattern:
    """One route's URLs for many values, built through the routing map once.

    Building a URL costs tens of microseconds, and a playlist of ten thousand
    stories needs three each. The route is built once with a mark in place of
    each value; every URL after that is the marks filled in. Only values a URL
    carries as they are (slugs, hex tokens) are filled in; anything else, or
    a mark the rest of the URL happens to contain, is built the long way.
    """

    def __init__(self, build: Callable[..., str], *fields: str) -> None:
        self._build = build
        marks = {f"0{field}0": field for field in fields}
        parts = re.split(f"({'|'.join(marks)})", build(**{f: m for m, f in marks.items()}))
        self._parts: list[str] | None = parts if sorted(parts[1::2]) == sorted(marks) else None
        # Where in the parts each value goes.
        self._slots = [(n, marks[part]) for n, part in enumerate(parts) if n % 2]

    def __call__(self, **values: str) -> str:
        if self._parts is None:
            return self._build(**values)
        url = list(self._parts)
        for at, field in self._slots:
            value = values[field]
            if not _UNQUOTED.match(value):
                return self._build(**values)
            url[at] = value
        return "".join(url)


class KioskLinks:
    """The addresses in kiosk entries, each route built once for a whole playlist;
    and the settings every entry reads, looked up once."""

    def __init__(self) -> None:
        self.story = URLPattern(public_story_url, "slug")
        self.qr = URLPattern(lambda slug: url_for("kiosk.qr_code", slug=slug), "slug")
        self.photo = URLPattern(_photo_url_prefix, "slug", "token")
        config = current_app.config
        self.seconds = (int(config["SLIDE_MIN_SECONDS"]), int(config["SLIDE_MAX_SECONDS"]))


def _photo_url_prefix(endpoint: str = "intranet.photo", **values: Any) -> str:
    """`/photos/<slug>/<token>/`, to which each rendition adds `<width>.<format>`."""
    return url_for(endpoint, width=0, fmt="jpg", **values).removesuffix("0.jpg")


def _photo_prefix(
    story: Story,
    endpoint: str = "intranet.photo",
    pattern: URLPattern | None = None,
    **values: Any,
) -> str | None:
    """`/photos/<slug>/<token>/`: one stat and one URL build per story, not per size."""
    if story.shown_photo is None:
        return None
    try:
        token = stat_token(story.shown_photo)
    except OSError:
        return None  # removed since the index read it; the watcher will catch up
    if pattern is not None:
        return pattern(slug=story.slug, token=token)
    return _photo_url_prefix(endpoint, slug=story.slug, token=token, **values)


def photo_sources(
    story: Story,
    endpoint: str = "intranet.photo",
    *,
    pattern: URLPattern | None = None,
    **values: Any,
) -> dict[str, Any] | None:
    """URLs of a story's photo renditions, for <picture>, srcset and the kiosk.

    `endpoint` is the photo route to point at: the moderators' route serves
    photos of stories not yet on any screen. A `pattern` of that route's
    prefix saves building it per story.
    """
    prefix = _photo_prefix(story, endpoint, pattern, **values)
    if prefix is None:
        return None
    return {
        "src": f"{prefix}960.jpg",
        # Named by width; the screens' sizes are narrower for portrait photos
        # (photos.SIZES), which the kiosk allows for by asking for its screen's.
        "webp": ", ".join(f"{prefix}{w}.webp {w}w" for w in SIZES),
        "jpeg": ", ".join(f"{prefix}{w}.jpg {w}w" for w in SIZES),
        "alt": story.photo_alt or f"Photo of {story.credit_lines[0]}",
        "focus": list(story.photo_focus),
        "position": f"{story.photo_focus[0] * 100:.0f}% {story.photo_focus[1] * 100:.0f}%",
    }


def portrait(story: Story) -> dict[str, str]:
    background, color = portrait_colors(story.name)
    return {"initials": story.shown_initials, "background": background, "color": color}


def _public_url(endpoint: str, **values: Any) -> str:
    """The address of `endpoint` as a phone or a chat app should open it: under PUBLIC_URL."""
    base = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)


def public_story_url(slug: str) -> str:
    """The story's intranet address as a phone should open it (for QR codes)."""
    return _public_url("intranet.story", slug=slug)


def share_card(story: Story) -> dict[str, str | None]:
    """What a chat app shows for a pasted link to the story: Open Graph and Twitter card.

    The photo only where the customer's consent shows it (`shown_photo`); the
    story page itself is served only while the story is on the intranet.
    """
    image = None
    if story.shown_photo is not None:
        try:
            token = stat_token(story.shown_photo)
        except OSError:
            token = None  # removed since the index read it: no preview image
        if token:
            image = _public_url(
                "intranet.photo", slug=story.slug, token=token, width=SHARE_WIDTH, fmt="jpg"
            )
    return {
        "title": ", ".join(line for line in story.credit_lines if line),
        "description": story.tv_line,
        "url": public_story_url(story.slug),
        "image": image,
        "image_alt": story.photo_alt or f"Photo of {story.credit_lines[0]}",
    }


def story_json(story: Story, links: KioskLinks | None = None) -> dict[str, Any]:
    """One entry of /api/stories: everything a kiosk needs to show the slide.

    Building many, pass the same `links` to each.
    """
    links = links or KioskLinks()
    return {
        "slug": story.slug,
        # As the customer chose to be credited: without a name, the role takes
        # the name's line and the company the role's.
        "name": story.credit_lines[0],
        "role": story.role if story.credit != "anonymous" else "",
        "company": story.company,
        "location": story.location,
        "title": story.title,
        "quote": story.tv_line,
        "kind": story.kind,
        "to": to_line(story),
        "tags": list(story.tags),
        "featured": story.featured,
        "date": story.date.isoformat() if story.date else None,
        "seconds": seconds_on_screen(story, *links.seconds),
        "url": links.story(slug=story.slug),
        "qr": links.qr(slug=story.slug),
        "photo": photo_sources(story, pattern=links.photo),
        "portrait": portrait(story),
    }


def tag_label(tag: str) -> str:
    """How a tag is shown: its name from the [tags] table, else its words, each capitalised
    (`santa-fe` as "Santa Fe"); the table is for the rest (`hr` as "HR")."""
    name = current_app.config["TAGS"].get(tag)  # checked and folded at start-up
    if name:
        return name
    words = tag.replace("-", " ").replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or tag


def to_line(story: Story) -> str:
    """Whom a thank-you is for, as slides and cards say it: "To the night shift at Dayton"."""
    if story.kind != "thank-you":
        return ""
    return addressed_to(story.to, current_app.config.get("TEAMS") or {})
