"""What a person sees on a 390 px phone, a 1440 px desk and in dark mode, measured in Chromium.

A real `storywall serve` over a copy of the sample stories. Each check reads
the boxes and colours the browser laid out: the navigation is one row, the
moderators' two bars leave the screen to the queue, the search hint is whole,
the tag strip says that it scrolls, no headline ends on a lone word, a wide
story page has no empty half, and dark mode is dark where it should be (and
only there: the kiosk keeps its own look).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Wall, sign_in

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parent.parent / "stories"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def wall(tmp_path_factory) -> Iterator[Wall]:
    wall = Wall(tmp_path_factory.mktemp("layout"))
    shutil.copytree(SAMPLES, wall.stories, dirs_exist_ok=True)
    wall.add_moderator()
    wall.serve()
    yield wall
    wall.stop()


@pytest.fixture(scope="module")
def signed_in(wall: Wall, browser) -> dict:  # type: ignore[no-untyped-def]
    """A moderator's cookies, from one sign-in (sign-ins are rate limited)."""
    context = browser.new_context()
    sign_in(context.new_page(), wall.url)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def open_page(browser):  # type: ignore[no-untyped-def]
    """Open a URL in a fresh context: `open_page(url, viewport, **context_options)`."""
    contexts = []

    def open_(url: str, viewport: dict, **options):  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("networkidle")
        return page

    yield open_
    for context in contexts:
        context.close()


# The boxes of the header's links and buttons a person can see now.
HEADER_TARGETS = """() => [...document.querySelectorAll('.site-header a, .site-header button')]
  .filter((el) => el.checkVisibility())
  .map((el) => { const r = el.getBoundingClientRect();
    return { text: el.textContent.trim().replace(/\\s+/g, ' '),
             top: r.top, bottom: r.bottom, left: r.left, right: r.right }; })"""


def one_row(boxes: list[dict]) -> bool:
    """Every box shares one horizontal band: the lowest top is above the highest bottom."""
    return max(b["top"] for b in boxes) < min(b["bottom"] for b in boxes)


# -- the navigation -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["employee", "moderator"])
def test_the_navigation_is_one_row_on_a_phone_and_opens_as_a_menu(
    open_page, wall: Wall, signed_in: dict, who: str
) -> None:
    state = signed_in if who == "moderator" else None
    page = open_page(f"{wall.url}/", PHONE, storage_state=state)
    header = page.evaluate(HEADER_TARGETS)
    assert one_row(header), header
    assert all(b["right"] <= PHONE["width"] and b["left"] >= 0 for b in header), header
    assert page.locator(".site-header").bounding_box()["height"] < 80  # type: ignore[index]

    page.get_by_role("button", name="Menu").click()
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    names = [" ".join(link.text_content().split()) for link in links.all()]  # type: ignore[union-attr]
    expected = ["Stories", "Hallway screen", "Share a story"]
    assert names == expected + (["Moderation 1 waiting"] if who == "moderator" else []), names
    for link in links.all():
        box = link.bounding_box()
        assert box and box["height"] >= 44, (link.inner_text(), box)  # a thumb's worth
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["y"] + box["height"] <= PHONE["height"], box
    page.keyboard.press("Escape")
    assert not links.first.is_visible()


def test_the_navigation_is_a_row_of_links_on_a_desk(open_page, wall: Wall, signed_in) -> None:
    page = open_page(f"{wall.url}/", DESK, storage_state=signed_in)
    header = page.evaluate(HEADER_TARGETS)
    assert [b["text"] for b in header][1:] == [
        "Stories",
        "Hallway screen",
        "Share a story",
        "Moderation 1 waiting",
    ], header
    assert one_row(header), header
    assert not page.get_by_role("button", name="Menu").is_visible()


# Where a scrolling row is not faded: [left, right] in the viewport.
CLEAR_OF_FADES = """(selector) => { const row = document.querySelector(selector);
  const s = getComputedStyle(row), r = row.getBoundingClientRect();
  return [r.left + parseFloat(s.getPropertyValue('--fade-start')),
          r.right - parseFloat(s.getPropertyValue('--fade-end'))]; }"""


