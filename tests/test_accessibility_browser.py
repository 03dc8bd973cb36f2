"""Every page people use, checked by axe-core for WCAG 2.2 A and AA, at phone and desk widths,
light and dark.

A real `storywall serve` over a copy of the sample stories, a real Chromium,
a signed-in moderator for the admin; axe-core comes bundled with
axe-playwright-python, so nothing is fetched. Each page is checked again as a
device set to dark mode sees it (`prefers-color-scheme: dark`), contrast and
all. A failure lists each rule, its impact and the elements that break it.
The skip link is checked by hand: axe cannot press Tab.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Wall, sign_in
from tests.conftest import MODERATOR
from wall.core import Wall as Core
from wall.settings import load_settings

pytestmark = pytest.mark.slow

axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

SAMPLES = Path(__file__).resolve().parent.parent / "stories"
STORY = "maria-alvarez"
NO_ALT = "noor-haddad"
# Width and colour scheme: every axe check runs in each.
LOOKS = {
    "390px": (390, "light"),
    "1280px": (1280, "light"),
    "390px-dark": (390, "dark"),
    "1280px-dark": (1280, "dark"),
}
# Checks of behaviour, not of colour, run in the light ones only.
LIGHT = [name for name, (_, scheme) in LOOKS.items() if scheme == "light"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

PUBLIC = {
    "wall": "/",
    "story": f"/stories/{STORY}",
    "submit": "/submit",
    "login": "/login",
    "thanks": "/thanks",
    "not-found": "/no-such-page",
}
ADMIN = {
    "queue": "/admin/",
    "all-stories": "/admin/stories",
    "admin-story": f"/admin/stories/{STORY}",
    "admin-story-no-alt": f"/admin/stories/{NO_ALT}",
    "edit": f"/admin/stories/{STORY}/edit",
    "problems": "/admin/problems",
    "expiring": "/admin/expiring",
    "screens": "/admin/screens",
    "outbox": "/admin/outbox",
    "settings": "/admin/settings",
    "audit": "/admin/audit",
    "impact": "/admin/impact",
}


@pytest.fixture(scope="module")
def wall(tmp_path_factory) -> Iterator[Wall]:
    wall = Wall(tmp_path_factory.mktemp("a11y"))
    shutil.copytree(SAMPLES, wall.stories, dirs_exist_ok=True)
    # Waiting in the queue, with a photo and no description of it.
    wall.story(NO_ALT, hue=0.3, name="Noor Haddad", status="pending")
    wall.config('submit_rate_limit = "1000/hour"\nconsent_rate_limit = "1000/hour"\n')
    wall.add_moderator()
    core = Core.from_settings(
        load_settings(
            {"STORIES_DIR": str(wall.stories), "INSTANCE_PATH": str(wall.instance), "WATCH": "off"},
            environ={},
        )
    )
    wall.consent_link = core.consent.make_link(STORY, MODERATOR[0])  # type: ignore[attr-defined]
    wall.serve()
    yield wall
    wall.stop()


@pytest.fixture(scope="module")
def moderator(wall: Wall, browser) -> dict:  # type: ignore[no-untyped-def]
    """A signed-in moderator's cookies: one sign-in for the module (sign-ins are rate limited)."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, wall.url)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(params=list(LOOKS))
def page(request, browser) -> Iterator:  # type: ignore[no-untyped-def]
    width, scheme = LOOKS[request.param]
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(params=list(LOOKS))
def admin(request, browser, moderator: dict) -> Iterator:  # type: ignore[no-untyped-def]
    width, scheme = LOOKS[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, storage_state=moderator
    )
    page = context.new_page()
    yield page
    context.close()


def check(page, where: str) -> None:  # type: ignore[no-untyped-def]
    """Fail, listing every violation, unless axe finds none on the page as it is now."""
    # Lazy frames (the TV previews) load once on screen; axe does not enter
    # frames by itself here, so each is checked as a document of its own.
    for frame in page.locator("iframe").all():
        frame.scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")
    lines = []
    for frame in page.frames:
        frame.wait_for_load_state()
        results = axe_api.Axe().run(frame, options={"runOnly": {"type": "tag", "values": WCAG}})
        assert results.response["passes"], f"axe checked nothing in {frame.url}"
        inside = "" if frame == page.main_frame else f"in the frame {frame.url}: "
        for violation in results.response["violations"]:
            lines.append(f"{inside}{violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"]:
                lines.append(f"    {' '.join(map(str, node['target']))}")
    report = "\n".join(lines)
    if lines:
        print(f"{where}:\n{report}")
    assert not lines, f"axe found violations on {where}:\n{report}"


