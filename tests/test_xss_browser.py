"""Nothing a submitter types runs as script: a real Chromium on every page that shows it.

A story goes in through the real form with a payload in every field and in
the body; a moderator reviews and approves it in the real admin. On the
intranet, the story page, the kiosk and every admin page, no dialog may open,
no marker may be set, and no element the payloads try to inject may exist,
in the page or in any frame. The payloads must still be there, as text.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.security import generate_password_hash

from tests.conftest import MODERATOR
from tests.support import Server
from wall.db import Database

pytestmark = pytest.mark.slow


# Each payload would set window.__pwned or open a dialog if it ever ran.
SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror="window.__pwned=2;alert(2)">'
SINGLE = '\'><svg onload="window.__pwned=3;alert(3)">'
TEMPLATE = "{{ 7*7 }}${7*7}"

FIELDS = {
    "name": f"Ada {SCRIPT}",
    "role": f"Role {ATTRIBUTE}",
    "company": f"Co {SINGLE}",
    "location": f"Loc {SCRIPT}",
    "title": f"Title {ATTRIBUTE} {TEMPLATE}",
    "quote": f"Quote {SINGLE}",
    "tags": '"><svg onload=alert(3)>, <script>alert(1)</script>',  # tags are short
    "photo_alt": f"Alt {ATTRIBUTE}",
    "consent_given_by": f"Given {SCRIPT}",
    "submitted_by": f"Sam {ATTRIBUTE}",
}
BODY = f"""Hello {SCRIPT} world.

<img src=x onerror="window.__pwned=4;alert(4)">

[a javascript link](javascript:window.__pwned=5)

[a data link](data:text/html,<script>alert(6)</script>)

![an image](javascript:window.__pwned=7)

<a href="javascript:window.__pwned=8">raw html link</a>

[titled](https://example.com "x\\" onmouseover=\\"window.__pwned=9")

<iframe src="javascript:window.__pwned=10"></iframe>
"""

INJECTED = (
    "script:not([src])",
    "img[src='x']",
    "svg[onload]",
    "[onerror]",
    "[onload]",
    "[onmouseover]",
    "a[href^='javascript:' i]",
    "a[href^='data:' i]",
    "iframe[src^='javascript:' i]",
    "img[src^='javascript:' i]",
)


@pytest.fixture(scope="module")
def wall(tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp("xss")
    stories, instance = root / "stories", root / "instance"
    stories.mkdir()
    # A broken file whose problem message quotes hostile content: shown on the problems page.
    (stories / "broken.md").write_text(
        f"---\nname: x\nrole: y\ncompany: z\nkind: {ATTRIBUTE}\n---\n"
    )
    db = Database(instance / "storywall.db")
    db.add_user(MODERATOR[0], generate_password_hash(MODERATOR[1]))
    # A screen name from a heartbeat is shown on the screens page.
    db.record_heartbeat(
        f"lobby {SCRIPT}", story=SINGLE, playlist=ATTRIBUTE, uptime=5, shown={}, user_agent=SCRIPT
    )
    server = Server(stories, instance)
    yield server, stories
    server.stop()


class Guard:
    """A page that records every dialog, and checks the DOM of every frame."""

    def __init__(self, browser, url: str) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.url = url
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:  # type: ignore[no-untyped-def]
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)
        self.page.wait_for_load_state("networkidle")

    def check(self, where: str) -> None:
        assert self.dialogs == [], f"{where}: a dialog opened: {self.dialogs}"
        for frame in self.page.frames:
            pwned = frame.evaluate("window.__pwned || null")
            assert pwned is None, f"{where}: payload {pwned} ran in {frame.url}"
            for selector in INJECTED:
                assert frame.query_selector(selector) is None, f"{where}: {selector} in {frame.url}"

    def close(self) -> None:
        self.context.close()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (480, 600), (150, 110, 90)).save(out, "JPEG")
    return out.getvalue()


def test_no_payload_runs_anywhere(wall, browser) -> None:
    server, _ = wall
    guard = Guard(browser, server.url)
    page = guard.page
    try:
        # 1. Through the real form, first with a bad email: the error page echoes everything.
        guard.go("/submit")
        for name, value in FIELDS.items():
            page.fill(f"#{name}", value)
        page.fill("#body", BODY)
        page.fill("#consent_date", dt.date.today().isoformat())
        page.check("input[name=consent_scope][value=hallway]")
        page.check("input[name=consent_scope][value=intranet]")
        page.set_input_files(
            "#photo", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
        )
        page.fill("#submitter_email", f"sam{ATTRIBUTE}@example.com")
        page.click("button[value=preview]")
        page.wait_for_load_state("networkidle")
        guard.check("the form, previewed")
        assert page.input_value("#name") == FIELDS["name"]  # kept, as text
        assert page.text_content(".tv-name") == FIELDS["name"]
        page.fill("#submitter_email", "sam.ortiz@example.com")
        page.click("button[value=send]")
        page.wait_for_url("**/submit/thanks/**")
        guard.check("the thank-you page")
        slug = page.url.rsplit("/", 1)[1]

        # 2. The moderator reviews it everywhere they can see it, then approves from the queue.
        guard.go("/login")
        page.fill("#name", MODERATOR[0])
        page.fill("#password", MODERATOR[1])
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/")
        guard.check("the queue")
        assert FIELDS["name"] in page.text_content(".queue-text h2")
        for path in [
            f"/admin/stories/{slug}",
            f"/admin/stories/{slug}/edit",
            f"/admin/stories/{slug}/delete",
            "/admin/stories",
            "/admin/problems",
            "/admin/screens",
            "/admin/audit",
        ]:
            guard.go(path)
            if path == f"/admin/stories/{slug}":
                tv = page.frame_locator(".tv-frame--landscape")
                tv.locator(".slide.is-front .slide-name").wait_for(timeout=10_000)
                assert tv.locator(".slide.is-front .slide-name").text_content() == FIELDS["name"]
            guard.check(path)
        guard.go("/admin/")
        page.click(f"form[action='/admin/stories/{slug}/approve'] button")
        page.wait_for_load_state("networkidle")
        guard.check("the queue, after approving")

        # 3. Published: the intranet, the story page and the kiosk.
        guard.go("/")
        assert FIELDS["name"] in page.text_content(".card-name")
        guard.check("the intranet wall")
        guard.go(f"/?q={SCRIPT}&tag={ATTRIBUTE}")
        guard.check("a hostile search")
        guard.go(f"/stories/{slug}")
        assert "world." in page.text_content(".story-body")
        assert page.query_selector(".story-body a[href='https://example.com']") is not None
        guard.check("the story page")
        guard.go("/kiosk")
        page.wait_for_selector(".slide.is-front .slide-name", timeout=10_000)
        assert page.text_content(".slide.is-front .slide-name") == FIELDS["name"]
        time.sleep(0.5)
        guard.check("the kiosk")
    finally:
        guard.close()
