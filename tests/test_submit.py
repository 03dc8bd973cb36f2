"""The staff story form: phone-first, server-checked, and nothing typed is ever lost."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import io
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import csrf_token
from wall import create_app
from wall.parsing import load_story

TODAY = dt.date.today()


def jpeg(width: int = 640, height: int = 800, *, gps: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (190, 130, 100))
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (39.0, 45.0, 32.0)}  # GPSInfo: where the photo was taken
        exif[0x0110] = "Pixel 9"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def fields(**overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Maria Alvarez",
        "role": "Swing-shift foreman",
        "company": "Ridgeway Foundry",
        "location": "Dayton, Ohio",
        "title": "She stopped line 3 for us",
        "quote": "When your part runs late, my crew goes home late.",
        "body": "Maria runs the swing shift.\r\n\r\nShe called us at 2 a.m.",
        "tags": "manufacturing, dayton",
        "photo_alt": "",
        "kind": "story",
        "consent_given_by": "Maria Alvarez",
        "consent_date": TODAY.isoformat(),
        "consent_scope": ["hallway", "intranet"],
        "consent_expires": "",
        "submitted_by": "Sam Ortiz",
        "submitter_email": "sam.ortiz@example.com",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def post(client, path: str = "/submit", **overrides: object):  # type: ignore[no-untyped-def]
    data = fields(**overrides)
    data.setdefault("csrf_token", csrf_token(client, "/submit"))
    return client.post(path, data=data, content_type="multipart/form-data")


class Fields(HTMLParser):
    """Every form control's name and value, and which ids have a label."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        if tag in ("input", "textarea", "select"):
            self.controls.append({"tag": tag, **a})


def value_of(html: str, name: str) -> str:
    textarea = re.search(rf'<textarea id="{name}"[^>]*>\n?(.*?)</textarea>', html, re.S)
    if textarea:
        return htmllib.unescape(textarea.group(1))
    match = re.search(rf'<input id="{name}" name="{name}" type="[^"]+" value="([^"]*)"', html)
    assert match, name
    return htmllib.unescape(match.group(1))


