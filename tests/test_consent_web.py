"""The customer's page and the moderators' side of it, through the web app (no JavaScript)."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from pathlib import Path

import pytest

from tests.conftest import csrf_token
from tests.test_submit import post

pytestmark = pytest.mark.both_engines

TODAY = dt.date.today()


@pytest.fixture
def token(app, write_story, index) -> str:  # type: ignore[no-untyped-def]
    write_story("maria", status="pending")
    index.rescan()
    return app.extensions["storywall"].consent.make_link("maria", "alex")


def answer(client, token: str, **fields: object):  # type: ignore[no-untyped-def]
    if "csrf_token" not in fields:
        fields["csrf_token"] = csrf_token(client, f"/consent/{token}")
    data: dict[str, object] = {
        "places": ["hallway", "intranet"],
        "until": (TODAY + dt.timedelta(days=100)).isoformat(),
        "credit": "full",
        "photo": "show",
        "name": "Maria Alvarez",
        "role": "Swing-shift foreman",
        "quote": "When your part runs late, my crew goes home late.",
        "suggestion": "",
        "signature": "Maria Alvarez",
        "action": "consent",
    }
    data.update(fields)
    return client.post(f"/consent/{token}", data=data)


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return htmllib.unescape(response.get_data(as_text=True))


def test_the_page_is_private_never_cached_and_sends_no_referer(client, token: str) -> None:
    response = client.get(f"/consent/{token}")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    html = text_of(response)
    assert "Your story, before anyone else sees it" in html
    assert 'href="/"' not in html  # no way into the intranet from a customer's page
    for path in (f"/consent/{token}/tv", f"/consent/{token}/tv.json"):
        assert client.get(path).headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("bad", ["nothing-like-a-token", "A" * 32, "%2e%2e%2fetc", "x" * 300])
def test_a_wrong_token_gets_a_plain_not_found(client, token: str, bad: str) -> None:
    response = client.get(f"/consent/{bad}")
    assert response.status_code == 404
    assert "This link does not work" in text_of(response)
    assert "Back to the stories" not in text_of(response)


def test_a_revoked_or_replaced_link_gets_the_same_page(app, client, token: str) -> None:
    app.extensions["storywall"].consent.make_link("maria", "alex")
    response = client.get(f"/consent/{token}")
    assert response.status_code == 404 and "This link does not work" in text_of(response)


def test_the_slide_preview_is_filled_on_the_server(client, token: str) -> None:
    html = text_of(client.get(f"/consent/{token}/tv?orientation=portrait&credit=short"))
    assert '<h1 class="slide-name">Maria A.</h1>' in html
    assert "is-portrait" in html and "is-loading" not in html
    playlist = client.get(f"/consent/{token}/tv.json?credit=anonymous&photo=hide").get_json()
    entry = playlist["stories"][0]
    assert entry["name"] == "Swing-shift foreman" and entry["role"] == ""
    assert entry["photo"] is None and "qr" not in entry


def test_preview_then_consent_without_javascript(app, client, token: str, stories: Path) -> None:
    preview = answer(client, token, action="preview", credit="short", places=["intranet"])
    assert preview.status_code == 200
    html = text_of(preview)
    assert "credit=short" in html  # the slide previews follow the choice
    assert re.search(r'name="credit" value="short" checked', html)
    done = answer(client, token, credit="short", places=["intranet"])
    assert done.status_code == 303 and "done=consented" in done.headers["Location"]
    page = text_of(client.get(done.headers["Location"]))
    assert "Your consent is recorded" in page and "A moderator checks it" in page
    story = app.extensions["storywall"].index.get("maria")
    assert story.consent.by == "customer" and story.consent.scope == {"intranet"}


def test_an_empty_signature_is_refused_and_nothing_typed_is_lost(client, token: str) -> None:
    response = answer(client, token, signature="  ", quote="My own words now.")
    html = text_of(response)
    assert response.status_code == 400
    assert re.search(r'id="signature-error">.*Type your name to sign', html)
    assert 'value="My own words now."' in html


def test_a_date_past_the_longest_consent_names_the_last_day(app, client, token: str) -> None:
    latest = app.extensions["storywall"].consent.latest_day()
    response = answer(client, token, until=(latest + dt.timedelta(days=1)).isoformat())
    assert response.status_code == 400
    assert f"until {latest.isoformat()}" in text_of(response)
    past = answer(client, token, until=(TODAY - dt.timedelta(days=1)).isoformat())
    assert past.status_code == 400 and "a day after today" in text_of(past)


def test_a_quote_over_the_limit_is_refused(client, token: str) -> None:
    response = answer(client, token, quote="x" * 201)
    assert response.status_code == 400 and "keep it to 200 or fewer" in text_of(response)


def test_no_place_ticked_is_refused(client, token: str) -> None:
    response = answer(client, token, places=[])
    assert response.status_code == 400 and "Tick at least one place" in text_of(response)


def test_a_story_deleted_while_the_page_is_open(app, client, token: str, stories: Path) -> None:
    csrf = csrf_token(client, f"/consent/{token}")
    import shutil

    shutil.rmtree(stories / "maria")
    response = answer(client, token, csrf_token=csrf)
    assert response.status_code == 404
    assert "no longer on our walls" in text_of(response)


def test_a_story_changed_while_the_page_is_open_asks_again(
    app, client, token: str, stories: Path
) -> None:
    csrf = csrf_token(client, f"/consent/{token}")
    wall = app.extensions["storywall"]
    from wall.consent import Choices, Corrections

    path = stories / "maria" / "index.md"
    path.write_text(path.read_text().replace("Swing-shift foreman", "Plant manager"))
    # Between the customer opening the page and pressing the button, the file changed:
    # the service works from the file as it is now, and says so if it moved under it.
    response = answer(client, token, csrf_token=csrf)
    assert response.status_code in (303, 409)
    story = wall.index.get("maria")
    if response.status_code == 303:
        assert story.role == "Swing-shift foreman" or story.consent.content == story.content_hash
    assert Choices and Corrections


def test_withdraw_is_one_click(app, client, token: str) -> None:
    assert answer(client, token).status_code == 303
    csrf = csrf_token(client, f"/consent/{token}")
    response = client.post(f"/consent/{token}", data={"csrf_token": csrf, "action": "withdraw"})
    assert response.status_code == 303 and "done=withdrawn" in response.headers["Location"]
    story = app.extensions["storywall"].index.get("maria")
    assert story.consent.withdrawn == TODAY
    assert "taken down from every screen" in text_of(client.get(response.headers["Location"]))


def test_answers_without_the_form_token_are_refused(client, token: str) -> None:
    response = client.post(f"/consent/{token}", data={"action": "withdraw"})
    assert response.status_code == 400


# -- the moderators' side ----------------------------------------------------------------------


def test_a_moderator_makes_a_link_and_sees_it_once(app, admin_client, write_story, index) -> None:
    write_story("maria")
    index.rescan()
    csrf = csrf_token(admin_client, "/admin/stories/maria")
    response = admin_client.post("/admin/stories/maria/link", data={"csrf_token": csrf})
    html = text_of(response)
    link = re.search(r'id="customer-link" class="copy-source" value="([^"]+)"', html).group(1)
    assert link.startswith("http://localhost/consent/") and "<svg" in html
    token = link.rsplit("/", 1)[1]
    assert admin_client.get(f"/consent/{token}").status_code == 200
    story_page = text_of(admin_client.get("/admin/stories/maria"))
    assert token not in story_page  # only its fingerprint is kept
    assert "State: opened" in re.sub(r"<[^>]+>", "", story_page)


def test_the_evidence_downloads_and_prints(app, admin_client, client, token: str) -> None:
    assert answer(client, token, credit="short").status_code == 303
    evidence = admin_client.get("/admin/stories/maria/consent.json")
    assert "attachment" in evidence.headers["Content-Disposition"]
    data = evidence.get_json()
    record = data["records"][-1]
    assert record["event"] == "consented" and record["content_hash"].startswith("sha256:")
    assert record["statement_version"] == 1 and record["choices"]["credit"] == "short"
    printed = text_of(admin_client.get("/admin/stories/maria/consent"))
    assert "Signed (typed name)" in printed and record["content_hash"] in printed


def test_a_moderator_is_warned_before_an_edit_makes_consent_stale(
    app, admin_client, client, token: str
) -> None:
    from tests.test_admin import edit_form

    assert answer(client, token).status_code == 303
    form = edit_form(admin_client, "maria")
    form["quote"] = "A moderator's words."
    refused = admin_client.post("/admin/stories/maria/edit", data=form)
    assert refused.status_code == 409 and "Maria Alvarez agreed to" in text_of(refused)
    assert app.extensions["storywall"].index.get("maria").quote != "A moderator's words."
    saved = admin_client.post("/admin/stories/maria/edit", data={**form, "stale_ok": "1"})
    assert saved.status_code == 303
    assert "earlier version" in text_of(admin_client.get("/admin/stories/maria"))


def test_the_expiring_list_offers_a_renewal_link(admin_client, write_story, index) -> None:
    given = {
        "given_by": "X",
        "date": "2026-01-01",
        "scope": ["hallway"],
        "expires": (TODAY + dt.timedelta(days=5)).isoformat(),
    }
    write_story("soon", name="Soon Ending", consent=given)
    index.rescan()
    html = text_of(admin_client.get("/admin/expiring"))
    assert "Soon Ending" in html and "/admin/stories/soon/link" in html


def test_the_submitter_gets_the_link_on_the_thank_you_page(app, client, stories: Path) -> None:
    response = post(client)
    html = text_of(client.get(response.headers["Location"]))
    link = re.search(r'id="customer-link" class="copy-source" value="([^"]+)"', html).group(1)
    assert client.get(link.replace("http://localhost", "")).status_code == 200
    # Another visitor to the same thank-you address does not get it.
    other = app.test_client()
    assert "customer-link" not in text_of(other.get(response.headers["Location"]))


def test_a_withdrawn_story_shows_which_screens_have_let_it_go(
    app, admin_client, client, token: str
) -> None:
    wall = app.extensions["storywall"]
    assert answer(client, token).status_code == 303
    story = wall.index.get("maria")
    wall.moderation.approve("maria", story.token, "alex")
    holding = client.get("/api/stories?screen=lobby")
    client.post("/api/heartbeat", json={"screen": "lobby", "playlist": holding.headers["ETag"]})
    csrf = csrf_token(client, f"/consent/{token}")
    client.post(f"/consent/{token}", data={"csrf_token": csrf, "action": "withdraw"})
    page = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(admin_client.get("/admin/stories/maria")))
    )
    assert "Off every screen?" in page and "lobby not yet" in page
    fresh = client.get("/api/stories?screen=lobby")
    client.post("/api/heartbeat", json={"screen": "lobby", "playlist": fresh.headers["ETag"]})
    page = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(admin_client.get("/admin/stories/maria")))
    )
    assert "lobby acknowledged" in page


def test_answers_from_one_address_are_rate_limited(app, client, token: str) -> None:
    app.config["CONSENT_RATE_LIMIT"] = "2/hour"
    assert answer(client, token, action="preview").status_code == 200
    assert answer(client, token, action="preview").status_code == 200
    limited = answer(client, token)
    assert limited.status_code == 429 and "Too many answers" in text_of(limited)
    assert app.extensions["storywall"].index.get("maria").consent.by == "staff"