@pytest.mark.parametrize("name", PUBLIC)
def test_public_page(page, wall: Wall, name: str) -> None:
    page.goto(wall.url + PUBLIC[name])
    check(page, PUBLIC[name])


@pytest.mark.parametrize("name", ADMIN)
def test_admin_page(admin, wall: Wall, name: str) -> None:
    admin.goto(wall.url + ADMIN[name])
    assert "/login" not in admin.url, "not signed in"
    check(admin, ADMIN[name])


def test_consent_page(page, wall: Wall) -> None:
    page.goto(f"{wall.url}/consent/{wall.consent_link}")  # type: ignore[attr-defined]
    check(page, "/consent/<token>")


def test_submit_with_errors(page, wall: Wall) -> None:
    page.goto(f"{wall.url}/submit")
    # The browser's own checks would stop an empty form: let the server answer.
    page.evaluate("document.querySelector('form').noValidate = true")
    page.click("button[value=send]")
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() > 0, "no errors shown"
    check(page, "/submit (with errors)")


def test_consent_page_with_errors_and_preview(page, wall: Wall) -> None:
    page.goto(f"{wall.url}/consent/{wall.consent_link}")  # type: ignore[attr-defined]
    page.click("button[value=consent]")  # no signature
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() > 0, "no errors shown"
    check(page, "/consent/<token> (with errors)")
    page.click("button[value=preview]")
    page.wait_for_load_state()
    check(page, "/consent/<token> (preview)")


def test_thanks_with_errors(page, wall: Wall) -> None:
    page.goto(f"{wall.url}/thanks")
    page.click("button[value=send]")
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() > 0, "no errors shown"
    check(page, "/thanks (with errors)")


def test_login_with_errors(page, wall: Wall) -> None:
    page.goto(f"{wall.url}/login")
    page.fill("#name", "nobody")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    check(page, "/login (wrong password)")


def test_submit_thank_you(page, wall: Wall, tmp_path: Path) -> None:
    page.goto(f"{wall.url}/submit")
    for field, value in {
        "name": "Ana Ruiz",
        "role": "Plant manager",
        "company": "Ridgeway Foundry",
        "title": "She kept the line running",
        "quote": "You answered at 2 a.m.",
        "body": "Ana runs the plant.\n\nShe called us at night.",
        "consent_given_by": "Ana Ruiz",
        "consent_date": "2026-01-05",
        "submitted_by": "Sam Ortiz",
        "submitter_email": "sam.ortiz@example.com",
    }.items():
        page.fill(f"#{field}", value)
    page.check("input[name=consent_scope][value=intranet]")
    page.click("button[value=send]")
    page.wait_for_url("**/submit/thanks/**")
    check(page, "/submit/thanks/<slug>")


# Each form's error summary: announced, and every problem named with a link to
# its field; each field in error described by its own message.
ERRORS = """() => {
  const summary = document.getElementById("error-summary");
  const problems = [];
  if (!summary || summary.getAttribute("role") !== "alert") problems.push("no alert summary");
  for (const a of summary ? summary.querySelectorAll("a[href^='#']") : []) {
    if (!document.getElementById(a.getAttribute("href").slice(1))) problems.push("dead " + a.href);
  }
  for (const field of document.querySelectorAll("[aria-invalid=true]")) {
    const ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    const said = ids.map((id) => document.getElementById(id)).filter(Boolean);
    if (!said.some((el) => el.classList.contains("field-error") && el.textContent.trim())) {
      problems.push("no message for " + field.id);
    }
  }
  return problems;
}"""

FORMS = {
    "/submit": "button[value=send]",
    "/thanks": "button[value=send]",
    "consent": "button[value=consent]",
}


