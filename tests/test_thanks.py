"""Thank-yous from customers: the service, the /thanks page, and where thank-yous show."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.conftest import TODAY, csrf_token
from wall import create_app
from wall.consent import Choices
from wall.moderation import ModerationError
from wall.stories import PLACES
from wall.teams import addressed_to, parse_teams, teams_for_screen
from wall.thanks import Note, is_held, read_thank_you, resolve_to

TEAMS = {
    "dayton-night": {
        "name": "the night shift at Dayton",
        "tags": ["dayton"],
        "screens": ["dayton-floor"],
        "email": "night@example.com",
    },
    "payroll": {"name": "Payroll", "group": "third-floor"},
}
UNTIL = (TODAY + dt.timedelta(days=200)).isoformat()


@pytest.fixture
def app(stories: Path, instance: Path):
    return create_app(
        {
            "STORIES_DIR": str(stories),
            "INSTANCE_PATH": str(instance),
            "WATCH": "off",
            "TESTING": True,
            "TEAMS": TEAMS,
            "SCREENS": {"dayton-floor": {}, "lobby": {}, "third-a": {"group": "third-floor"}},
        }
    )


@pytest.fixture
def wall(app):
    return app.extensions["storywall"]


def form(**fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "team": "dayton-night",
        "message": "You kept line 3 running all night. Thank you, all of you.",
        "name": "Maria Alvarez",
        "role": "Plant manager",
        "company": "Ridgeway Foundry",
        "places": ["hallway", "intranet"],
        "until": UNTIL,
        "credit": "full",
        "signature": "Maria Alvarez",
        "action": "send",
    }
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def post(client, **fields: object):  # type: ignore[no-untyped-def]
    data = form(**fields)
    data["csrf_token"] = csrf_token(client, "/thanks")
    return client.post("/thanks", data=data)


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text().split("\n---\n", 1)[0].removeprefix("---\n"))


def bundles(stories: Path) -> list[Path]:
    return sorted(stories.glob("*/index.md"))


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 500), (150, 110, 90)).save(out, "JPEG")
    return out.getvalue()


# -- teams ------------------------------------------------------------------------------------


def test_a_thank_you_is_addressed_by_the_teams_name_or_the_typed_words() -> None:
    teams = parse_teams(TEAMS)
    assert addressed_to("dayton-night", teams) == "To the night shift at Dayton"
    assert addressed_to("Ana at  the desk", teams) == "To Ana at the desk"
    assert addressed_to("", teams) == ""


def test_a_screen_is_on_the_floor_of_the_teams_that_list_it_or_its_group() -> None:
    teams = parse_teams(TEAMS)
    assert teams_for_screen("dayton-floor", None, teams) == ("dayton-night",)
    assert teams_for_screen("third-a", "third-floor", teams) == ("payroll",)
    assert teams_for_screen("lobby", None, teams) == ()


def test_teams_parsed_once_parse_again_the_same() -> None:
    teams = parse_teams(TEAMS)
    assert parse_teams(teams) == teams  # settings reach the app already parsed under serve


def test_team_keys_that_are_addresses_of_the_page_are_refused() -> None:
    with pytest.raises(ValueError, match="card"):
        parse_teams({"card": {"name": "Card team"}})


def test_typed_words_naming_a_team_mean_that_team() -> None:
    teams = parse_teams(TEAMS)
    assert resolve_to("The night shift at Dayton", teams) == "dayton-night"
    assert resolve_to("to payroll", teams) == "payroll"
    assert resolve_to("Ana at the desk", teams) == "Ana at the desk"


# -- the form's rules --------------------------------------------------------------------------


def read(**fields: object):  # type: ignore[no-untyped-def]
    return read_thank_you(
        form(**fields),
        teams=parse_teams(TEAMS),
        today=TODAY,
        latest=TODAY + dt.timedelta(days=1095),
        signing=True,
    )


def test_a_good_form_reads_cleanly() -> None:
    result = read(name="  Maria   Alvarez ")
    assert result.errors == {}
    assert result.values["name"] == "Maria Alvarez"
    assert result.values["addressee"] == "dayton-night"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x" * 121),
        ("role", "x" * 121),
        ("company", "x" * 121),
        ("to", "x" * 121),
        ("message", "x" * 2001),
        ("quote", "x" * 201),
        ("email", "a@" + "b" * 250 + ".com"),
        ("signature", "x" * 121),
    ],
)
def test_every_field_has_a_size_limit(field: str, value: str) -> None:
    result = read(**{field: value, "team": "other" if field == "to" else "dayton-night"})
    assert field in result.errors, result.errors


def test_whom_they_thank_is_required_from_the_list_or_typed() -> None:
    assert "team" in read(team="").errors
    assert "to" in read(team="other", to="").errors
    assert "team" in read(team="no-such-team").errors
    typed = read(team="other", to="Ana at the Toledo help desk")
    assert typed.errors == {} and typed.values["addressee"] == "Ana at the Toledo help desk"


def test_consent_needs_a_place_a_day_and_a_signature() -> None:
    result = read(places=[], until=(TODAY - dt.timedelta(days=1)).isoformat(), signature="")
    assert {"places", "until", "signature"} <= set(result.errors)


# -- the service ---------------------------------------------------------------------------------


def note(**fields: object) -> Note:
    values: dict[str, object] = {
        "name": "Maria Alvarez",
        "role": "Plant manager",
        "company": "Ridgeway Foundry",
        "message": "You kept line 3 running all night. Thank you.",
        "to": "dayton-night",
        "choices": Choices(places=PLACES, until=TODAY + dt.timedelta(days=100), credit="short"),
        "signature": "Maria Alvarez",
    }
    values.update(fields)
    return Note(**values)  # type: ignore[arg-type]


def test_a_thank_you_is_pending_with_the_authors_own_consent(wall, stories: Path) -> None:
    story = wall.thanks.send(note(), address="203.0.113.5", user_agent="Phone")
    front = front_matter(story.source)
    assert front["kind"] == "thank-you" and front["status"] == "pending"
    assert front["to"] == "dayton-night" and front["tags"] == ["dayton"]
    assert "held" not in front
    consent = front["consent"]
    assert consent["by"] == "customer" and consent["given_by"] == "Maria Alvarez"
    assert consent["credit"] == "short" and consent["statement"] == 1
    assert consent["content"] == story.content_hash  # bound to exactly what they saw
    assert story.consent_kind == "given by the customer"
    [record] = wall.db.consent_records(story.slug)
    assert record["event"] == "consented" and record["address"] == "203.0.113.5"
    assert record["user_agent"] == "Phone" and record["signature"] == "Maria Alvarez"
    assert json.loads(record["content"])["name"] == "Maria A."
    assert wall.moderation.pending() == [story]
    # Once approved, it shows: the customer's consent holds for the story as written.
    done = wall.moderation.approve(story.slug, story.token, "alex")
    assert wall.index.is_visible(done.story, "hallway")


def test_the_hash_covers_the_photo_they_chose(wall, tmp_path: Path) -> None:
    photo = tmp_path / "me.jpg"
    photo.write_bytes(jpeg_bytes())
    story = wall.thanks.send(note(), photo, address="x", user_agent="y")
    assert story.photo is not None and story.consent.content == story.content_hash
    assert story.customer_content["photo"]


def test_without_a_signature_nothing_is_written(wall, stories: Path) -> None:
    with pytest.raises(ModerationError):
        wall.thanks.send(note(signature=""), address="x", user_agent="y")
    assert bundles(stories) == []


def test_without_its_evidence_a_thank_you_is_taken_back_out(wall, stories, monkeypatch) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(wall.db, "record_consent_event", broken)
    with pytest.raises(OSError):
        wall.thanks.send(note(), address="x", user_agent="y")
    assert bundles(stories) == []
    assert wall.index.stories() == []


def test_beyond_the_daily_cap_thank_yous_are_held_back(wall) -> None:
    wall.thanks.daily_cap = 2
    sent = [wall.thanks.send(note(), address="x", user_agent="y") for _ in range(4)]
    assert [is_held(s) for s in sent] == [False, False, True, True]
    assert wall.thanks.queue() == sent[:2]
    assert wall.thanks.held() == sent[2:]
    assert all(front_matter(s.source).get("held") is True for s in sent[2:])


# -- the page ---------------------------------------------------------------------------------


def test_the_page_works_without_javascript_and_lists_the_teams(client) -> None:
    html = client.get("/thanks").get_data(as_text=True)
    assert '<option value="dayton-night"' in html and "The night shift at Dayton" in html
    assert 'name="website"' in html  # the honeypot
    assert "/thanks/tv?" in html  # the real slide, filled on the server
    assert "<script" not in html


def test_the_page_needs_nothing_outside_thanks_but_the_listed_static_files(client) -> None:
    from wall.web.thanks import THANKS_STATIC

    page = post(client, action="preview").get_data(as_text=True)
    tv = re.search(r'<iframe src="([^"]+)"', page)[1].replace("&amp;", "&")
    urls = re.findall(r'(?:href|src)="(/[^"]+)"', page + client.get(tv).get_data(as_text=True))
    outside = [u for u in urls if not u.startswith("/thanks")]
    assert outside
    # The preview card's own link goes nowhere (the card is not clickable there).
    assert [u for u in outside if not u.startswith(THANKS_STATIC)] == ["/stories/thank-you-preview"]


def test_a_teams_own_link_preselects_it(client) -> None:
    html = client.get("/thanks/dayton-night").get_data(as_text=True)
    assert '<option value="dayton-night" selected>' in html
    assert client.get("/thanks/nobody").status_code == 404


def test_sending_makes_a_pending_thank_you(client, stories: Path) -> None:
    response = post(client, **{"email": "maria@example.com"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/thanks/sent")
    [path] = bundles(stories)
    front = front_matter(path)
    assert front["to"] == "dayton-night" and front["status"] == "pending"
    assert front["submitter_email"] == "maria@example.com"
    page = client.get("/thanks/sent").get_data(as_text=True)
    assert "the night shift at Dayton" in page and "What happens next" in page
    link = re.search(r'value="(http://localhost/consent/[^"]+)"', page)
    assert link, "their own private link, to take it down again"
    assert "Take my story down" in client.get(link[1]).get_data(as_text=True)


def test_a_photo_goes_through_the_photo_pipeline(client, stories: Path) -> None:
    data = form(action="preview")
    data["csrf_token"] = csrf_token(client, "/thanks")
    data["photo_file"] = (io.BytesIO(jpeg_bytes()), "me.jpg")
    html = client.post("/thanks", data=data, content_type="multipart/form-data")
    token = re.search(r'name="photo_token" value="([0-9a-f]{32})"', html.get_data(as_text=True))
    assert token, "the photo is kept between previews"
    with client.get(f"/thanks/photo/{token[1]}.jpg") as photo:
        assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert bundles(stories) == []  # a preview stores no thank-you
    response = post(client, photo_token=token[1])
    assert response.status_code == 303
    [path] = bundles(stories)
    assert (path.parent / front_matter(path)["photo"]).is_file()


def test_the_preview_shows_the_slide_and_card_as_the_screens_will(client) -> None:
    response = post(client, action="preview", credit="anonymous")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "To the night shift at Dayton" in html  # on the card
    card = html.split('class="card-preview"')[1].split("</article>")[0]
    assert "Maria Alvarez" not in card and "Plant manager" in card
    tv = re.search(r'<iframe src="([^"]+)"', html)[1].replace("&amp;", "&")
    slide = client.get(tv).get_data(as_text=True)
    assert "To the night shift at Dayton" in slide and 'class="slide is-front' in slide
    playlist = client.get(tv.replace("/thanks/tv?", "/thanks/tv.json?")).get_json()
    assert playlist["stories"][0]["to"] == "To the night shift at Dayton"


def test_errors_are_shown_next_to_their_fields_and_nothing_is_stored(client, stories) -> None:
    response = post(client, name="", message="x" * 2001)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="name-error"' in html and 'id="message-error"' in html
    assert bundles(stories) == []


def test_the_honeypot_is_answered_politely_and_nothing_is_stored(client, wall, stories) -> None:
    response = post(client, website="http://spam.example.com")
    assert response.status_code == 303  # as if it worked: nothing to learn from it
    assert bundles(stories) == []
    assert wall.db.query("SELECT COUNT(*) AS n FROM consent_records")[0]["n"] == 0
    assert not (Path(wall.instance_dir) / "uploads").exists()


def test_a_hundred_posts_in_a_minute_are_refused_after_the_limit(app, stories, wall) -> None:
    app.config["THANKS_RATE_LIMIT"] = "10/minute"
    client = app.test_client()
    token = csrf_token(client, "/thanks")
    codes = [
        client.post("/thanks", data={**form(), "csrf_token": token}).status_code for _ in range(100)
    ]
    assert codes[:10] == [303] * 10 and codes[10:] == [429] * 90
    assert len(bundles(stories)) == 10  # nothing stored for the refused ones
    assert wall.db.query("SELECT COUNT(*) AS n FROM consent_records")[0]["n"] == 10


def test_the_rate_limit_counts_each_address(app, stories) -> None:
    app.config["THANKS_RATE_LIMIT"] = "1/minute"
    client = app.test_client()
    token = csrf_token(client, "/thanks")
    one = {"REMOTE_ADDR": "198.51.100.1"}
    two = {"REMOTE_ADDR": "198.51.100.2"}
    data = {**form(), "csrf_token": token}
    assert client.post("/thanks", data=data, environ_base=one).status_code == 303
    assert client.post("/thanks", data=data, environ_base=one).status_code == 429
    assert client.post("/thanks", data=data, environ_base=two).status_code == 303


def test_over_the_daily_cap_a_thank_you_is_held_and_listed_apart(app, stories, admin_client):
    app.extensions["storywall"].thanks.daily_cap = 1
    client = app.test_client()
    assert post(client, name="First Person").status_code == 303
    assert post(client, name="Second Person").status_code == 303
    held = [p for p in bundles(stories) if front_matter(p).get("held")]
    assert [front_matter(p)["name"] for p in held] == ["Second Person"]
    page = admin_client.get("/admin/").get_data(as_text=True)
    queue, held_part = page.split('id="held-heading"')
    assert "First Person" in queue and "Second Person" not in queue
    assert "Second Person" in held_part


def test_turned_off_everything_under_thanks_is_404(stories, instance) -> None:
    app = create_app(
        {
            "STORIES_DIR": str(stories),
            "INSTANCE_PATH": str(instance),
            "WATCH": "off",
            "TESTING": True,
            "TEAMS": TEAMS,
            "THANKS_ENABLED": False,
        }
    )
    client = app.test_client()
    for path in ("/thanks", "/thanks/dayton-night", "/thanks/card", "/thanks/tv", "/thanks/sent"):
        assert client.get(path).status_code == 404, path
    assert client.post("/thanks", data=form()).status_code in (400, 404)
    assert list(stories.iterdir()) == []


def test_the_printable_card_has_a_qr_code_of_the_public_link(app, client) -> None:
    app.config["THANKS_PUBLIC_URL"] = "https://thanks.example.com"
    html = client.get("/thanks/card/dayton-night").get_data(as_text=True)
    assert "<svg" in html and "thanks.example.com/thanks/dayton-night" in html
    assert "the night shift at Dayton" in html
    assert "thanks.example.com/thanks<" in client.get("/thanks/card").get_data(as_text=True)
    assert client.get("/thanks/card/nobody").status_code == 404


# -- where thank-yous show ----------------------------------------------------------------------


def approve_thank_you(wall, **fields: object):  # type: ignore[no-untyped-def]
    wall.index.rescan()  # the stories the test wrote by hand
    story = wall.thanks.send(note(**fields), address="x", user_agent="y")
    return wall.moderation.approve(story.slug, story.token, "alex").story


def test_the_teams_screens_show_its_thank_you_first_then_more_often(wall, client, write_story):
    for n in range(5):
        write_story(f"story-{n}", name=f"Person {n}")
    thanked = approve_thank_you(wall)
    other = approve_thank_you(wall, to="Ana at the desk", name="Ana Fan")
    floor = client.get("/api/stories?screen=dayton-floor").get_json()
    assert floor["first"] == [thanked.slug]
    assert floor["cycle"][0] == thanked.slug
    assert floor["cycle"].count(thanked.slug) == 3
    assert floor["cycle"].count(other.slug) == 2  # new, as any new story
    assert floor["screen"]["teams"] == ["dayton-night"]
    entry = {s["slug"]: s for s in floor["stories"]}
    assert entry[thanked.slug]["to"] == "To the night shift at Dayton"
    assert entry[other.slug]["to"] == "To Ana at the desk"
    lobby = client.get("/api/stories?screen=lobby").get_json()
    assert lobby["first"] == [] and lobby["cycle"].count(thanked.slug) == 2


def test_a_group_of_screens_puts_its_teams_thank_yous_first_but_once(wall, client, write_story):
    for n in range(4):
        write_story(f"story-{n}", name=f"Person {n}")
    thanked = approve_thank_you(wall, to="payroll")
    group = client.get("/api/stories?screen=third-a").get_json()
    assert group["first"] == [thanked.slug]
    assert group["cycle"][0] == thanked.slug and group["cycle"].count(thanked.slug) == 1


def test_the_boost_ends_after_the_configured_days(app, wall, client, write_story) -> None:
    for n in range(4):
        write_story(f"story-{n}", name=f"Person {n}")
    thanked = approve_thank_you(wall)
    app.config["THANKS_BOOST_DAYS"] = 0
    assert client.get("/api/stories?screen=dayton-floor").get_json()["first"] == []
    app.config["THANKS_BOOST_DAYS"] = 7
    text = thanked.source.read_text()
    old = (dt.datetime.now().astimezone() - dt.timedelta(days=8)).isoformat(timespec="seconds")
    thanked.source.write_text(re.sub(r"approved_at: .*", f"approved_at: '{old}'", text))
    wall.index.refresh([thanked.slug])
    assert client.get("/api/stories?screen=dayton-floor").get_json()["first"] == []


def test_the_intranet_filters_by_team(wall, client, write_story) -> None:
    write_story("in-dayton", name="Dayton Story", tags=["dayton"])
    write_story("elsewhere", name="Elsewhere Story", tags=["toledo"])
    approve_thank_you(wall, name="Thankful Person")
    html = client.get("/?team=dayton-night").get_data(as_text=True)
    assert "Dayton Story" in html and "Thankful Person" not in html  # credited "short"
    assert "Thankful P." in html and "To the night shift at Dayton" in html
    assert "Elsewhere Story" not in html
    assert "The night shift at Dayton" in client.get("/").get_data(as_text=True)  # listed
