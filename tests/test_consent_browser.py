"""The customer's own page, end to end: a real gunicorn, a real Chromium, real clicks.

A story goes in through the staff form (or is written to disk), its customer
opens their private link, chooses how they are credited and where the story
may appear, corrects it, consents, declines or takes it down again; the
moderator approves and edits in the real admin. Every test asserts what a
person would see: the intranet, what the hallway screens are sent
(/api/stories), the story file, the consent evidence, the customer's page.

One server for the module: each test works on stories of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tests.browser import Wall, sign_in, wait_until

pytestmark = pytest.mark.slow


TODAY = dt.date.today()
BOUND = 2.0  # seconds: off (and back on) every screen, from the issue
SHOTS = Path("/tmp/consent-shots")
MAX_DAYS = 3 * 365  # CONSENT_MAX_DAYS, by default

# Each would set window.__xss if it ever ran.
IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload="window.__xss=1">'
JS_URL = "javascript:window.__xss=1"
INJECTED = (
    "script:not([src])",
    "img[src='x']",
    "svg[onload]",
    "[onerror]",
    "[onload]",
    "a[href^='javascript:' i]",
)


# -- the wall, the browser, the moderator ---------------------------------------------------------


@pytest.fixture(scope="module")
def wall(tmp_path_factory) -> Iterator[Wall]:
    wall = Wall(tmp_path_factory.mktemp("consent"))
    # Many submissions and answers come from one address in this module.
    wall.config('submit_rate_limit = "1000/hour"\nconsent_rate_limit = "1000/hour"\n')
    wall.add_moderator()
    wall.serve()
    yield wall
    wall.stop()


@pytest.fixture(scope="module")
def admin(wall: Wall, browser) -> Iterator:  # type: ignore[no-untyped-def]
    """A moderator's page, signed in once for the module."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, wall.url)
    yield page
    context.close()


@pytest.fixture
def customer(browser) -> Iterator:  # type: ignore[no-untyped-def]
    """The customer's phone: a fresh browser, no account, no cookies."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


# -- helpers --------------------------------------------------------------------------------------


def jpeg(path: Path) -> Path:
    Image.new("RGB", (480, 600), (150, 110, 90)).save(path, "JPEG", quality=85)
    return path


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), text[:200]
    return yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))


def story_file(wall: Wall, slug: str) -> Path:
    bundle = wall.stories / slug / "index.md"
    return bundle if bundle.exists() else wall.stories / f"{slug}.md"


def on_screens(wall: Wall) -> dict[str, dict]:
    """What the hallway screens are sent now, by slug."""
    return {s["slug"]: s for s in wall.server.json("/api/stories")["stories"]}  # type: ignore[union-attr]


def intranet(wall: Wall) -> str:
    return wall.server.get("/")[1].decode()  # type: ignore[union-attr]


def new_story(wall: Wall, slug: str, name: str, **fields: Any) -> None:
    """A story on disk, by hand: approved with staff consent unless `fields` say otherwise."""
    fields.setdefault("role", "Night-shift dispatcher")
    fields.setdefault("company", "Harbor Freight Lines")
    fields.setdefault("quote", f"{name.split()[0]} kept our trucks rolling.")
    wall.story(slug, hue=fields.pop("hue", None), name=name, **fields)


def make_link(admin, wall: Wall, slug: str) -> str:  # type: ignore[no-untyped-def]
    """The moderator makes the customer's link from the story page; it is shown once."""
    admin.goto(f"{wall.url}/admin/stories/{slug}")
    admin.click(f"#customer form[action='/admin/stories/{slug}/link'] button")
    admin.wait_for_url(f"**/admin/stories/{slug}/link")
    link = admin.input_value("#customer-link")
    assert link.startswith(f"{wall.url}/consent/"), link
    return link