@pytest.mark.parametrize("path", ["/admin/", "/admin/stories", "/admin/impact", "/admin/audit"])
def test_the_moderators_two_bars_leave_a_phone_screen_to_the_work(
    open_page, wall: Wall, signed_in: dict, path: str
) -> None:
    page = open_page(wall.url + path, PHONE, storage_state=signed_in)
    nav = page.get_by_role("navigation", name="Moderation").bounding_box()
    assert nav is not None
    # Under a quarter of the first screen for both bars together (it was nearly half).
    assert nav["y"] + nav["height"] < 0.25 * PHONE["height"], nav
    # One row, which scrolls sideways, opened where the moderator is.
    tops = page.evaluate(
        "[...document.querySelectorAll('.admin-nav > a')].map((a) => a.getBoundingClientRect().top)"
    )
    assert len(set(tops)) == 1, tops
    # The moderator's own page is in view, clear of the faded edges.
    left, right = page.evaluate(CLEAR_OF_FADES, ".admin-nav")
    current = page.locator(".admin-nav > a[aria-current=page]").bounding_box()
    assert current and left <= current["x"] and current["x"] + current["width"] <= right, (
        current,
        left,
        right,
    )


# -- search and tags ------------------------------------------------------------------------------

# Whether the hint, typed into the field, fits it: the field then lays the
# words out as it lays out its hint, with the room Chromium keeps for its
# clear button (which a measurement of the text alone would miss).
HINT_FITS = """() => {
  const field = document.querySelector('#q'), typed = field.value;
  field.value = field.placeholder;
  const needs = field.scrollWidth, room = field.clientWidth;
  field.value = typed;
  return [field.placeholder, needs, room];
}"""


@pytest.mark.parametrize("width", [320, 360, 390, 1440])
def test_the_search_hint_is_whole(open_page, wall: Wall, width: int) -> None:
    page = open_page(f"{wall.url}/", {"width": width, "height": 844})
    text, needs, room = page.evaluate(HINT_FITS)
    assert text, "no hint in the search field"
    assert needs <= room, f"{text!r} needs {needs} px, the field has {room}"
    # And the search button still says what it does, to a screen reader too.
    assert page.get_by_role("button", name="Search").is_visible()


EDGES = """(strip) => { const s = getComputedStyle(strip);
  return { overflows: strip.scrollWidth > strip.clientWidth + 1,
           mask: s.maskImage || s.webkitMaskImage,
           start: parseFloat(s.getPropertyValue('--fade-start')),
           end: parseFloat(s.getPropertyValue('--fade-end')) }; }"""


def test_the_tag_strip_fades_at_the_edge_it_scrolls_to(open_page, wall: Wall) -> None:
    page = open_page(f"{wall.url}/", PHONE)
    strip = page.locator(".intro .tags").first
    edges = strip.evaluate(EDGES)
    assert edges["overflows"], "the sample tags should not fit one phone row"
    assert edges["mask"] != "none"
    assert edges["start"] == 0 and edges["end"] >= 24, edges  # faded on the right only

    strip.evaluate("(s) => { s.scrollLeft = s.scrollWidth; }")
    page.wait_for_function(
        "(s) => parseFloat(getComputedStyle(s).getPropertyValue('--fade-end')) === 0",
        arg=strip.element_handle(),
    )
    edges = strip.evaluate(EDGES)
    assert edges["start"] >= 24 and edges["end"] == 0, edges  # at the end: faded on the left


@pytest.fixture
def few_tags_wall(tmp_path) -> Iterator[Wall]:
    """A wall of one story with two tags: a strip that fits a phone row."""
    wall = Wall(tmp_path)
    story = (SAMPLES / "walter-briggs.md").read_text()
    tags = "tags: [manufacturing, maintenance, field-service, maine]"
    assert tags in story
    (wall.stories / "walter-briggs.md").write_text(story.replace(tags, "tags: [mill, maine]"))
    wall.serve()
    yield wall
    wall.stop()


def test_a_tag_strip_that_fits_fades_nowhere(open_page, few_tags_wall: Wall) -> None:
    # No hint of more when there is none.
    page = open_page(f"{few_tags_wall.url}/", PHONE)
    strip = page.get_by_role("navigation", name="Filter by tag").locator(".tags")
    assert strip.locator("li").count() == 3, strip.inner_text()  # "All" and the two
    edges = strip.evaluate(EDGES)
    assert not edges["overflows"] and edges["start"] == 0 and edges["end"] == 0, edges


# -- the story page -------------------------------------------------------------------------------

# The words of the headline, grouped into the lines the browser made of them.
HEADLINE_LINES = """() => {
  const h1 = document.querySelector('.story-heading h1'), text = h1.firstChild, lines = [];
  const range = document.createRange(), value = text.textContent;
  let at = 0;
  for (const word of value.split(/[ \\u00a0]+/)) {
    const start = value.indexOf(word, at); at = start + word.length;
    range.setStart(text, start); range.setEnd(text, at);
    const top = Math.round(range.getClientRects()[0].top);
    const line = lines.find((l) => Math.abs(l.top - top) < 4);
    if (line) line.words.push(word); else lines.push({ top, words: [word] });
  }
  return lines.map((l) => l.words.join(' '));
}"""

