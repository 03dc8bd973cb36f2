"""Take the screenshots in README.md and docs/: the sample wall in a real Chromium.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

Starts `storywall serve` on the sample stories with a fresh instance folder
(and a moderator, for the admin pages) in a temporary directory, then saves
into docs/ (or OUT_DIR): the intranet wall, a story page, the story form and the
moderation queue and the impact page at 390 px (a phone) and 1440 px (a desk);
the wall and a story in dark mode; and the kiosk at the three TV sizes.
Open each one and look at it before committing: no cut text, no overlap.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, LAUNCH_ARGS  # noqa: E402
from tests.support import Server  # noqa: E402
from wall.db import Database  # noqa: E402

MODERATOR = ("alex", "a long and unguessable pass phrase")
PHONE = (390, 844)
DESK = (1440, 900)

# name, path, colour scheme, signed in: each at a phone's width and at a desk's.
PAGES = [
    ("wall", "/", "light", False),
    ("story", "/stories/maria-alvarez", "light", False),
    ("submit", "/submit", "light", False),
    ("admin-queue", "/admin/", "light", True),
    ("impact", "/admin/impact", "light", True),
    ("wall-dark", "/", "dark", False),
    ("story-dark", "/stories/maria-alvarez", "dark", False),
]
KIOSK = [
    ("kiosk-1920x1080.png", "/kiosk", (1920, 1080)),
    ("kiosk-3840x2160.png", "/kiosk", (3840, 2160)),
    ("kiosk-1080x1920.png", "/kiosk", (1080, 1920)),
    ("kiosk-thanks-1920x1080.png", "/kiosk?tags=hospitality", (1920, 1080)),
]


def shots():  # type: ignore[no-untyped-def]
    """Every screenshot: (file name, path, size, colour scheme, signed in)."""
    for name, path, scheme, admin in PAGES:
        for size in (PHONE, DESK):
            yield f"{name}-{size[0]}.png", path, size, scheme, admin
    for name, path, size in KIOSK:
        yield name, path, size, "light", False


def sign_in(browser: Browser, url: str) -> dict:
    """A moderator's cookies, signed in through the real form."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("#name", MODERATOR[0])
    page.fill("#password", MODERATOR[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    state = context.storage_state()
    context.close()
    return state


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stories, instance = Path(tmp) / "stories", Path(tmp) / "instance"
        shutil.copytree(ROOT / "stories", stories)
        instance.mkdir()
        Database(instance / "storywall.db").add_user(
            MODERATOR[0], generate_password_hash(MODERATOR[1], method="pbkdf2:sha256:1000")
        )
        server = Server(stories, instance)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                moderator = sign_in(browser, server.url)
                for name, path, (width, height), scheme, admin in shots():
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        color_scheme=scheme,  # type: ignore[arg-type]
                        is_mobile=width < 600,
                        has_touch=width < 600,
                        storage_state=moderator if admin else None,
                    )
                    page = context.new_page()
                    page.goto(server.url + path)
                    if path.startswith("/kiosk"):
                        page.wait_for_selector(".slide.is-front", timeout=10_000)
                        page.wait_for_timeout(1500)  # let the crossfade finish
                    else:
                        page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out / name))
                    context.close()
                    print(f"wrote {out / name}")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
