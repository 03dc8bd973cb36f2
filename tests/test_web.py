"""Routes: the intranet wall, a story page, the kiosk, the API and health."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image


def _jpeg(width: int = 800, height: int = 1000) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 120, 90)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def wall(app, stories, write_story):
    """A small wall: two visible stories (one with a photo), one pending, one intranet-only."""
    path = write_story(
        "maria",
        tags=["manufacturing", "dayton"],
        photo="maria.jpg",
        photo_focus=[0.5, 0.3],
        featured=True,
    )
    (path.parent / "maria.jpg").write_bytes(_jpeg())
    write_story(
        "dev",
        name="Dev Patel",
        role="Payroll administrator",
        company="Lakeside Health",
        tags=["payroll"],
        body="Dev closes payroll for 4,000 nurses.",
    )
    write_story("pending-one", name="Pat Pending", status="pending")
    write_story(
        "intranet-only",
        name="Ina Tranet",
        kind="thank-you",
        consent={"given_by": "Ina", "date": "2026-01-01", "scope": ["intranet"]},
    )
    app.extensions["storywall"].index.rescan()
    return app


def test_wall_lists_visible_stories_featured_first(client, wall) -> None:
    html = client.get("/").get_data(as_text=True)
    assert html.index("Maria Alvarez") < html.index("Dev Patel")
    assert "Ina Tranet" in html and "Pat Pending" not in html


def test_search_covers_name_role_company_title_and_body(client, wall) -> None:
    for query in ["patel", "payroll ADMIN", "lakeside", "4,000 nurses"]:
        html = client.get("/", query_string={"q": query}).get_data(as_text=True)
        assert "Dev Patel" in html and "Maria Alvarez" not in html, query
    html = client.get("/", query_string={"q": "nobody-by-this-name"}).get_data(as_text=True)
    assert "No stories match" in html


def test_filter_by_tag(client, wall) -> None:
    html = client.get("/", query_string={"tag": "payroll"}).get_data(as_text=True)
    assert "Dev Patel" in html and "Maria Alvarez" not in html


def test_search_text_is_escaped(client, wall) -> None:
    html = client.get("/", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_story_page(client, wall) -> None:
    response = client.get("/stories/dev")
    assert response.status_code == 200
    assert "Dev closes payroll for 4,000 nurses." in response.get_data(as_text=True)


@pytest.mark.parametrize("slug", ["pending-one", "nobody", "..%2F..%2Fetc"])
def test_story_page_hides_what_is_not_published(client, wall, slug) -> None:
    assert client.get(f"/stories/{slug}").status_code == 404


def test_api_lists_what_the_hallway_shows(client, wall) -> None:
    response = client.get("/api/stories")
    data = response.get_json()
    assert [s["slug"] for s in data["stories"]] == ["maria", "dev"]
    maria = data["stories"][0]
    for key in ["slug", "name", "role", "company", "quote", "kind", "photo", "seconds"]:
        assert key in maria
    assert maria["photo"]["src"].startswith("/photos/maria/")
    assert maria["photo"]["focus"] == [0.5, 0.3]
    assert data["stories"][1]["photo"] is None
    assert data["stories"][1]["portrait"]["initials"] == "DP"
    assert 8 <= maria["seconds"] <= 30


def test_api_etag_revalidates_with_304(client, wall, write_story) -> None:
    first = client.get("/api/stories")
    etag = first.headers["ETag"]
    again = client.get("/api/stories", headers={"If-None-Match": etag})
    assert again.status_code == 304
    write_story("dev", role="Payroll lead")
    wall.extensions["storywall"].index.refresh(["dev"])
    changed = client.get("/api/stories", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_api_filters_by_tags(client, wall) -> None:
    data = client.get("/api/stories?tags=dayton,nothing").get_json()
    assert [s["slug"] for s in data["stories"]] == ["maria"]


def test_events_stream_announces_versions(client, wall, write_story) -> None:
    response = client.get("/api/events")
    assert response.mimetype == "text/event-stream"
    chunks = response.response
    first = next(chunks).decode()
    index = wall.extensions["storywall"].index
    assert f"event: version\ndata: {index.version}" in first
    write_story("dev", role="Payroll lead")
    index.refresh(["dev"])
    assert next(chunks).decode() == f"event: version\ndata: {index.version}\n\n"
    response.close()


def test_healthz(client, wall, stories) -> None:
    (stories / "broken.md").write_text("nope")
    wall.extensions["storywall"].index.rescan()
    response = client.get("/healthz")
    assert response.status_code == 200  # a broken story file is no reason to pull the server
    data = response.get_json()
    assert data["status"] == "ok"
    assert data["index"]["loaded"] is True
    assert data["index"]["stories"] == 4
    assert data["index"]["on_hallway"] == 2
    assert data["index"]["problems"] == 1
    assert "alive" in data["watcher"]


def test_healthz_is_degraded_without_its_watcher(app, client, monkeypatch) -> None:
    wall = app.extensions["storywall"]
    wall.watch = "auto"  # asked to watch, but no watcher could start
    monkeypatch.setattr(wall, "ensure_watching", lambda: None)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "degraded"


def test_healthz_shows_the_stories_folder_only_to_moderators(
    client, admin_client, wall, stories
) -> None:
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 200
    assert str(stories) not in anonymous.get_data(as_text=True)
    assert "folder" not in anonymous.get_json()["index"]
    assert anonymous.get_json()["index"]["folder_exists"] is True
    signed_in = admin_client.get("/healthz").get_json()
    assert signed_in["index"]["folder"] == str(stories)


def test_photo_is_a_rendition_cached_for_a_year(client, wall) -> None:
    photo = client.get("/api/stories").get_json()["stories"][0]["photo"]
    with client.get(photo["src"]) as response:
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "immutable" in response.headers["Cache-Control"]
        assert Image.open(io.BytesIO(response.data)).width == 800  # never upscaled


@pytest.mark.parametrize(
    "url",
    [
        "/photos/maria/x/960.jpg/../../../../etc/passwd",
        "/photos/..%2F..%2Fetc/x/960.jpg",
        "/photos/maria/x/961.jpg",
        "/photos/maria/x/960.svg",
        "/photos/pending-one/x/960.jpg",
        "/stories/maria/maria.jpg",
        "/photos/maria/x/960.jpg%00.png",
    ],
)
def test_photo_paths_cannot_escape(client, wall, url) -> None:
    assert client.get(url).status_code == 404


def test_kiosk_page_has_no_inline_script(client, wall) -> None:
    response = client.get("/kiosk?screen=lobby&tags=a,b&interval=12")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html and 'data-interval="12"' in html


def test_kiosk_parameters_are_escaped(client, wall) -> None:
    response = client.get('/kiosk?screen="><script>x</script>&interval=' + "9" * 40)
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # the kiosk page itself, not an error page
    assert "<script>x" not in html
    assert 'data-screen="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html
    assert 'data-interval="9999999999999999"' in html  # cut short; the server checks it
    # What was not given stays empty: the playlist's defaults apply.
    assert 'data-tags=""' in html and 'data-hours=""' in html
    assert 'data-stories-url="/api/stories"' in html and 'data-events-url="/api/events"' in html
    query = {"screen": '"><script>x</script>', "interval": "9" * 16}
    playlist = client.get("/api/stories", query_string=query)
    assert playlist.status_code == 200
    screen = playlist.get_json()["screen"]
    # The playlist the page asks for: a bad name is dropped with a note, a huge
    # interval is capped, and everything else keeps its default.
    assert screen["name"] == "" and screen["interval"] == 600
    assert screen["tags"] == [] and screen["hours"] is None and screen["orientation"] == "auto"
    assert any("screen name ignored" in note for note in screen["notes"])
    assert len(playlist.get_json()["stories"]) == 2  # the whole wall, never an empty one


def test_static_files_get_versioned_urls_cached_for_a_year(client, wall) -> None:
    html = client.get("/kiosk").get_data(as_text=True)
    url = re.search(r'href="(/static/kiosk\.css\?v=[0-9a-f]+)"', html).group(1)
    with client.get(url) as response:
        assert response.status_code == 200
        assert "immutable" in response.headers["Cache-Control"]
    with client.get("/static/kiosk.css?v=stale") as response:
        assert response.headers["Cache-Control"] == "no-cache"


def test_the_kiosk_modules_are_versioned_as_one_folder(app, client, wall) -> None:
    """Modules import each other by relative URL, so their folder carries the version."""
    html = client.get("/kiosk").get_data(as_text=True)
    [main] = re.findall(r'<script type="module" src="([^"]+)"', html)
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)"', html)
    folder = main.rsplit("/", 1)[0]
    assert re.fullmatch(r"/static/kiosk\.[0-9a-f]{12}", folder)
    assert all(url.rsplit("/", 1)[0] == folder for url in preloaded)
    # Every module is named on the page, so the service worker keeps them all.
    modules = sorted(p.name for p in (Path(app.static_folder) / "kiosk").glob("*.js"))
    assert sorted(url.rsplit("/", 1)[1] for url in [main, *preloaded]) == modules
    for url in [main, *preloaded]:
        with client.get(url) as response:
            assert response.status_code == 200 and response.mimetype == "text/javascript"
            assert "immutable" in response.headers["Cache-Control"]
    # A page from an older release still gets the modules, but never keeps them.
    with client.get("/static/kiosk.000000000000/main.js") as response:
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"
        stale = response.get_data()
    with client.get(main) as response:
        assert stale == response.get_data()


def test_api_is_gzipped_for_browsers_that_ask(client, wall) -> None:
    import gzip
    import json

    plain = client.get("/api/stories")
    packed = client.get("/api/stories", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.data)) == plain.get_json()
    again = client.get(
        "/api/stories",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304


# -- errors and the favicon ------------------------------------------------------------------


def test_a_missing_page_is_the_wall_s_own_404(client) -> None:
    response = client.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "site-header" in html and 'href="/"' in html  # our layout, with a way back
    assert "Not Found</h1>" not in html  # not werkzeug's page


def test_a_wrong_method_is_the_wall_s_own_405(client) -> None:
    response = client.delete("/")
    assert response.status_code == 405
    assert "site-header" in response.get_data(as_text=True)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("method", "path", "code"), [("GET", "/api/nothing", 404), ("PUT", "/api/stories", 405)]
)
def test_api_errors_are_json(client, method, path, code) -> None:
    response = client.open(path, method=method)
    assert response.status_code == code and response.mimetype == "application/json"
    assert response.get_json()["error"]


def test_every_page_names_a_favicon_that_exists(client, wall) -> None:
    for page in ["/", "/stories/dev", "/kiosk", "/submit", "/login", "/nothing-here"]:
        html = client.get(page).get_data(as_text=True)
        links = re.findall(r'<link rel="icon" href="([^"]+)"', html)
        assert links, page
        for href in links:
            with client.get(href) as response:
                assert response.status_code == 200, href


def test_favicon_ico_is_served(client) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
        assert Image.open(io.BytesIO(response.data)).format == "ICO"


# -- pages of the wall -------------------------------------------------------------------------


def test_pages_of_the_wall(app, client, wall) -> None:
    app.config["PAGE_SIZE"] = 2
    first = client.get("/").get_data(as_text=True)
    assert "Page 1 of 2" in first and 'href="/?page=2"' in first
    last = client.get("/?page=2").get_data(as_text=True)
    assert "Dev Patel" in last and "Page 2 of 2" in last and 'href="/?page=1"' in last


@pytest.mark.parametrize(
    "page", ["3", "1000", "99999999999999999999999", "0", "-1", "abc", "２", ""]
)
def test_a_page_past_the_end_or_not_a_page_is_404_with_a_way_back(app, client, wall, page) -> None:
    app.config["PAGE_SIZE"] = 2
    response = client.get("/", query_string={"page": page})
    html = response.get_data(as_text=True)
    if page == "":
        assert response.status_code == 200  # ?page= with nothing is the first page
        return
    assert response.status_code == 404
    assert "No stories yet" not in html and "administrator" not in html
    assert "2 pages" in html and 'href="/?page=2"' in html


def test_a_page_past_the_end_of_a_filter_keeps_the_filter(app, client, wall) -> None:
    response = client.get("/", query_string={"tag": "payroll", "page": "2"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and "1 page" in html
    assert 'href="/?tag=payroll"' in html


def test_no_stories_yet_only_when_the_wall_is_empty(client) -> None:
    assert "No stories yet" in client.get("/").get_data(as_text=True)
    response = client.get("/?page=2")
    assert response.status_code == 404 and "No stories yet" not in response.get_data(as_text=True)


# -- the tag bar -------------------------------------------------------------------------------


@pytest.fixture
def many_tags(stories, instance, write_story):
    """A client of a wall with 22 tags in use (t00 on 20 stories ... t19 on one), two named."""
    from wall import create_app

    for n in range(20):
        write_story(f"story-{n:02}", name=f"Person {n}", tags=[f"t{t:02}" for t in range(20 - n)])
    write_story("hr-story", name="Hana Reyes", tags=["hr", "field-service"])
    app = create_app(
        {
            "STORIES_DIR": str(stories),
            "INSTANCE_PATH": str(instance),
            "WATCH": "off",
            "TESTING": True,
            "TAGS": {"hr": "HR", "T00": "Tag zero"},
        }
    )
    return app.test_client()


def tag_links(html: str) -> list[str]:
    return re.findall(r'href="/\?tag=([^"&]+)"', html)


def test_every_tag_can_be_reached(many_tags) -> None:
    client = many_tags
    html = client.get("/").get_data(as_text=True)
    links = tag_links(html)
    assert sorted(links) == sorted([f"t{t:02}" for t in range(20)] + ["hr", "field-service"])
    bar, more = html.split("<details", 1)
    assert len(tag_links(bar)) == 12 and "t00" in tag_links(bar)  # the most used, in the bar
    assert "t19" in tag_links(more) and "<summary" in more
    assert not re.search(r"<details[^>]* open", html)


def test_tags_show_their_display_names(many_tags) -> None:
    client = many_tags
    html = client.get("/").get_data(as_text=True)
    assert ">HR <" in html and ">Tag zero <" in html  # from the [tags] table, any case
    assert ">Field Service <" in html and ">T05 <" in html  # the slug in words
    html = client.get("/", query_string={"tag": "hr"}).get_data(as_text=True)
    assert "tagged HR" in html
    assert re.search(r"<details[^>]* open", html)  # the chosen tag is never hidden


def test_a_story_page_shows_tag_display_names(many_tags) -> None:
    client = many_tags
    html = client.get("/stories/hr-story").get_data(as_text=True)
    assert '<a href="/?tag=hr">HR</a>' in html


@pytest.mark.parametrize("bad", [["hr"], {"hr": 3}, {"hr": " "}, "HR"])
def test_a_bad_tags_table_stops_the_app_with_one_clear_message(stories, instance, bad) -> None:
    from wall import create_app

    with pytest.raises(ValueError, match=r"\[tags\]"):
        create_app(
            {
                "STORIES_DIR": str(stories),
                "INSTANCE_PATH": str(instance),
                "WATCH": "off",
                "TAGS": bad,
            }
        )