def press(page, action: str):  # type: ignore[no-untyped-def]
    """Press one of the customer's buttons; the response to the form, once the page is in."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and "/consent/" in r.url
    ) as answer:
        page.click(f"button[name=action][value={action}]")
    page.wait_for_load_state()
    return answer.value


def agree(page, link: str, signature: str, **choices: Any) -> None:  # type: ignore[no-untyped-def]
    """Open the link, make the choices, sign and press "I agree"."""
    page.goto(link)
    choose(page, **choices)
    page.fill("#signature", signature)
    response = press(page, "consent")
    assert response.status == 303, (response.status, page.inner_text("main")[:2000])
    page.wait_for_url("**done=*")
    assert page.locator(".notice[role=status]").count() == 1, page.inner_text("main")[:2000]


def choose(  # type: ignore[no-untyped-def]
    page,
    *,
    places: tuple[str, ...] | None = None,
    credit: str | None = None,
    photo: str | None = None,
    until: str | None = None,
    **corrections: str,
) -> None:
    if places is not None:
        for place in ("hallway", "intranet"):
            page.set_checked(f"input[name=places][value={place}]", place in places)
    if credit is not None:
        page.check(f"input[name=credit][value={credit}]")
    if photo is not None:
        page.check(f"input[name=photo][value={photo}]")
    if until is not None:
        page.fill("#until", until)
    for field, value in corrections.items():
        page.fill(f"#{field}", value)


def approve(admin, wall: Wall, slug: str) -> None:  # type: ignore[no-untyped-def]
    admin.goto(f"{wall.url}/admin/stories/{slug}")
    admin.locator(f"form[action='/admin/stories/{slug}/approve'] button").first.click()
    admin.wait_for_load_state()
    assert "approved" in admin.inner_text(".notice"), admin.inner_text("main")[:2000]


def evidence(admin, wall: Wall, slug: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = admin.context.request.get(f"{wall.url}/admin/stories/{slug}/consent.json")
    assert response.status == 200, response.status
    return response.json()


def status(url: str) -> tuple[int, dict[str, str], str]:
    """A GET without a browser: status, headers and text, also for error answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def within_bound(started: float, predicate, what: str):  # type: ignore[no-untyped-def]
    """Poll until `predicate` holds, failing once BOUND seconds have passed since `started`."""
    return wait_until(predicate, max(0.0, BOUND - (time.monotonic() - started)), what, step=0.02)


def no_script_ran(page, where: str) -> None:  # type: ignore[no-untyped-def]
    for frame in page.frames:
        ran = frame.evaluate("typeof window.__xss === 'undefined' ? null : window.__xss")
        assert ran is None, f"{where}: a payload ran in {frame.url}"
        for selector in INJECTED:
            assert frame.query_selector(selector) is None, f"{where}: {selector} in {frame.url}"


def no_overflow(page, where: str) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"{where}: {width}px wide at 390px: scrolls sideways"


# -- 1. submit → link → "Maria A.", no photo, intranet only → approve -----------------------------


