"""Take the README's screenshots: the sample wall in a real Chromium.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

Starts `storywall serve` on the sample stories and saves PNGs of the
intranet wall, a story page and the kiosk at the TV sizes into docs/.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import Server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = [
    ("wall.png", "/", 1440, 1000, False),
    ("story.png", "/stories/maria-alvarez", 1440, 1100, False),
    ("phone-wall.png", "/", 390, 844, True),
    ("kiosk-1920x1080.png", "/kiosk", 1920, 1080, False),
    ("kiosk-3840x2160.png", "/kiosk", 3840, 2160, False),
    ("kiosk-1080x1920.png", "/kiosk", 1080, 1920, False),
    ("kiosk-thanks-1920x1080.png", "/kiosk?tags=hospitality", 1920, 1080, False),
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(ROOT / "stories", Path(tmp) / "instance")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                for name, path, width, height, mobile in SHOTS:
                    page = browser.new_page(
                        viewport={"width": width, "height": height}, is_mobile=mobile
                    )
                    page.goto(server.url + path)
                    if path.startswith("/kiosk"):
                        page.wait_for_selector(".slide.is-front", timeout=10_000)
                        page.wait_for_timeout(1500)  # let the crossfade finish
                    else:
                        page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out / name))
                    page.close()
                    print(f"wrote {out / name}")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
