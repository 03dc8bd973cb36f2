"""Static files with content-hashed URLs, cached by browsers for a year.

`url_for('static', filename='kiosk.css')` becomes `/static/kiosk.css?v=<hash>`.
A request carrying the current hash is answered with an immutable,
year-long cache header, so TVs and browsers fetch each asset once per
release; a changed file gets a new URL.

A file in a folder is versioned by its folder, in the path:
`url_for('static', filename='kiosk/main.js')` becomes
`/static/kiosk.<hash>/main.js`, where the hash covers every file in the
folder. The kiosk's ES modules import one another by relative URL
(`./slides.js`): such a URL drops any `?v=`, but keeps the folder. So a
release that changes any module moves all of them to new URLs together,
each can still be cached for a year, and a page never runs a new main.js
with a stale slides.js from the browser's cache or the service worker's.
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
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest = hashlib.blake2b(path.read_bytes(), digest_size=6).hexdigest()
            versions[path.relative_to(folder).as_posix()] = digest
    folder_hashes: dict[str, Any] = {}
    for name, digest in versions.items():
        top, slash, _ = name.partition("/")
        if slash:
            folder_hashes.setdefault(top, hashlib.blake2b(digest_size=6))
            folder_hashes[top].update(f"{name} {digest}\n".encode())
    folder_versions = {top: h.hexdigest() for top, h in folder_hashes.items()}

    def unversioned(filename: str) -> tuple[str, str | None, str | None]:
        """The file a static URL names, the version the URL says, and the current one."""
        top, slash, rest = filename.partition("/")
        name, dot, version = top.rpartition(".")
        if slash and dot and name in folder_versions:
            return f"{name}/{rest}", version, folder_versions[name]
        return filename, request.args.get("v"), versions.get(filename)

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static":
            return
        filename = values.get("filename", "")
        top, slash, rest = filename.partition("/")
        if slash and top in folder_versions:
            values["filename"] = f"{top}.{folder_versions[top]}/{rest}"
        elif "v" not in values:
            version = versions.get(filename)
            if version:
                values["v"] = version

    send_static_file = app.view_functions["static"]

    def static(filename: str) -> Response:
        # Any version of a folder is served from the folder as it is now, like
        # a stale `?v=` (with no-cache, below): an old page still comes up.
        return send_static_file(filename=unversioned(filename)[0])

    app.view_functions["static"] = static

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
            _, version, current = unversioned((request.view_args or {}).get("filename", ""))
            if version and version == current:
                response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
            else:
                response.headers["Cache-Control"] = "no-cache"
        return response

    app.jinja_env.globals["static_files"] = lambda top: [
        name for name in versions if name.startswith(f"{top}/")
    ]
