"""Moderation: the queue, approve, reject, edit, withdraw consent, delete, and the audit log."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import MODERATOR, csrf_token, story_text
from tests.test_submit import fields, post
from wall.storage import read_story_file

TODAY = dt.date.today()


@pytest.fixture
def submitted(app, client, stories: Path) -> Path:
    """A story sent through the form by a member of staff: pending, with a photo."""
    image = io.BytesIO()
    Image.new("RGB", (600, 750), (120, 160, 200)).save(image, "JPEG")
    response = post(client, photo=(io.BytesIO(image.getvalue()), "maria.jpg"), photo_alt="Maria")
    assert response.status_code == 303
    return stories / "maria-alvarez" / "index.md"


def token(path: Path) -> str:
    return read_story_file(path).token


def act(admin_client, slug: str, action: str, path: Path | None = None, **data: str):  # type: ignore[no-untyped-def]
    data.setdefault("csrf_token", csrf_token(admin_client, "/admin/"))
    if path is not None:
        data.setdefault("token", token(path))
    return admin_client.post(f"/admin/stories/{slug}/{action}", data=data)


def slugs(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [s["slug"] for s in client.get("/api/stories").get_json()["stories"]]


def audit(app, slug: str | None = None) -> list[tuple[str, str, str]]:
    rows = app.extensions["storywall"].db.audit_log(slug)
    return [(r["actor"], r["action"], r["detail"]) for r in rows]


def rescan(app) -> None:  # type: ignore[no-untyped-def]
    """What the watcher does in a running wall (the test apps do not watch)."""
    app.extensions["storywall"].index.rescan()


def flashed(response_html: str) -> str:
    return htmllib.unescape(
        " ".join(re.findall(r'class="notice[^"]*"[^>]*>(.*?)</div>', response_html, re.S))
    )


# -- the queue and approving ------------------------------------------------------------------


def test_submit_then_queue_then_approve_then_on_the_api_and_announced(
    app, client, admin_client, submitted: Path
) -> None:
    queue = admin_client.get("/admin/").get_data(as_text=True)
    assert "Maria Alvarez" in queue and "When your part runs late" in queue
    assert '<span class="badge">1' in queue  # the count in the navigation
    assert slugs(client) == []
    index = app.extensions["storywall"].index
    events = client.get("/api/events")
    chunks = events.response
    assert f"data: {index.version}" in next(chunks).decode()

    # One click, from the queue: the form there carries the file's token.
    form = re.search(r'action="/admin/stories/maria-alvarez/approve".*?</form>', queue, re.S)
    assert form is not None
    fields_in_form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(0)))
    response = admin_client.post("/admin/stories/maria-alvarez/approve", data=fields_in_form)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert "Now on: hallway TVs and intranet" in flashed(
        admin_client.get("/admin/").get_data(as_text=True)
    )

    assert slugs(client) == ["maria-alvarez"]
    assert next(chunks).decode() == f"event: version\ndata: {index.version}\n\n"
    events.close()
    text = submitted.read_text()
    assert "status: approved" in text and f"approved_by: {MODERATOR[0]}" in text
    assert "approved_at: '" in text
    assert audit(app, "maria-alvarez")[0] == (MODERATOR[0], "approved", "")


def test_reject_takes_a_reason_and_keeps_the_story(
    app, client, admin_client, submitted: Path
) -> None:
    refused = act(admin_client, "maria-alvarez", "reject", submitted, reason="  ")
    assert refused.status_code == 303
    assert "Give a reason" in flashed(
        admin_client.get(refused.headers["Location"]).get_data(as_text=True)
    )
    assert "status: pending" in submitted.read_text()

    act(admin_client, "maria-alvarez", "reject", submitted, reason="No photo consent form on file")
    text = submitted.read_text()
    assert "status: rejected" in text and "rejected_reason: No photo consent form on file" in text
    assert submitted.exists() and slugs(client) == []
    assert "queue-item" not in admin_client.get("/admin/").get_data(as_text=True)
    page = admin_client.get("/admin/stories/maria-alvarez").get_data(as_text=True)
    assert "No photo consent form on file" in page
    assert audit(app, "maria-alvarez")[0] == (
        MODERATOR[0],
        "rejected",
        "No photo consent form on file",
    )


def test_approving_a_story_changed_since_it_was_shown_is_refused(
    admin_client, submitted: Path
) -> None:
    seen = token(submitted)
    submitted.write_text(submitted.read_text().replace("Swing-shift", "Night-shift"))
    response = act(admin_client, "maria-alvarez", "approve", token=seen)
    assert response.headers["Location"] == "/admin/stories/maria-alvarez"
    message = flashed(admin_client.get(response.headers["Location"]).get_data(as_text=True))
    assert "changed on disk since you opened it" in message
    assert "status: pending" in submitted.read_text()


def test_the_story_page_previews_the_real_slide_and_card(
    admin_client, client, submitted: Path
) -> None:
    page = admin_client.get("/admin/stories/maria-alvarez").get_data(as_text=True)
    assert 'src="/admin/stories/maria-alvarez/tv"' in page  # the kiosk page itself, in a frame
    assert '<article class="card' in page  # the intranet's own card template
    assert "Maria runs the swing shift." in page
    assert "will show" in page  # where it would appear once approved

    kiosk = admin_client.get("/admin/stories/maria-alvarez/tv").get_data(as_text=True)
    assert 'data-stories-url="/admin/stories/maria-alvarez/tv.json"' in kiosk
    assert 'data-events-url=""' in kiosk and 'data-heartbeat-url=""' in kiosk
    assert '<script type="module" src="/static/kiosk.' in kiosk and "/main.js" in kiosk

    playlist = admin_client.get("/admin/stories/maria-alvarez/tv.json").get_json()
    [entry] = playlist["stories"]
    assert entry["name"] == "Maria Alvarez" and entry["quote"].startswith("When your part")
    with admin_client.get(entry["photo"]["src"]) as photo:
        assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    public = client.get(entry["photo"]["src"].replace("/admin/photos/", "/photos/"))
    assert public.status_code == 404  # not published, so not on the public route


def test_edit_keeps_unknown_keys_and_writes_atomically(
    app, admin_client, write_story, stories: Path
) -> None:
    path = write_story("dev", name="Dev Patel", crm_id="A-17", body="First.\n\nSecond  \nline.")
    original = path.read_text()
    form = edit_form(admin_client, "dev")
    form.update(role="Payroll lead", quote="Payroll closes on time now.")
    response = admin_client.post("/admin/stories/dev/edit", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/stories/dev"
    text = path.read_text()
    assert "crm_id: A-17" in text and "role: Payroll lead" in text
    assert text.split("---\n", 2)[2] == original.split("---\n", 2)[2]  # body bytes unchanged
    assert [p.name for p in (stories / "dev").iterdir()] == ["index.md"]  # no temp files
    assert audit(app, "dev")[0] == (MODERATOR[0], "edited", "changed role, quote")


def edit_form(admin_client, slug: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    html = admin_client.get(f"/admin/stories/{slug}/edit").get_data(as_text=True)
    data: dict[str, object] = {}
    for name, value in re.findall(
        r'<input id="[^"]+" name="([^"]+)" type="(?:text|date)" value="([^"]*)"', html
    ):
        data[name] = htmllib.unescape(value)
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    data.update((name, htmllib.unescape(value)) for name, value in hidden)  # as a browser does
    body = re.search(r'<textarea id="body" name="body"[^>]*>\n(.*?)</textarea>', html, re.S)
    data["body"] = htmllib.unescape(body.group(1)).replace("\n", "\r\n")  # as a browser sends it
    data["kind"] = re.search(r'name="kind" value="([^"]+)" checked', html).group(1)
    data["consent_scope"] = re.findall(r'name="consent_scope" value="([^"]+)" checked', html)
    return data


def test_edit_while_the_file_changed_on_disk_is_refused_then_can_be_resolved(
    admin_client, write_story
) -> None:
    path = write_story("dev", name="Dev Patel")
    form = edit_form(admin_client, "dev")
    theirs = path.read_text().replace("Swing-shift foreman", "Night-shift lead")
    path.write_text(theirs)
    form["quote"] = "My version of the quote."
    refused = admin_client.post("/admin/stories/dev/edit", data=form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "changed on disk since you opened it" in html and "Nothing was saved" in html
    assert "Night-shift lead" in html  # what is on disk now, to compare
    assert 'value="My version of the quote."' in html  # and nothing typed is lost
    assert path.read_text() == theirs
    again = dict(form, token=re.search(r'name="token" value="([^"]+)"', html).group(1))
    assert admin_client.post("/admin/stories/dev/edit", data=again).status_code == 303
    assert "quote: My version of the quote." in path.read_text()


def test_edit_errors_stay_beside_their_fields(admin_client, write_story) -> None:
    path = write_story("dev", name="Dev Patel")
    before = path.read_text()
    form = edit_form(admin_client, "dev")
    form.update(publish="20/11/2026", quote="q" * 250, name="")
    response = admin_client.post("/admin/stories/dev/edit", data=form)
    html = htmllib.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert re.search(r'id="publish-error">.*use a date like 2026-10-14', html)
    assert re.search(r'id="quote-error">.*keep it to 200 or fewer', html)
    assert re.search(r"id=\"name-error\">.*Enter the customer's name", html)
    assert 'value="20/11/2026"' in html
    assert path.read_text() == before


def test_edit_onto_a_taken_slug_is_refused_and_a_free_one_renames(
    app, admin_client, write_story, stories: Path
) -> None:
    write_story("dev", name="Dev Patel")
    write_story("maria")
    form = edit_form(admin_client, "dev")
    form.update(slug="maria", role="Payroll lead")
    taken = admin_client.post("/admin/stories/dev/edit", data=form)
    assert taken.status_code == 409
    assert "Another story already uses" in htmllib.unescape(taken.get_data(as_text=True))
    assert "Payroll lead" not in (stories / "dev" / "index.md").read_text()
    form.update(slug="dev-patel")
    moved = admin_client.post("/admin/stories/dev/edit", data=form)
    assert moved.headers["Location"] == "/admin/stories/dev-patel"
    assert "role: Payroll lead" in (stories / "dev-patel" / "index.md").read_text()
    assert not (stories / "dev").exists()
    assert audit(app)[0] == (MODERATOR[0], "renamed", "from dev to dev-patel")


def test_a_story_deleted_on_disk_while_a_moderator_looks_at_it(
    admin_client, write_story, stories: Path
) -> None:
    path = write_story("dev", name="Dev Patel", status="pending")
    assert admin_client.get("/admin/stories/dev").status_code == 200
    form = edit_form(admin_client, "dev")
    seen = token(path)
    for entry in path.parent.iterdir():
        entry.unlink()
    path.parent.rmdir()

    approve = act(admin_client, "dev", "approve", token=seen)
    assert approve.headers["Location"] == "/admin/"
    assert "deleted or renamed" in flashed(admin_client.get("/admin/").get_data(as_text=True))

    form["quote"] = "Typed before I knew."
    edit = admin_client.post("/admin/stories/dev/edit", data=form)
    html = edit.get_data(as_text=True)
    assert edit.status_code == 410
    assert "no longer in the stories folder" in html and "Typed before I knew." in html
    assert not (stories / "dev").exists()

    page = admin_client.get("/admin/stories/dev")
    assert page.status_code == 404 and "no longer here" in page.get_data(as_text=True)


# -- taking stories down ----------------------------------------------------------------------


def test_withdraw_consent_takes_it_off_every_screen_at_once(
    app, client, admin_client, write_story
) -> None:
    path = write_story("maria")
    rescan(app)
    assert slugs(client) == ["maria"] and client.get("/stories/maria").status_code == 200
    response = act(admin_client, "maria", "withdraw", path, note="Called comms on Monday")
    assert response.status_code == 303
    assert slugs(client) == [] and client.get("/stories/maria").status_code == 404
    assert f"withdrawn: {TODAY.isoformat()}" in path.read_text()
    assert "given_by: Maria Alvarez" in path.read_text()  # the record is kept
    assert audit(app, "maria")[0] == (MODERATOR[0], "consent withdrawn", "Called comms on Monday")
    again = act(admin_client, "maria", "withdraw", path)
    message = flashed(admin_client.get(again.headers["Location"]).get_data(as_text=True))
    assert f"already withdrawn on {TODAY.isoformat()}" in message


def test_an_action_without_the_files_token_is_refused(app, admin_client, write_story) -> None:
    path = write_story("maria", status="pending")
    before = path.read_text()
    response = act(admin_client, "maria", "approve")  # the form's token is missing
    assert "changed on disk" in flashed(
        admin_client.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert path.read_text() == before


def test_unpublish_feature_and_dates(app, client, admin_client, write_story) -> None:
    path = write_story("maria")
    write_story("dev", name="Dev Patel")
    rescan(app)
    act(admin_client, "dev", "feature", path.parent.parent / "dev" / "index.md")
    assert slugs(client) == ["dev", "maria"]  # featured first

    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    act(admin_client, "maria", "dates", path, publish=tomorrow, expires="")
    assert slugs(client) == ["dev"] and f"publish: {tomorrow}" in path.read_text()
    bad = act(admin_client, "maria", "dates", path, publish=tomorrow, expires=TODAY.isoformat())
    assert bad.status_code == 400
    assert "on or after its publish date" in htmllib.unescape(bad.get_data(as_text=True))

    act(admin_client, "maria", "dates", path, publish="", expires="")
    assert "maria" in slugs(client)
    act(admin_client, "maria", "unpublish", path)
    assert "maria" not in slugs(client) and "status: pending" in path.read_text()
    assert "Maria Alvarez" in admin_client.get("/admin/").get_data(
        as_text=True
    )  # back in the queue
    assert [a for _, a, _ in audit(app)[:4]] == [
        "unpublished",
        "dates set",
        "dates set",
        "featured",
    ]


def test_delete_asks_first_then_removes_the_bundle(
    app, client, admin_client, submitted: Path
) -> None:
    confirm = admin_client.get("/admin/stories/maria-alvarez/delete").get_data(as_text=True)
    assert "Delete Maria Alvarez?" in confirm and "stories/maria-alvarez/index.md" in confirm
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', confirm))
    response = admin_client.post("/admin/stories/maria-alvarez/delete", data=form)
    assert response.status_code == 303
    assert not submitted.parent.exists()
    assert audit(app, "maria-alvarez")[0][1] == "deleted"
    assert admin_client.get("/admin/stories/maria-alvarez").status_code == 404


# -- the other pages ------------------------------------------------------------------------


def test_all_stories_problems_screens_and_audit(
    app, admin_client, write_story, stories: Path
) -> None:
    write_story("maria")
    write_story("dev", name="Dev Patel", status="pending")
    (stories / "broken.md").write_text("---\nname: Broken\nrole: [oops\n---\n")
    index = app.extensions["storywall"].index
    index.rescan()
    db = app.extensions["storywall"].db
    db.record_heartbeat("lobby", story="maria", playlist="abc", uptime=7200, shown={"maria": 3})
    db.record_heartbeat("canteen", story=None, playlist=None, uptime=60, shown={}, now=0)

    listing = admin_client.get("/admin/stories?status=pending").get_data(as_text=True)
    assert "Dev Patel" in listing and "Maria Alvarez" not in listing
    problems = admin_client.get("/admin/problems").get_data(as_text=True)
    assert "broken.md" in problems and "YAML syntax error" in problems
    screens = admin_client.get("/admin/screens").get_data(as_text=True)
    assert "lobby" in screens and "Maria Alvarez" in screens and "2 h 0 min" in screens
    assert re.search(r"canteen.*silent", screens, re.S)
    page = admin_client.get("/admin/stories/maria").get_data(as_text=True)
    assert "3 times on 1 screen" in page
    act(admin_client, "maria", "feature", stories / "maria" / "index.md")
    log = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "featured" in log and MODERATOR[0] in log and "signed in" in log


def test_the_navigation_shows_moderation_only_to_moderators(
    app, client, admin_client, write_story
) -> None:
    write_story("dev", name="Dev Patel", status="pending")
    rescan(app)
    assert "Moderation" not in client.get("/").get_data(as_text=True)
    html = admin_client.get("/").get_data(as_text=True)
    assert re.search(r'href="/admin/">Moderation <span class="badge">1', html)


def test_admin_pages_are_not_cached(admin_client) -> None:
    assert admin_client.get("/admin/").headers["Cache-Control"] == "no-store"


def test_a_story_file_written_by_hand_is_moderated_the_same(
    app, admin_client, stories: Path
) -> None:
    (stories / "walter.md").write_text(story_text(status="pending", name="Walter Briggs"))
    rescan(app)
    assert "Walter Briggs" in admin_client.get("/admin/").get_data(as_text=True)
    response = act(admin_client, "walter", "approve", stories / "walter.md")
    assert response.status_code == 303 and "status: approved" in (stories / "walter.md").read_text()


def test_unknown_actions_are_not_found(admin_client, write_story) -> None:
    path = write_story("maria")
    assert act(admin_client, "maria", "explode", path).status_code == 404


# Submission fields the editor deliberately has no input for, and why.
NOT_IN_THE_EDITOR = {
    # Kept in the file and shown on the story page: it is how the moderator
    # reaches the submitter, not part of the story.
    "submitter_email",
}


def test_submission_form_fields_match_the_editor(admin_client, submitted: Path) -> None:
    form = edit_form(admin_client, "maria-alvarez")
    for key, value in fields(photo_alt="Maria").items():
        if key in NOT_IN_THE_EDITOR:
            continue
        assert key in form, f"the editor has no field for {key!r}"
        if key == "body":
            assert form[key].replace("\r\n", "\n").strip() == str(value).replace("\r\n", "\n")
        else:
            assert form[key] == value, key


def conflict_form(html: str) -> dict[str, object]:
    """The form a 409 conflict page offers, as the browser would send it back."""
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return {k: htmllib.unescape(v) for k, v in data.items()}


def test_an_edit_conflict_keeps_both_sides_changes_and_asks_only_where_both_changed(
    app, admin_client, write_story
) -> None:
    path = write_story("dev", name="Dev Patel", location="Dayton, Ohio")
    form = edit_form(admin_client, "dev")
    # Meanwhile someone changes the location (and the role) on disk.
    theirs = path.read_text().replace("Dayton, Ohio", "Toledo, Ohio")
    theirs = theirs.replace("Swing-shift foreman", "Night-shift lead")
    path.write_text(theirs)
    # The moderator changed the role too, and the quote.
    form.update(role="Payroll lead", quote="My version of the quote.")
    refused = admin_client.post("/admin/stories/dev/edit", data=form)
    html = htmllib.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 409
    assert path.read_text() == theirs  # nothing written yet
    # A field-by-field comparison: yours and on disk now.
    table = re.search(r'<table class="comparison">.*?</table>', html, re.S).group(0)
    rows = {
        re.sub(r"<[^>]+>", "", m.group(1)).strip(): re.sub(r"<[^>]+>", " ", m.group(2))
        for m in re.finditer(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.S)
    }
    assert set(rows) == {"Role", "TV line", "Where"}
    assert "Payroll lead" in rows["Role"] and "Night-shift lead" in rows["Role"]
    assert "You choose" in rows["Role"]
    assert "only the file changed it" in rows["Where"]
    assert "only you changed it" in rows["TV line"]
    # Saving without choosing is refused, and still nothing is written.
    again = {**form, **conflict_form(html), "location": "Toledo, Ohio"}
    unchosen = admin_client.post("/admin/stories/dev/edit", data=again)
    assert unchosen.status_code == 400
    assert "Choose which version to keep" in unchosen.get_data(as_text=True)
    assert path.read_text() == theirs
    # Choose the disk's role: both sides' other changes are kept.
    chosen = admin_client.post("/admin/stories/dev/edit", data={**again, "resolve_role": "disk"})
    assert chosen.status_code == 303
    text = path.read_text()
    assert "location: Toledo, Ohio" in text  # never reverted
    assert "role: Night-shift lead" in text
    assert "quote: My version of the quote." in text


def test_an_edit_conflict_choosing_yours_keeps_yours(admin_client, write_story) -> None:
    path = write_story("dev", name="Dev Patel")
    form = edit_form(admin_client, "dev")
    path.write_text(path.read_text().replace("Swing-shift foreman", "Night-shift lead"))
    form.update(role="Payroll lead")
    html = admin_client.post("/admin/stories/dev/edit", data=form).get_data(as_text=True)
    again = {**form, **conflict_form(html), "resolve_role": "yours"}
    assert admin_client.post("/admin/stories/dev/edit", data=again).status_code == 303
    assert "role: Payroll lead" in path.read_text()


def test_the_story_page_does_not_parse_the_file_again(
    app, admin_client, write_story, monkeypatch
) -> None:
    body = "\n\n".join(f"Paragraph {n} of a very long story." for n in range(20_000))
    write_story("long", body=body)
    app.extensions["storywall"].index.rescan()
    from wall import stories

    renders = []
    real = stories.render_markdown
    monkeypatch.setattr(stories, "render_markdown", lambda text: renders.append(1) or real(text))
    for _ in range(3):
        assert admin_client.get("/admin/stories/long").status_code == 200
        assert admin_client.get("/admin/stories/long/edit").status_code == 200
    assert len(renders) <= 1  # rendered once, then kept with the indexed story


def test_unknown_keys_are_shown_bounded(admin_client, write_story) -> None:
    write_story("maria", notes={"deep": [list(range(50))] * 40}, blob="x" * 5000)
    html = admin_client.get("/admin/stories/maria").get_data(as_text=True)
    notes = re.search(r"<code>notes</code></dt><dd>(.*?)</dd>", html, re.S).group(1)
    blob = re.search(r"<code>blob</code></dt><dd>(.*?)</dd>", html, re.S).group(1)
    assert len(notes) < 600 and len(blob) < 600


def test_all_stories_shows_the_state_that_decides_visibility(
    app, admin_client, write_story
) -> None:
    day = dt.timedelta(days=1)
    consent = {"given_by": "X", "date": (TODAY - 40 * day).isoformat()}
    write_story("on", name="On Screens")
    write_story(
        "withdrawn",
        name="Consent Withdrawn",
        consent={**consent, "scope": ["hallway", "intranet"], "withdrawn": TODAY.isoformat()},
    )
    write_story(
        "lapsed",
        name="Consent Lapsed",
        consent={**consent, "scope": ["hallway", "intranet"], "expires": (TODAY - day).isoformat()},
    )
    write_story("later", name="Scheduled Later", publish=(TODAY + 3 * day).isoformat())
    write_story("over", name="Past Expiry", expires=(TODAY - day).isoformat())
    write_story("inside", name="Intranet Only", consent={**consent, "scope": ["intranet"]})
    write_story("waiting", name="Still Pending", status="pending")
    write_story("no", name="Turned Down", status="rejected")
    app.extensions["storywall"].index.rescan()

    listing = admin_client.get("/admin/stories").get_data(as_text=True)
    badges = {}
    for row in re.findall(r"<tr>(.*?)</tr>", listing, re.S)[1:]:  # after the header row
        name = re.search(r">([^<>]+)</a>", row).group(1)
        kind, text = re.search(r'<span class="status status--([\w-]+)">(.*?)</span>', row).groups()
        badges[name] = (kind, text)
    assert badges["On Screens"] == ("approved", "approved · on screens")
    assert badges["Intranet Only"] == ("approved", "approved · intranet only")
    assert badges["Consent Withdrawn"] == ("hidden", f"consent withdrawn on {TODAY.isoformat()}")
    assert (
        badges["Consent Lapsed"][0] == "hidden" and "consent expired" in badges["Consent Lapsed"][1]
    )
    assert badges["Scheduled Later"][0] == "hidden" and "scheduled" in badges["Scheduled Later"][1]
    assert badges["Past Expiry"][0] == "hidden" and badges["Past Expiry"][1].startswith("expired")
    assert badges["Still Pending"] == ("pending", "pending")
    assert badges["Turned Down"] == ("rejected", "rejected")