@pytest.mark.parametrize("page", LIGHT, indirect=True)
@pytest.mark.parametrize("form", FORMS)
def test_errors_are_announced_and_linked_to_their_fields(page, wall: Wall, form: str) -> None:
    path = f"/consent/{wall.consent_link}" if form == "consent" else form  # type: ignore[attr-defined]
    page.goto(wall.url + path)
    page.evaluate("document.querySelector('form.story-form').noValidate = true")
    page.click(FORMS[form])
    page.wait_for_load_state()
    assert page.locator("#error-summary a[href^='#']").count() > 0, "no links to the fields"
    assert page.evaluate(ERRORS) == []


# What has focus, and whether it shows a ring (an outline or a box shadow).
FOCUSED = """() => {
  const a = document.activeElement;
  if (!a || a === document.body) return null;
  const s = getComputedStyle(a);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const ring = outline || s.boxShadow !== "none";
  return [a.outerHTML.slice(0, 120), ring];
}"""


@pytest.mark.parametrize("admin", LIGHT, indirect=True)
@pytest.mark.parametrize("path", [*PUBLIC.values(), *ADMIN.values()])
def test_focus_is_visible_on_every_stop(admin, wall: Wall, path: str) -> None:
    """Tab through the page: every element that takes focus shows that it has it."""
    admin.goto(wall.url + path)
    unringed, stops = [], 0
    for _ in range(150):
        admin.keyboard.press("Tab")
        focused = admin.evaluate(FOCUSED)
        if focused is None:  # past the last stop
            break
        stops += 1
        if not focused[1] and focused[0] not in unringed:
            unringed.append(focused[0])
    assert stops > 1, "nothing took focus"
    assert unringed == [], "no visible focus:\n" + "\n".join(unringed)


def test_the_story_form_can_be_sent_with_the_keyboard_alone(browser, wall: Wall) -> None:
    """Tab to each field, type, Space on a checkbox, Enter on Send: no mouse anywhere."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    typed = {
        "name": "Kim Lee",
        "role": "Shift lead",
        "company": "Ridgeway Foundry",
        "quote": "You picked up at midnight.",
        "body": "Kim runs nights.\n\nShe called us.",
        "consent_given_by": "Kim Lee",
        "consent_date": "01052026",  # a date field, in en-US order: month, day, year
        "submitted_by": "Sam Ortiz",
        "submitter_email": "sam.ortiz@example.com",
    }
    try:
        page.goto(f"{wall.url}/submit")
        done: set[str] = set()
        for _ in range(200):
            page.keyboard.press("Tab")
            id_, name, value = page.evaluate(
                "(() => { const a = document.activeElement; return [a.id, a.name, a.value]; })()"
            )
            if id_ in typed and id_ not in done:
                done.add(id_)
                page.keyboard.type(typed[id_])
            elif name == "consent_scope" and value == "intranet":
                page.keyboard.press("Space")
            elif name == "action" and value == "send":
                page.keyboard.press("Enter")
                break
        else:
            raise AssertionError("Tab never reached Send")
        assert done == set(typed), set(typed) - done
        page.wait_for_url("**/submit/thanks/**")
    finally:
        context.close()


@pytest.mark.parametrize("admin", LIGHT, indirect=True)
@pytest.mark.parametrize("path", ["/admin/", "/admin/stories", f"/admin/stories/{NO_ALT}"])
def test_admin_flags_a_photo_without_a_description(admin, wall: Wall, path: str) -> None:
    admin.goto(wall.url + path)
    flag = admin.locator(".no-alt")
    assert flag.count() == 1, flag.count()  # the sample stories all describe their photos
    assert "photo description" in flag.inner_text().lower() or "Missing" in flag.inner_text()


@pytest.mark.parametrize("page", LIGHT, indirect=True)
def test_skip_link_is_first_and_moves_focus_to_main(page, wall: Wall) -> None:
    page.goto(f"{wall.url}/")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "(() => { const a = document.activeElement;"
        " return [a.textContent.trim(), a.getAttribute('href'),"
        " a.getBoundingClientRect().top >= 0 && a.getBoundingClientRect().height > 10]; })()"
    )
    assert focused == ["Skip to the content", "#main", True], focused  # and on screen
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
