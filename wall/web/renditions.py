"""Sending a story's photo: one rendition route helper for the intranet and the admin."""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, send_file

from ..photos import RENDITION_TYPES, SHARE_WIDTH, SIZES, PhotoError, stat_token
from ..stories import Story
from . import get_wall


def send_rendition(
    story: Story, token: str, width: int, fmt: str, *, photo: Path | None = None
) -> Response:
    """A resized, re-encoded copy of the story's photo; never the original file.

    The URL's token names this state of the file, so a matching request may be
    cached for ever; a changed photo gets a new URL.
    """
    if photo is None:
        photo = story.shown_photo  # never one the customer chose not to show
    sized = width in SIZES or (width == SHARE_WIDTH and fmt == "jpg")  # a link preview's
    if photo is None or fmt not in RENDITION_TYPES or not sized:
        abort(404)
    try:
        path = get_wall().photos.rendition(photo, width, fmt)
    except (PhotoError, OSError):
        abort(404)
    response = send_file(path, mimetype=RENDITION_TYPES[fmt], conditional=True, etag=True)
    if token == stat_token(photo):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "public, max-age=60"
    return response
