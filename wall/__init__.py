"""Story Wall: the faces and stories of the customers a company serves.

Importing the package (or its core: wall.stories, wall.index, ...) does not
import Flask; only building the web app does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the wall's web app: defaults, then the instance config.toml and the
    environment, then `test_config`; given a test config, the environment is not read."""
    from .web import create_app as create_web_app

    return create_web_app(test_config)
