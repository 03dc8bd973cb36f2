"""Story Wall: the faces and stories of the customers a company serves."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from .settings import load_settings

PACKAGE_DIR = Path(__file__).parent


def _asset_folder(name: str) -> str:
    """templates/ and static/ sit in the package when installed, at the repo top in a checkout."""
    installed = PACKAGE_DIR / name
    return str(installed if installed.is_dir() else PACKAGE_DIR.parent / name)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the wall's web app; settings as `load_settings()` merges them."""
    settings = load_settings(test_config)
    instance = Path(settings["INSTANCE_PATH"])
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=_asset_folder("templates"),
        static_folder=_asset_folder("static"),
    )
    app.config.from_mapping(settings)
    if "MAX_CONTENT_LENGTH" not in settings:
        # Werkzeug refuses a bigger body before reading it: a 413, never a full disk.
        app.config["MAX_CONTENT_LENGTH"] = int(float(settings["MAX_UPLOAD_MB"]) * 1024 * 1024)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(instance)

    from . import web

    web.init_app(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A secret shared by every worker and kept across restarts, so sessions survive."""
    path = instance / "secret_key"
    if not path.exists():
        tmp = instance / f".secret_key.{os.getpid()}"
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: of two processes starting at once, one key wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
