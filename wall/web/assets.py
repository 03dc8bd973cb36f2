"""Static files with content-hashed URLs, cached by browsers for a year.

`url_for('static', filename='kiosk.js')` becomes `/static/kiosk.js?v=<hash>`.
A request carrying the current hash is answered with an immutable,
year-long cache header, so TVs and browsers fetch each asset once per
release; a changed file gets a new URL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, request, send_from_directory
from flask.wrappers import Response

YEAR = 31536000


def init_app(app: Flask) -> None:
    folder = Path(app.static_folder or "static")
    versions: dict[str, str] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            digest = hashlib.blake2b(path.read_bytes(), digest_size=6).hexdigest()
            versions[path.relative_to(folder).as_posix()] = digest

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values:
            version = versions.get(values.get("filename", ""))
            if version:
                values["v"] = version

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """The icon, where browsers and feed readers look for it without a <link>."""
        response = send_from_directory(folder, "favicon.ico", mimetype="image/vnd.microsoft.icon")
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response

    @app.after_request
    def cache_versioned_assets(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            if request.args.get("v") and request.args["v"] == versions.get(filename):
                response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
            else:
                response.headers["Cache-Control"] = "no-cache"
        return response
