"""The hallway screen: a full-screen page that rotates through the stories."""

from __future__ import annotations

from flask import Blueprint, render_template, request

bp = Blueprint("kiosk", __name__)


@bp.get("/kiosk")
def kiosk():
    """Show the full-screen rotation for a hallway TV."""
    return render_template(
        "kiosk.html",
        screen=request.args.get("screen", "")[:64],
        tags=request.args.get("tags", "")[:400],
        interval=request.args.get("interval", "")[:10],
    )