def test_customer_chooses_short_name_no_photo_intranet_only(
    wall: Wall, browser, admin, customer, tmp_path: Path
) -> None:
    # A colleague shares the story through the real form, with a photo.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        staff = context.new_page()
        staff.goto(f"{wall.url}/submit")
        for field, value in {
            "name": "Maria Alvarez",
            "role": "Swing-shift foreman",
            "company": "Ridgeway Foundry",
            "location": "Dayton, Ohio",
            "title": "She stopped line 3 for us",
            "quote": "When your part runs late, my crew goes home late.",
            "body": "Maria runs the swing shift.\n\nShe called us at 2 a.m.",
            "tags": "manufacturing, dayton",
            "photo_alt": "Maria on the foundry floor",
            "consent_given_by": "Maria Alvarez",
            "consent_date": TODAY.isoformat(),
            "submitted_by": "Sam Ortiz",
            "submitter_email": "sam.ortiz@example.com",
        }.items():
            staff.fill(f"#{field}", value)
        staff.check("input[name=consent_scope][value=hallway]")
        staff.check("input[name=consent_scope][value=intranet]")
        staff.set_input_files("#photo", str(jpeg(tmp_path / "maria.jpg")))
        staff.click("button[value=send]")
        staff.wait_for_url("**/submit/thanks/**")
        slug = staff.url.rsplit("/", 1)[1]
        link = staff.input_value("input#customer-link")
        assert link.startswith(f"{wall.url}/consent/"), link
    finally:
        context.close()
    assert front_matter(story_file(wall, slug)).get("photo"), "the photo was not kept"

    # The customer: first name and last initial, no photo, intranet only.
    customer.goto(link)
    assert customer.locator("input[name=photo]").count() == 2  # their photo is there to hide
    choose(customer, places=("intranet",), credit="short", photo="hide")
    assert press(customer, "preview").status == 200
    assert customer.inner_text(".card-preview .card-name") == "Maria A."
    assert customer.locator(".card-preview img").count() == 0
    customer.fill("#signature", "Maria Alvarez")
    assert press(customer, "consent").status == 303
    assert "Your consent is recorded" in customer.inner_text(".notice[role=status]")

    # Not on any screen before a moderator approves.
    assert slug not in on_screens(wall)
    approve(admin, wall, slug)

    # The intranet shows "Maria A.", with her initials, not her photo.
    page = admin.context.new_page()
    try:
        wait_until(lambda: "Maria A." in intranet(wall), 5, "Maria A. on the intranet")
        page.goto(f"{wall.url}/")
        card = page.locator("article.card", has=page.locator(f"a[href='/stories/{slug}']"))
        assert card.count() == 1
        assert card.locator(".card-name").inner_text() == "Maria A."
        assert card.locator("img").count() == 0, "her photo is on the card"
        assert card.locator(".photo.initials").count() == 1
        assert "Alvarez" not in page.inner_text("main")
        page.goto(f"{wall.url}/stories/{slug}")
        assert "Alvarez" not in page.inner_text("main")
        assert page.locator("main img").count() == 0, "her photo is on the story page"
    finally:
        page.close()

    # Her photo is not served to anyone on the intranet, whatever the address.
    assert status(f"{wall.url}/photos/{slug}/x/960.jpg")[0] == 404

    # No hallway screen is sent it (asked several times: either worker may answer).
    for _ in range(6):
        assert slug not in on_screens(wall)

    # The file says what she chose; the evidence binds it to what she saw.
    consent = front_matter(story_file(wall, slug))["consent"]
    assert consent["by"] == "customer"
    assert consent["credit"] == "short"
    assert consent["photo"] is False
    assert consent["scope"] == ["intranet"]
    record = evidence(admin, wall, slug)
    consented = [r for r in record["records"] if r["event"] == "consented"]
    assert len(consented) == 1
    assert consented[0]["content_hash"].startswith("sha256:")
    assert consented[0]["statement_version"] == 1
    assert consented[0]["content"]["name"] == "Maria A."
    assert consented[0]["content"]["photo"] == ""
    assert consented[0]["signature"] == "Maria Alvarez"
    assert consent["content"] == consented[0]["content_hash"] == record["story"]["content_hash_now"]
    assert record["story"]["shown"] == {"hallway": False, "intranet": True}


# -- 2. the customer corrects their quote → moderation with a before/after → approve --------------


def test_customer_correction_goes_back_to_moderation_and_consent_holds(
    wall: Wall, admin, customer
) -> None:
    slug = "dev-patel"
    before = "Payroll ran on time, every time."
    after = "Payroll ran on time for 400 drivers, every single week."
    new_story(wall, slug, "Dev Patel", quote=before)
    wait_until(lambda: slug in on_screens(wall), 5, "Dev on the screens")
    link = make_link(admin, wall, slug)

    agree(customer, link, "Dev Patel", quote=after)
    assert "moderator checks the changes" in customer.inner_text(".notice[role=status]")

    # Back in moderation: off the screens, pending, with a before/after for the moderator.
    wait_until(lambda: slug not in on_screens(wall), BOUND, "Dev off the screens")
    assert front_matter(story_file(wall, slug))["status"] == "pending"
    admin.goto(f"{wall.url}/admin/stories/{slug}")
    assert admin.text_content(".story-admin-header .status") == "pending"
    row = admin.locator("#customer table.comparison tbody tr")
    assert row.count() == 1
    assert row.locator("th").inner_text() == "TV line"
    assert [c.strip() for c in row.locator("td").all_inner_texts()] == [before, after]

    approve(admin, wall, slug)
    shown = wait_until(lambda: on_screens(wall).get(slug), BOUND, "Dev back on the screens")
    assert shown["quote"] == after
    record = evidence(admin, wall, slug)
    consent = record["story"]["consent_in_file"]
    assert consent["by"] == "customer"
    assert consent["content"] == record["story"]["content_hash_now"]  # it was for this text
    admin.goto(f"{wall.url}/admin/stories/{slug}")
    assert "for exactly this version" in admin.inner_text("#customer .consent-kind")


