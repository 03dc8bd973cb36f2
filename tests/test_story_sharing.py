"""A story's link, pasted into chat: Open Graph and Twitter card tags, and the copy-link box."""

from __future__ import annotations

import datetime as dt
import io
from html.parser import HTMLParser

import pytest
from PIL import Image

from tests.conftest import TODAY


class MetaTags(HTMLParser):
    """The page's <meta property|name=... content=...> tags, and its inputs by id."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.buttons: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (key := a.get("property") or a.get("name")):
            self.meta.setdefault(key, []).append(a.get("content") or "")
        elif tag == "input" and a.get("id"):
            self.inputs[a["id"] or ""] = a
        elif tag == "button":
            self.buttons.append(a)


def page(client, slug: str) -> MetaTags:
    response = client.get(f"/stories/{slug}")
    assert response.status_code == 200
    tags = MetaTags()
    tags.feed(response.get_data(as_text=True))
    return tags


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1600, 2000), (180, 120, 90)).save(out, "JPEG")
    return out.getvalue()


def consent(**fields: object) -> dict[str, object]:
    return {
        "given_by": "Maria Alvarez",
        "date": (TODAY - dt.timedelta(days=40)).isoformat(),
        "scope": ["hallway", "intranet"],
        **fields,
    }


@pytest.fixture
def shared(app, write_story):
    """Maria with a photo she lets us show; Dev, whose consent keeps his photo off."""
    for slug, name, allowed in [("maria", "Maria Alvarez", True), ("dev", "Dev Patel", False)]:
        path = write_story(
            slug,
            name=name,
            role="Swing-shift foreman",
            company="Ridgeway Foundry",
            photo="photo.jpg",
            consent=consent(given_by=name, photo=allowed),
        )
        (path.parent / "photo.jpg").write_bytes(_jpeg())
    write_story("ana", name="Ana Ruiz", credit="short", consent=consent(credit="short"))
    app.extensions["storywall"].index.rescan()
    return app


def test_a_story_with_its_photo_has_a_large_card(client, shared) -> None:
    tags = page(client, "maria")
    one = {key: values[0] for key, values in tags.meta.items()}
    assert all(len(v) == 1 for v in tags.meta.values()), "each tag once"
    assert one["og:title"] == "Maria Alvarez, Swing-shift foreman, Ridgeway Foundry"
    assert one["og:description"] == "When your part runs late, my crew goes home late."
    assert one["og:url"] == "http://localhost/stories/maria"
    assert one["twitter:card"] == "summary_large_image"
    image = one["og:image"]
    assert image.startswith("http://localhost/photos/maria/") and image.endswith("/1200.jpg")
    assert one["twitter:image"] == image and one["og:image:alt"]
    # The image is there, a 1200-wide JPEG, never the original file.
    with client.get(image.removeprefix("http://localhost")) as response:
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert Image.open(io.BytesIO(response.data)).size == (1200, 1500)
    # Only that one extra size: 1200 px in WebP, or other widths, are not made.
    assert client.get(image.removeprefix("http://localhost")[:-3] + "webp").status_code == 404
    assert client.get(image.removeprefix("http://localhost")[:-8] + "1201.jpg").status_code == 404


def test_a_photo_hidden_by_consent_is_not_in_the_card(client, shared) -> None:
    tags = page(client, "dev")
    assert tags.meta["og:title"] == ["Dev Patel, Swing-shift foreman, Ridgeway Foundry"]
    assert tags.meta["og:url"] == ["http://localhost/stories/dev"]
    assert tags.meta["twitter:card"] == ["summary"]
    assert not any("image" in key for key in tags.meta), tags.meta
    html = client.get("/stories/dev").get_data(as_text=True)
    assert "/photos/dev/" not in html


def test_the_card_credits_the_name_as_the_customer_chose(client, shared) -> None:
    tags = page(client, "ana")
    assert tags.meta["og:title"] == ["Ana R., Swing-shift foreman, Ridgeway Foundry"]
    assert "Ruiz" not in str(tags.meta)


def test_the_card_uses_the_public_address(app, client, shared) -> None:
    app.config["PUBLIC_URL"] = "https://wall.example.com/"
    tags = page(client, "maria")
    assert tags.meta["og:url"] == ["https://wall.example.com/stories/maria"]
    assert tags.meta["og:image"][0].startswith("https://wall.example.com/photos/maria/")


def test_the_story_page_offers_its_link_to_copy(client, shared) -> None:
    tags = page(client, "maria")
    box = tags.inputs["story-link"]
    assert box["value"] == "http://localhost/stories/maria" and "readonly" in box
    # The button needs JavaScript (copy.js shows it); without, the link can be selected.
    (button,) = [b for b in tags.buttons if b.get("data-copy") == "story-link"]
    assert "hidden" in button
    assert "copy.js" in client.get("/stories/maria").get_data(as_text=True)