def error_of(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="{name}-error">(.*?)</p>', html, re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", "", match.group(1))) if match else None


# -- the form -------------------------------------------------------------------------------


def test_the_form_is_built_for_a_phone(client) -> None:
    response = client.get("/submit")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="viewport" content="width=device-width' in html
    assert 'type="file" accept="image/*"' in html
    assert 'enctype="multipart/form-data"' in html
    parsed = Fields(html)
    visible = [
        c for c in parsed.controls if c.get("type") not in ("hidden", "submit", "checkbox", "radio")
    ]
    assert {c["id"] for c in visible} <= parsed.labelled  # a label on every field
    by_name = {c["name"]: c for c in parsed.controls}
    assert by_name["submitted_by"]["autocomplete"] == "name"
    assert by_name["submitter_email"]["autocomplete"] == "email"
    assert by_name["submitter_email"]["inputmode"] == "email"
    assert by_name["name"]["autocomplete"] == "off"  # the customer, not the person typing
    assert by_name["consent_date"]["type"] == "date"
    assert "<script>" not in html and "submit.js" in html  # no inline script: the CSP holds


def test_the_submit_link_is_on_every_page(client) -> None:
    assert 'href="/submit"' in client.get("/").get_data(as_text=True)


# -- sending ---------------------------------------------------------------------------------


def test_a_story_is_saved_pending_and_the_thanks_page_says_what_next(
    client, app, stories: Path
) -> None:
    response = post(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/submit/thanks/maria-alvarez"
    story, problems = load_story(stories / "maria-alvarez" / "index.md")
    assert problems == [] and story is not None
    assert story.status == "pending" and story.submitted_by == "Sam Ortiz"
    assert story.consent is not None and story.consent.date == TODAY
    assert client.get("/api/stories").get_json()["stories"] == []
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Maria Alvarez" in thanks and "What happens next" in thanks
    assert "moderator" in thanks and "sam.ortiz@example.com" in thanks
    entries = app.extensions["storywall"].db.audit_log("maria-alvarez")
    # Newest first: the submission, then the customer's private link made for it.
    assert [e["action"] for e in entries] == ["customer link made", "submitted"]
    entry = entries[1]
    assert "Sam Ortiz" in entry["actor"]


def test_the_thanks_page_names_only_your_own_story(client, app) -> None:
    post(client)
    other = app.test_client()
    html = other.get("/submit/thanks/maria-alvarez").get_data(as_text=True)
    assert "Maria" not in html and "What happens next" in html


@pytest.mark.parametrize("slug", ["nobody-by-this-name", "Not_A_Slug", "..%2F..%2Fetc"])
def test_the_thanks_page_is_404_for_a_story_that_does_not_exist(client, slug) -> None:
    response = client.get(f"/submit/thanks/{slug}")
    assert response.status_code == 404
    assert "What happens next" not in response.get_data(as_text=True)


def test_the_thanks_page_finds_a_story_another_worker_just_saved(client, app, write_story) -> None:
    write_story("dev-patel", name="Dev Patel", status="pending")  # on disk, not yet in this index
    with client.session_transaction() as session:
        session["submitted"] = ["dev-patel"]
    response = client.get("/submit/thanks/dev-patel")
    assert response.status_code == 200 and "Dev Patel" in response.get_data(as_text=True)


def test_the_form_remembers_the_submitter_for_next_time(client) -> None:
    post(client)
    html = client.get("/submit").get_data(as_text=True)
    assert value_of(html, "submitted_by") == "Sam Ortiz"
    assert value_of(html, "submitter_email") == "sam.ortiz@example.com"


def test_a_name_already_taken_gets_a_new_slug_and_the_old_story_is_untouched(
    client, write_story, stories: Path
) -> None:
    original = write_story("maria-alvarez")
    before = original.read_bytes()
    response = post(client)
    assert response.headers["Location"] == "/submit/thanks/maria-alvarez-2"
    assert original.read_bytes() == before
    assert (stories / "maria-alvarez-2" / "index.md").exists()


def test_two_people_sending_one_name_at_once_get_two_bundles(app, stories: Path) -> None:
    clients = [app.test_client() for _ in range(2)]
    tokens = [csrf_token(c, "/submit") for c in clients]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def send(client, token: str) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        codes.append(post(client, csrf_token=token).status_code)

    threads = [
        threading.Thread(target=send, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [303, 303]
    assert sorted(p.name for p in stories.iterdir()) == ["maria-alvarez", "maria-alvarez-2"]


def test_preview_shows_the_slide_and_saves_nothing(client, stories: Path) -> None:
    response = post(client, action="preview")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<p class="tv-name">Maria Alvarez</p>' in html
    assert "Swing-shift foreman, Ridgeway Foundry" in html
    assert list(stories.iterdir()) == []


# -- bad input: a clear error, next to its field, and nothing lost ----------------------------


def test_empty_required_fields_are_named_and_nothing_typed_is_lost(client, stories: Path) -> None:
    response = post(client, name="", quote="", consent_scope=None, body="Kept\r\n\r\nas typed")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert error_of(html, "name") == "Error: Enter the customer's name."
    assert "Enter one sentence" in (error_of(html, "quote") or "")
    assert "Tick at least one place" in (error_of(html, "consent_scope") or "")
    assert 'href="#name"' in html  # the summary links to the field
    assert value_of(html, "role") == "Swing-shift foreman"
    assert value_of(html, "body") == "Kept\r\n\r\nas typed"
    assert value_of(html, "submitter_email") == "sam.ortiz@example.com"
    assert 'aria-invalid="true"' in html
    assert list(stories.iterdir()) == []


def test_a_quote_over_the_limit_is_kept_for_shortening(client) -> None:
    long_quote = " ".join(["word"] * 50)
    html = post(client, quote=long_quote).get_data(as_text=True)
    assert "keep it to 200 or fewer" in (error_of(html, "quote") or "")
    assert value_of(html, "quote") == long_quote


def test_a_date_in_the_wrong_format_says_which_format(client) -> None:
    html = post(client, consent_date="10/14/2026", consent_expires="next year").get_data(
        as_text=True
    )
    assert "use a date like 2026-10-14" in (error_of(html, "consent_date") or "")
    assert "not a date we can read" in (error_of(html, "consent_expires") or "")
    assert value_of(html, "consent_date") == "10/14/2026"


def test_an_invalid_photo_is_refused_and_the_rest_is_kept(client, stories: Path) -> None:
    bad = (io.BytesIO(b"<html><script>alert(1)</script></html>"), "maria.jpg")
    html = post(client, photo=bad, photo_alt="Maria").get_data(as_text=True)
    assert "We cannot use this photo" in (error_of(html, "photo") or "")
    assert value_of(html, "photo_alt") == "Maria"
    assert list(stories.iterdir()) == []


def test_an_oversized_photo_is_refused_with_the_limit_and_the_rest_is_kept(
    client, app, stories: Path
) -> None:
    app.config["MAX_UPLOAD_MB"] = 0.05
    big = (io.BytesIO(b"\xff\xd8" + b"0" * 80_000), "big.jpg")
    response = post(client, photo=big, photo_alt="Maria")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "the limit is 0 MB" in (error_of(html, "photo") or "") or "limit" in html
    assert value_of(html, "name") == "Maria Alvarez"
    assert list(stories.iterdir()) == []


def test_a_request_far_too_large_to_read_says_so(client, app) -> None:
    app.config["MAX_UPLOAD_MB"] = 0.01
    data = fields(csrf_token=csrf_token(client, "/submit"))
    data["photo"] = FileStorage(io.BytesIO(b"0" * 1_200_000), "huge.jpg")  # > 4 x limit + 1 MB
    # Encoded in memory: the test client's own temp file would outlive the refused request.
    boundary, body = encode_multipart(MultiDict(data))
    response = client.post(
        "/submit", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert "far over" in response.get_data(as_text=True)


def test_an_uploaded_photo_is_kept_across_a_mistake(client, stories: Path, instance: Path) -> None:
    first = post(
        client, name="", photo=(io.BytesIO(jpeg(gps=True)), "maria.jpg"), photo_alt="Maria"
    )
    html = first.get_data(as_text=True)
    assert first.status_code == 400
    token = re.search(r'name="photo_token" value="([0-9a-f]{32})"', html).group(1)
    preview = re.search(r'id="photo-preview"[^>]*src="([^"]+)"', html).group(1)
    with client.get(preview) as shown:
        assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
        assert Image.open(io.BytesIO(shown.data)).getexif() == {}  # no GPS, no camera
    second = post(client, photo_token=token, photo_alt="Maria")
    assert second.status_code == 303
    photo = stories / "maria-alvarez" / "photo.jpg"
    with Image.open(photo) as kept:
        assert kept.getexif() == {}
    assert not (instance / "uploads" / f"{token}.jpg").exists()


@pytest.mark.parametrize("token", ["../../secret_key", "0" * 32, "A" * 32, ""])
def test_a_forged_photo_token_is_ignored(client, stories: Path, token: str) -> None:
    assert post(client, photo_token=token).status_code == 303
    assert not (stories / "maria-alvarez" / "photo.jpg").exists()


def test_the_photo_preview_route_serves_only_stashed_photos(client) -> None:
    for path in [
        "/submit/photo/../../secret_key.jpg",
        "/submit/photo/nothing.jpg",
        "/submit/photo/" + "0" * 32 + ".jpg",
    ]:
        assert client.get(path).status_code == 404


def test_a_form_with_an_expired_token_is_shown_again_with_everything(client, stories: Path) -> None:
    response = post(client, csrf_token="stale")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "nothing was sent" in html
    assert value_of(html, "name") == "Maria Alvarez"
    assert list(stories.iterdir()) == []


def test_a_post_without_a_csrf_token_is_refused(app, stories: Path) -> None:
    response = app.test_client().post("/submit", data=fields())
    assert response.status_code == 400
    assert list(stories.iterdir()) == []


def test_submitting_is_rate_limited_and_the_form_is_kept(client, app, stories: Path) -> None:
    app.config["SUBMIT_RATE_LIMIT"] = "2/hour"
    assert post(client, action="preview").status_code == 200
    assert post(client).status_code == 303
    limited = post(client, name="Dev Patel")
    html = limited.get_data(as_text=True)
    assert limited.status_code == 429
    assert "Too many" in html and value_of(html, "name") == "Dev Patel"
    assert [p.name for p in stories.iterdir()] == ["maria-alvarez"]


def test_the_rate_limit_holds_across_workers(tmp_path: Path, stories: Path, instance: Path) -> None:
    settings = {
        "STORIES_DIR": str(stories),
        "INSTANCE_PATH": str(instance),
        "WATCH": "off",
        "SUBMIT_RATE_LIMIT": "2/hour",
    }
    workers = [create_app(settings).test_client() for _ in range(2)]
    codes = [post(workers[n % 2], action="preview").status_code for n in range(4)]
    assert codes == [200, 200, 429, 429]


def test_submitting_can_require_sign_in(app, moderator) -> None:
    app.config["SUBMIT_REQUIRES_LOGIN"] = True
    anonymous = app.test_client()
    response = anonymous.get("/submit")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login")
    assert anonymous.post("/submit", data=fields()).status_code in (303, 400)
    app.config.update(SSO_HEADER="X-Forwarded-User")
    signed_in = app.test_client().get("/submit", headers={"X-Forwarded-User": "sam.ortiz"})
    assert signed_in.status_code == 200
    assert value_of(signed_in.get_data(as_text=True), "submitted_by") == "sam.ortiz"