STORIES = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())


@pytest.mark.parametrize("width", [390, 1440])
@pytest.mark.parametrize("wrap", [None, "wrap"], ids=["as-styled", "without-balance"])
def test_no_headline_ends_on_a_lone_word(open_page, wall: Wall, width: int, wrap: str) -> None:
    """Every sample story, as styled and in a browser without `text-wrap: balance`."""
    page = open_page(f"{wall.url}/", {"width": width, "height": 900})
    lone, seen = {}, 0
    for slug in STORIES:
        if page.goto(f"{wall.url}/stories/{slug}").status == 404:  # type: ignore[union-attr]
            continue  # not on the intranet: waiting, or without consent for it
        seen += 1
        if wrap:  # what is left is the no-break space between the last two words
            page.evaluate(
                "(wrap) => document.querySelector('.story-heading h1')"
                ".style.setProperty('text-wrap', wrap, 'important')",
                wrap,
            )
        lines = page.evaluate(HEADLINE_LINES)
        if len(lines) > 1 and " " not in lines[-1]:
            lone[slug] = lines
    assert seen >= 6, seen
    assert lone == {}


def test_a_wide_story_page_has_no_empty_half(open_page, wall: Wall) -> None:
    page = open_page(f"{wall.url}/stories/maria-alvarez", DESK)
    box = {
        name: page.locator(selector).bounding_box()
        for name, selector in {
            "main": "main",
            "photo": ".story-photo",
            "heading": ".story-heading h1",
            "body": ".story-body",
        }.items()
    }
    photo, body, heading = box["photo"], box["body"], box["heading"]
    assert photo and body and heading and box["main"]
    # The words run beside the photo, from its top, not under it.
    assert heading["x"] >= photo["x"] + photo["width"], box
    assert body["x"] >= photo["x"] + photo["width"], box
    assert abs(heading["y"] - photo["y"]) < 40, box
    # Photo and words together use most of the page's width...
    used = body["x"] + body["width"] - photo["x"]
    assert used >= 0.75 * box["main"]["width"], box
    # ...and the photo stays beside the words while they are read.
    page.locator(".story-meta").scroll_into_view_if_needed()
    photo_now = page.locator(".story-photo").bounding_box()
    assert photo_now and photo_now["y"] >= 0 and photo_now["y"] < DESK["height"] / 2, photo_now


# -- dark mode ------------------------------------------------------------------------------------

# The relative luminance (0 black, 1 white) of the page's background and of its text.
LUMINANCE = """() => {
  const lum = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).slice(0, 3).map(Number).map((c) => {
      c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const s = getComputedStyle(document.body);
  return [lum(s.backgroundColor), lum(s.color)];
}"""

PAGES = ["/", "/stories/maria-alvarez", "/submit", "/thanks", "/login", "/admin/"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_follow_the_devices_dark_mode(
    open_page, wall: Wall, signed_in: dict, path: str
) -> None:
    state = signed_in if path.startswith("/admin") else None
    dark = open_page(wall.url + path, PHONE, color_scheme="dark", storage_state=state)
    background, text = dark.evaluate(LUMINANCE)
    assert background < 0.05 and text > 0.6, (background, text)
    # Form fields and scrollbars are dark too, not white boxes on a dark page.
    assert "dark" in dark.evaluate("getComputedStyle(document.documentElement).colorScheme")
    light = open_page(wall.url + path, PHONE, color_scheme="light", storage_state=state)
    background, text = light.evaluate(LUMINANCE)
    assert background > 0.8 and text < 0.05, (background, text)


def test_the_kiosk_keeps_its_own_look_in_dark_mode(open_page, wall: Wall) -> None:
    looks = []
    for scheme in ("light", "dark"):
        page = open_page(f"{wall.url}/kiosk", {"width": 1920, "height": 1080}, color_scheme=scheme)
        page.wait_for_selector(".slide.is-front")
        looks.append(
            page.evaluate(
                "(() => { const s = document.querySelector('.slide.is-front');"
                " return [getComputedStyle(document.body).backgroundColor,"
                " getComputedStyle(s).backgroundColor, getComputedStyle(s).color]; })()"
            )
        )
    assert looks[0] == looks[1], looks
