"""The kiosk's playlist: kept entries make exactly what a build from scratch makes; gzip and 304."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import TODAY
from wall.watcher import StoryWatcher
from wall.web import api, gzipped, playlists

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def wall(app, index, write_story):
    """Five stories, one with a photo; every kiosk URL asked for once, so entries are kept."""
    for n in range(5):
        write_story(f"story-{n}", name=f"Person {n}", tags=[f"t{n % 2}"], photo=None)
    write_story("pictured", name="Maria Alvarez", photo="maria.jpg")
    (index.root / "pictured" / "maria.jpg").write_bytes(_jpeg((180, 120, 90)))
    index.rescan()
    return app


def as_built_afresh(app, client, url: str, headers: dict[str, str] | None = None):
    """The same request answered by a worker that has kept nothing."""
    app.extensions.pop("storywall.playlists", None)
    return client.get(url, headers=headers or {})


URLS = ["/api/stories", "/api/stories?tags=t1", "/api/stories?screen=lobby&interval=12"]


def changed_then_compared(app, client, index, change) -> list[dict]:
    """Ask for every playlist, make `change`, then compare what is kept with a fresh build."""
    for url in URLS:
        client.get(url)
    change()
    index.rescan()
    listed = []
    for url in URLS:
        kept, kept_gzip = client.get(url), client.get(url, headers=GZIP)
        fresh = as_built_afresh(app, client, url)
        fresh_gzip = client.get(url, headers=GZIP)
        assert kept.status_code == fresh.status_code == 200
        assert kept.data == fresh.data, url
        assert kept.headers["ETag"] == fresh.headers["ETag"]
        # The same bytes compressed, whichever pieces were kept: one strong ETag, one body.
        assert kept_gzip.data == fresh_gzip.data and gzip.decompress(kept_gzip.data) == kept.data
        # And the joined entries are the one JSON document json.dumps would write.
        data = json.loads(kept.data)
        assert json.dumps(data, separators=(",", ":")).encode() == kept.data
        listed.append(data)
    return listed


def slugs(listed: list[dict]) -> list[str]:
    return [s["slug"] for s in listed[0]["stories"]]


def test_an_edit_is_in_the_playlist_as_a_fresh_build_has_it(wall, client, index, write_story):
    listed = changed_then_compared(
        wall, client, index, lambda: write_story("story-3", name="Person 3", role="DBA")
    )
    assert {s["slug"]: s["role"] for s in listed[0]["stories"]}["story-3"] == "DBA"


def test_an_added_story_is_in_the_playlist_in_its_place(wall, client, index, write_story):
    listed = changed_then_compared(
        wall,
        client,
        index,
        lambda: write_story("newest", name="New Person", date=TODAY.isoformat(), tags=["t1"]),
    )
    assert slugs(listed)[0] == "newest" and "newest" in slugs(listed[1:])
    assert listed[0]["cycle"].count("newest") == 2  # new: shown twice, as a fresh build does


def test_a_deleted_story_leaves_the_playlist(wall, client, index, stories: Path):
    listed = changed_then_compared(wall, client, index, lambda: shutil.rmtree(stories / "story-1"))
    assert "story-1" not in slugs(listed) and "story-1" not in listed[0]["cycle"]


def test_a_withdrawal_leaves_the_playlist_at_once(wall, client, index, write_story):
    def withdraw() -> None:
        write_story(
            "story-2",
            name="Person 2",
            tags=["t0"],
            consent={
                "given_by": "Person 2",
                "date": (TODAY.replace(day=1)).isoformat(),
                "scope": ["hallway", "intranet"],
                "withdrawn": TODAY.isoformat(),
            },
        )

    listed = changed_then_compared(wall, client, index, withdraw)
    for playlist in listed:
        assert "story-2" not in [s["slug"] for s in playlist["stories"]]
        assert "story-2" not in playlist["cycle"]


def test_a_consent_change_shows_as_the_customer_chose(wall, client, index, write_story):
    def anonymous() -> None:
        write_story(
            "story-4",
            name="Person 4",
            tags=["t0"],
            consent={
                "given_by": "Person 4",
                "date": TODAY.isoformat(),
                "scope": ["hallway"],
                "credit": "anonymous",
            },
        )

    listed = changed_then_compared(wall, client, index, anonymous)
    entry = {s["slug"]: s for s in listed[0]["stories"]}["story-4"]
    assert entry["name"] == "Swing-shift foreman" and "Person 4" not in json.dumps(entry)


def test_a_replaced_photo_gets_new_addresses(wall, client, index):
    before = {s["slug"]: s for s in client.get("/api/stories").get_json()["stories"]}
    photo = index.root / "pictured" / "maria.jpg"

    def replace() -> None:
        photo.write_bytes(_jpeg((20, 40, 200)) + b"\0" * 16)

    listed = changed_then_compared(wall, client, index, replace)
    after = {s["slug"]: s for s in listed[0]["stories"]}
    assert after["pictured"]["photo"]["src"] != before["pictured"]["photo"]["src"]


def test_a_large_wall_is_compressed_in_pieces_and_edits_recompress_one(
    app, client, index, write_story, monkeypatch
):
    monkeypatch.setattr(playlists, "PIECE", 8)  # many pieces from a few stories
    for n in range(120):
        write_story(f"story-{n:03d}", name=f"Person {n}", tags=[f"t{n % 3}"])
    index.rescan()
    before = client.get("/api/stories", headers=GZIP).data
    compressed: list[bytes] = []
    real = gzipped.deflated
    monkeypatch.setattr(gzipped, "deflated", lambda p: compressed.append(p) or real(p))
    write_story("story-077", name="Person 77", role="DBA", tags=["t2"])
    index.rescan()
    after = client.get("/api/stories", headers=GZIP).data
    # Only the piece holding the edit (the order, so the closing part, is as it was).
    assert len(compressed) == 1 and b"DBA" in compressed[0]
    assert gzip.decompress(after) == client.get("/api/stories").data != gzip.decompress(before)
    fresh = as_built_afresh(app, client, "/api/stories", GZIP)
    assert fresh.data == after


def test_an_edit_encodes_only_the_story_that_changed(wall, client, index, write_story, monkeypatch):
    client.get("/api/stories")
    encoded: list[str] = []
    real = playlists.story_json

    def counting(story, links=None):  # type: ignore[no-untyped-def]
        encoded.append(story.slug)
        return real(story, links)

    monkeypatch.setattr(playlists, "story_json", counting)
    write_story("story-0", name="Person 0", role="Payroll lead", tags=["t0"])
    index.rescan()
    assert client.get("/api/stories").get_json()["stories"]
    assert encoded == ["story-0"]


def test_each_address_gets_its_own_links(wall, client, monkeypatch):
    here = client.get("/api/stories", base_url="http://wall.example").get_json()
    there = client.get("/api/stories", base_url="http://10.0.0.5:8000").get_json()
    assert here["stories"][0]["url"].startswith("http://wall.example/stories/")
    assert there["stories"][0]["url"].startswith("http://10.0.0.5:8000/stories/")


def test_kept_entries_are_bounded_however_many_hosts_are_made_up(wall, client):
    for n in range(playlists.ADDRESSES * 3):
        client.get("/api/stories", base_url=f"http://made-up-{n}.example")
    assert len(wall.extensions["storywall.playlists"]._entries) == playlists.ADDRESSES


# -- as a kiosk asks: gzip, and revalidation -------------------------------------------


def test_gzip_is_the_same_json_compressed_once(wall, client):
    plain = client.get("/api/stories")
    packed = client.get("/api/stories", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["Content-Length"] == str(len(packed.data))
    for response in (plain, packed):
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.mimetype == "application/json"
    # Two representations, two validators: a cache must not answer one with the other.
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'


def test_a_kiosk_revalidates_with_304_and_nothing_else(wall, client, index, write_story):
    first = client.get("/api/stories", headers=GZIP)
    etag = first.headers["ETag"]
    again = client.get("/api/stories", headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in again.headers or again.headers["Content-Encoding"] == "gzip"
    # A browser may send the validator as weak, or several.
    for sent in (f"W/{etag}", f'"something-else", {etag}', "*"):
        assert (
            client.get("/api/stories", headers={**GZIP, "If-None-Match": sent}).status_code == 304
        )
    # The other representation's validator does not match.
    plain = client.get("/api/stories", headers={"If-None-Match": etag})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    # After a change, the old validator gets the new playlist.
    write_story("story-0", name="Person 0", role="Payroll lead", tags=["t0"])
    index.rescan()
    changed = client.get("/api/stories", headers={**GZIP, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert b"Payroll lead" in gzip.decompress(changed.data)


def test_a_withdrawal_is_never_answered_with_304(wall, client, index, write_story):
    etag = client.get("/api/stories", headers=GZIP).headers["ETag"]
    write_story(
        "story-3",
        name="Person 3",
        consent={
            "given_by": "Person 3",
            "date": TODAY.isoformat(),
            "scope": ["hallway"],
            "withdrawn": TODAY.isoformat(),
        },
    )
    index.refresh(["story-3"])
    response = client.get("/api/stories", headers={**GZIP, "If-None-Match": etag})
    assert response.status_code == 200
    assert "story-3" not in [
        s["slug"] for s in json.loads(gzip.decompress(response.data))["stories"]
    ]


def test_a_head_request_has_the_headers_and_no_body(wall, client):
    head = client.head("/api/stories", headers=GZIP)
    get = client.get("/api/stories", headers=GZIP)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


# -- the kiosks' usual questions, answered again without Flask ---------------------------


def test_the_answer_given_again_is_the_one_flask_gave(wall, client, monkeypatch):
    made: list[str] = []
    real = api.playlist_for

    def counting(screen):  # type: ignore[no-untyped-def]
        made.append(screen.name)
        return real(screen)

    monkeypatch.setattr(api, "playlist_for", counting)
    for headers in (GZIP, {}):
        url = "/api/stories?screen=lobby&tags=t1"
        first = client.get(url, headers=headers)
        again = client.get(url, headers=headers)
        assert again.status_code == first.status_code == 200
        assert again.data == first.data and list(again.headers) == list(first.headers)
        etag = {"If-None-Match": first.headers["ETag"]}
        checked = client.get(url, headers={**headers, **etag})
        rechecked = client.get(url, headers={**headers, **etag})
        assert rechecked.status_code == checked.status_code == 304
        assert list(rechecked.headers) == list(checked.headers) and rechecked.data == b""
    # Flask answered the first of each kind; the rest were given again.
    assert made == ["lobby"] * 4
    assert "Content-Security-Policy" in again.headers  # the app's headers, as Flask set them


def test_an_answer_is_not_given_again_after_a_change(wall, client, index, write_story):
    etag = client.get("/api/stories", headers=GZIP).headers["ETag"]
    assert client.get("/api/stories", headers={**GZIP, "If-None-Match": etag}).status_code == 304
    write_story("story-3", name="Person 3", role="Payroll lead")
    index.refresh(["story-3"])
    changed = client.get("/api/stories", headers={**GZIP, "If-None-Match": etag})
    assert changed.status_code == 200
    assert b"Payroll lead" in gzip.decompress(changed.data)


def test_a_withdrawal_the_watcher_holds_is_applied_before_any_answer(
    wall, client, index, write_story
):
    walled = wall.extensions["storywall"]
    # A watcher that notices at once but would wait half a minute for quiet.
    watcher = StoryWatcher(index, quiet=30, max_delay=60)
    watcher.start()
    walled.watcher, walled._watching_pid = watcher, os.getpid()
    try:
        etag = client.get("/api/stories", headers=GZIP).headers["ETag"]
        assert (
            client.get("/api/stories", headers={**GZIP, "If-None-Match": etag}).status_code == 304
        )
        write_story(
            "story-1",
            name="Person 1",
            consent={
                "given_by": "Person 1",
                "date": TODAY.isoformat(),
                "scope": ["hallway"],
                "withdrawn": TODAY.isoformat(),
            },
        )
        deadline = time.monotonic() + 10
        while watcher._paths.empty() and not watcher._pending:  # noticed, not applied
            assert time.monotonic() < deadline, "the watcher never noticed"
            time.sleep(0.01)
        response = client.get("/api/stories", headers={**GZIP, "If-None-Match": etag})
        assert response.status_code == 200
        listed = json.loads(gzip.decompress(response.data))["stories"]
        assert "story-1" not in [s["slug"] for s in listed]
    finally:
        watcher.stop()
        walled.watcher, walled._watching_pid = None, None


def test_other_questions_go_to_flask(wall, client, monkeypatch):
    etag = client.get("/api/stories", headers=GZIP).headers["ETag"]
    client.get("/api/stories", headers={**GZIP, "If-None-Match": etag})
    made: list[str] = []
    real = api.playlist_for
    monkeypatch.setattr(api, "playlist_for", lambda s: made.append(s.name) or real(s))
    for headers in (
        {"If-None-Match": f"W/{etag}"},
        {"If-None-Match": '"an-old-one-gz"'},
        {"Range": "bytes=0-10"},
        {"If-Modified-Since": "Mon, 30 Nov 2026 07:00:00 GMT"},
    ):
        client.get("/api/stories", headers={**GZIP, **headers})
    client.head("/api/stories", headers=GZIP)
    assert len(made) == 5