# -- 3. a moderator edits a customer-confirmed quote → off → the customer confirms → back ---------


def test_moderator_edit_makes_consent_stale_until_the_customer_confirms(
    wall: Wall, admin, customer
) -> None:
    slug = "lena-fischer"
    new_story(wall, slug, "Lena Fischer", quote="They answered at midnight.")
    link = make_link(admin, wall, slug)
    agree(customer, link, "Lena Fischer")  # no corrections: stays approved, customer-confirmed
    wait_until(lambda: slug in on_screens(wall), BOUND, "Lena on the screens")
    assert front_matter(story_file(wall, slug))["consent"]["by"] == "customer"

    # The moderator changes the quote: warned first, nothing saved.
    admin.goto(f"{wall.url}/admin/stories/{slug}/edit")
    admin.fill("#quote", "They answered the phone at midnight, on a Sunday.")
    admin.click("form.story-form button[type=submit].primary")
    admin.wait_for_load_state()
    warning = admin.inner_text("#stale")
    assert "Lena Fischer agreed to" in warning and "Nothing was saved" in warning
    assert "at midnight, on a Sunday" not in story_file(wall, slug).read_text()
    assert slug in on_screens(wall)

    admin.check("input[name=stale_ok]")
    started = time.monotonic()
    admin.click("form.story-form button[type=submit].primary")
    admin.wait_for_url(f"**/admin/stories/{slug}")
    within_bound(started, lambda: slug not in on_screens(wall), "Lena off the screens")
    within_bound(started, lambda: "Lena Fischer" not in intranet(wall), "Lena off the intranet")
    assert "consented to an earlier version" in admin.inner_text("#customer .consent-kind")

    # The customer opens the same link: what changed, then and now.
    customer.goto(link)
    changed = customer.locator(".consent-status table.comparison")
    assert "changed since you agreed" in customer.inner_text(".consent-status")
    assert changed.locator("tbody tr").count() == 1
    assert changed.locator("tbody th").inner_text() == "Words on the screen"
    cells = changed.locator("tbody tr td").all_inner_texts()
    assert cells == [
        "They answered at midnight.",
        "They answered the phone at midnight, on a Sunday.",
    ]
    customer.fill("#signature", "Lena Fischer")
    started = time.monotonic()
    assert press(customer, "consent").status == 303
    shown = within_bound(started, lambda: on_screens(wall).get(slug), "Lena back on the screens")
    assert shown["quote"] == "They answered the phone at midnight, on a Sunday."
    within_bound(started, lambda: "Lena Fischer" in intranet(wall), "Lena back on the intranet")
    customer.goto(link)
    assert customer.locator(".consent-status table.comparison").count() == 0


# -- 4. tokens ------------------------------------------------------------------------------------


def test_wrong_revoked_and_garbled_links_get_the_same_plain_404(
    wall: Wall, admin, customer
) -> None:
    slug = "omar-haddad"
    new_story(wall, slug, "Omar Haddad")
    first = make_link(admin, wall, slug)
    token = first.rsplit("/", 1)[1]
    assert len(token) >= 22  # 128 bits and more, base64url
    kept = b"".join(p.read_bytes() for p in wall.instance.glob("storywall.db*"))
    assert token.encode() not in kept  # only its hash is stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in kept

    response = customer.goto(first)
    assert response.status == 200
    headers = response.headers
    assert headers["referrer-policy"] == "no-referrer"
    assert "no-store" in headers["cache-control"]

    second = make_link(admin, wall, slug)  # a new link stops the old one
    assert second != first
    answers = {
        "wrong": f"{wall.url}/consent/{secrets.token_urlsafe(24)}",
        "revoked": first,
        "garbled": f"{wall.url}/consent/{token[:10]}%3C%3E%21{token[10:]}",
        "truncated": f"{wall.url}/consent/{token[:12]}",
    }
    pages = {}
    for what, url in answers.items():
        response = customer.goto(url)
        assert response.status == 404, what
        assert "no-store" in response.headers["cache-control"], what
        assert response.headers["referrer-policy"] == "no-referrer", what
        assert customer.locator("nav").count() == 0, what
        # The skip link (#main) stays on the page; nothing else may lead anywhere.
        out = customer.locator("a[href]:not([href^='#'])")
        assert out.count() == 0, f"{what}: a link out of the page"
        assert "Traceback" not in customer.content()
        pages[what] = (customer.title(), customer.inner_text("main"))
    assert len(set(pages.values())) == 1, pages
    assert "This link does not work" in pages["wrong"][1]

    assert customer.goto(second).status == 200
    # "Stop this link" stops the newest too.
    admin.goto(f"{wall.url}/admin/stories/{slug}")
    admin.click(f"#customer form[action='/admin/stories/{slug}/link/revoke'] button")
    admin.wait_for_load_state()
    response = customer.goto(second)
    assert response.status == 404
    assert (customer.title(), customer.inner_text("main")) == pages["wrong"]


# -- 5. without JavaScript, at 390 px; screenshots of every state ---------------------------------


def test_customer_page_works_without_javascript_and_fits_a_phone(
    wall: Wall, browser, admin
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    new_story(wall, "grace-okafor", "Grace Okafor", hue=0.55, status="pending")
    new_story(wall, "ivan-petrov", "Ivan Petrov", status="pending")
    link = make_link(admin, wall, "grace-okafor")
    other = make_link(admin, wall, "ivan-petrov")

    plain = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    measured = browser.new_context(viewport={"width": 390, "height": 844})
    wide = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        page, ruler = plain.new_page(), measured.new_page()

        def shot(name: str, url: str | None = None) -> None:
            page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
            if url is not None:
                ruler.goto(url)
                ruler.wait_for_load_state("networkidle")
                no_overflow(ruler, name)

        page.goto(link)
        tv = page.frame_locator("iframe[title*='wide hallway screen']")
        assert tv.locator(".slide-name").first.inner_text() == "Grace Okafor"
        shot("1-fresh", link)
        wide_page = wide.new_page()
        wide_page.goto(link)
        wide_page.screenshot(path=str(SHOTS / "1-fresh-1280.png"), full_page=True)

        choose(page, credit="short")
        assert press(page, "preview").status == 200
        assert page.inner_text(".card-preview .card-name") == "Grace O."
        for title in ("wide", "tall"):
            slide = page.frame_locator(f"iframe[title*='{title} hallway screen']")
            assert slide.locator(".slide-name").first.inner_text() == "Grace O."
        assert page.is_checked("input[name=credit][value=short]")
        shot("2-preview-short")
        ruler.goto(link)
        ruler.check("input[name=credit][value=short]")
        ruler.click("button[name=action][value=preview]")
        ruler.wait_for_load_state("networkidle")
        no_overflow(ruler, "2-preview-short")

        page.fill("#signature", "Grace Okafor")
        assert press(page, "consent").status == 303
        assert "Your consent is recorded" in page.inner_text(".notice[role=status]")
        assert "You agreed on" in page.inner_text(".consent-status")
        shot("3-consented", page.url)

        assert press(page, "withdraw").status == 303
        assert "taken down" in page.inner_text(".notice[role=status]")
        assert "Your story is down" in page.inner_text(".consent-status")
        shot("4-withdrawn", page.url)

        page.goto(other)
        assert press(page, "decline").status == 303
        assert "will not be shown anywhere" in page.inner_text(".notice[role=status]")
        shot("5-declined", page.url)

        missing = f"{wall.url}/consent/{secrets.token_urlsafe(24)}"
        assert page.goto(missing).status == 404
        shot("6-not-found", missing)

        file = front_matter(story_file(wall, "grace-okafor"))
        assert file["consent"]["withdrawn"] == TODAY
        assert front_matter(story_file(wall, "ivan-petrov"))["consent"]["withdrawn"] == TODAY
    finally:
        for context in (plain, measured, wide):
            context.close()


# -- 6. hostile input is text everywhere ----------------------------------------------------------


def test_hostile_corrections_and_signature_are_shown_as_text(wall: Wall, admin, customer) -> None:
    slug = "kim-lee"
    new_story(wall, slug, "Kim Lee", status="pending")
    link = make_link(admin, wall, slug)
    name = f"Kim {IMG}"
    role = f"Role {SVG} {JS_URL}"
    quote = f"Quote {SCRIPT}"
    suggestion = f"Please fix {IMG} and {SCRIPT} and {SVG} and [this]({JS_URL}) and <{JS_URL}>"
    signature = f"Kim {SVG}"

    def check(page, where: str) -> None:  # type: ignore[no-untyped-def]
        page.wait_for_load_state("networkidle")
        no_script_ran(page, where)

    customer.goto(link)
    choose(customer, name=name, role=role, quote=quote, suggestion=suggestion)
    assert press(customer, "preview").status == 200
    check(customer, "the customer's preview")
    assert customer.inner_text(".card-preview .card-name") == name
    assert customer.input_value("#suggestion").strip() == suggestion
    for title in ("wide", "tall"):
        slide = customer.frame_locator(f"iframe[title*='{title} hallway screen']")
        assert slide.locator(".slide-name").first.inner_text() == name
        assert slide.locator(".slide-quote").first.inner_text().strip('“”" ') == quote

    customer.fill("#signature", signature)
    assert press(customer, "consent").status == 303
    check(customer, "the customer's page, after consenting")
    assert customer.inner_text(".card-preview .card-name") == name

    admin.goto(f"{wall.url}/admin/stories/{slug}")
    check(admin, "the admin story page")
    table = admin.inner_text("#customer table.comparison")
    for text in (name, role, quote):
        assert text in table
    assert admin.inner_text("#customer blockquote.suggestion").strip() == suggestion
    tv = admin.frame_locator(".tv-frame--landscape")
    assert tv.locator(".slide.is-front .slide-name").inner_text(timeout=10_000) == name

    admin.goto(f"{wall.url}/admin/stories/{slug}/consent")
    check(admin, "the printable record")
    record = admin.inner_text("main")
    for text in (signature, quote, suggestion):
        assert text in record
    admin.goto(f"{wall.url}/admin/stories/{slug}/tv")
    admin.wait_for_selector(".slide.is-front .slide-name", timeout=10_000)
    check(admin, "the admin TV preview")
    admin.goto(f"{wall.url}/admin/audit?slug={slug}")
    check(admin, "the audit log")
    assert signature in admin.inner_text(".audit")


# -- 7. bad input: a clear answer, nothing lost ---------------------------------------------------


def test_bad_answers_are_explained_and_nothing_typed_is_lost(wall: Wall, admin, customer) -> None:
    slug = "rosa-diaz"
    new_story(wall, slug, "Rosa Diaz", status="pending")
    link = make_link(admin, wall, slug)
    original = story_file(wall, slug).read_text()
    until = (TODAY + dt.timedelta(days=200)).isoformat()
    typed = {
        "name": "Rosa María Díaz",
        "role": "Head dispatcher",
        "quote": "They picked up on the first ring.",
        "suggestion": "It was 2019, not 2018.",
    }

    def kept(signature: str = "") -> None:
        assert customer.is_checked("input[name=places][value=intranet]")
        assert not customer.is_checked("input[name=places][value=hallway]")
        assert customer.is_checked("input[name=credit][value=short]")
        for field, value in typed.items():
            assert customer.input_value(f"#{field}").strip() == value, field
        assert customer.input_value("#signature") == signature

    # An empty signature.
    customer.goto(link)
    choose(customer, places=("intranet",), credit="short", until=until, **typed)
    assert press(customer, "consent").status == 400
    assert "Type your name to sign" in customer.inner_text("#signature-error")
    assert customer.locator("#signature-error").is_visible()
    assert customer.get_attribute("#signature", "aria-invalid") == "true"
    kept()
    assert customer.input_value("#until") == until

    # An expiry past the latest allowed day.
    latest = TODAY + dt.timedelta(days=MAX_DAYS)
    customer.fill("#until", (latest + dt.timedelta(days=1)).isoformat())
    customer.fill("#signature", "Rosa Díaz")
    assert press(customer, "consent").status == 400
    assert latest.isoformat() in customer.inner_text("#until-error")
    kept("Rosa Díaz")
    assert customer.input_value("#until") == (latest + dt.timedelta(days=1)).isoformat()

    # A quote over the limit (from a browser that ignores maxlength).
    customer.fill("#until", until)
    customer.evaluate("document.querySelector('#quote').removeAttribute('maxlength')")
    long = "We waited. " * 19 + "It came."  # 217 characters
    customer.fill("#quote", long)
    assert press(customer, "consent").status == 400
    assert "200" in customer.inner_text("#quote-error")
    assert customer.input_value("#quote") == long
    assert story_file(wall, slug).read_text() == original  # nothing recorded on the way

    # The moderator deletes the story while the page is open: a plain answer, no 500.
    customer.fill("#quote", typed["quote"])
    admin.goto(f"{wall.url}/admin/stories/{slug}/delete")
    admin.click("button.danger")
    admin.wait_for_load_state()
    assert not (wall.stories / slug).exists()
    response = press(customer, "consent")
    assert response.status == 404
    assert "This story is no longer on our walls" in customer.inner_text("main")
    assert customer.locator("a[href]:not([href^='#'])").count() == 0
    assert "Traceback" not in customer.content()

    # Its folder removed on disk while the page is open: the same.
    slug = "tom-berg"
    new_story(wall, slug, "Tom Berg", status="pending")
    link = make_link(admin, wall, slug)
    customer.goto(link)
    customer.fill("#signature", "Tom Berg")
    shutil.rmtree(wall.stories / slug)
    response = press(customer, "consent")
    assert response.status == 404
    assert "This story is no longer on our walls" in customer.inner_text("main")
    assert "Traceback" not in customer.content()
    customer.goto(link)
    assert "This story is no longer on our walls" in customer.inner_text("main")


# -- 8. one click takes it down -------------------------------------------------------------------


def test_take_my_story_down_in_one_click(wall: Wall, admin, customer) -> None:
    slug = "ana-souza"
    new_story(wall, slug, "Ana Souza")
    link = make_link(admin, wall, slug)
    agree(customer, link, "Ana Souza")
    wait_until(lambda: slug in on_screens(wall), BOUND, "Ana on the screens")
    wait_until(lambda: "Ana Souza" in intranet(wall), BOUND, "Ana on the intranet")

    customer.goto(link)
    started = time.monotonic()
    with customer.expect_response(lambda r: r.request.method == "POST"):
        customer.click("button[name=action][value=withdraw]")
    within_bound(started, lambda: slug not in on_screens(wall), "Ana off the screens")
    within_bound(started, lambda: "Ana Souza" not in intranet(wall), "Ana off the intranet")
    for _ in range(6):  # either worker
        assert slug not in on_screens(wall)
        assert "Ana Souza" not in intranet(wall)
    customer.wait_for_url("**done=withdrawn")
    assert "taken down" in customer.inner_text(".notice[role=status]")
    assert customer.locator("#takedown-heading").count() == 0  # nothing left to take down

    assert front_matter(story_file(wall, slug))["consent"]["withdrawn"] == TODAY
    admin.goto(f"{wall.url}/admin/audit?slug={slug}")
    rows = [r.lower() for r in admin.locator(".audit tbody tr").all_inner_texts()]
    assert any("customer withdrew" in r for r in rows), rows
    record = evidence(admin, wall, slug)
    assert [r["event"] for r in record["records"]] == ["consented", "withdrew"]
    assert record["story"]["shown"] == {"hallway": False, "intranet": False}
    assert json.dumps(record)  # the evidence stays downloadable after withdrawal


# -- the previews are shaped like the screens they stand for --------------------------------------


@pytest.mark.parametrize("width", [390, 1280])
def test_tv_previews_are_shaped_like_the_screens(wall: Wall, browser, admin, width: int) -> None:
    """The wide preview is a 16:9 screen filling the column, the tall one 9:16, each with
    its caption under it, not over the slide."""
    slug = f"noor-shah-{width}"
    new_story(wall, slug, "Noor Shah", hue=0.3, status="pending")
    link = make_link(admin, wall, slug)
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(link)
        column = page.locator(".consent-page h1").bounding_box()
        for title, ratio in (("wide", 16 / 9), ("tall", 9 / 16)):
            frame = page.locator(f"iframe[title*='{title} hallway screen']")
            frame.scroll_into_view_if_needed()
            box = frame.bounding_box()
            caption = page.locator("figure", has=frame).locator("figcaption").bounding_box()
            assert box and caption and column
            assert abs(box["width"] / box["height"] - ratio) < 0.05, (title, box)
            assert caption["y"] >= box["y"] + box["height"] - 1, (title, box, caption)
            if title == "wide" and width == 390:
                assert box["width"] >= column["width"] - 2, (box, column)
    finally:
        context.close()
