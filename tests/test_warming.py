"""Renditions made before anyone asks: the background photo warmer, and what the admin says.

Real story files, real photos and the real photo pipeline. Tests that need no
thread drive the warmer's two steps themselves (`look()`, `work_one()`);
the others wait for it with a timeout, never a sleep.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import story_text
from tests.support import Server
from wall.index import StoryIndex
from wall.photos import SIZES, PhotoCache, PhotoError
from wall.warming import PhotoWarmer

WAIT = 60  # seconds: generous, for a shared machine; a pass takes well under one


def jpeg(size: tuple[int, int] = (1200, 900), shade: int = 0) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    if shade:
        image = Image.eval(image, lambda v: (v + shade) % 256)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def add_story(stories: Path, slug: str, data: bytes | None = None, **fields: object) -> Path:
    """A story bundle with a photo (unless `data` is None); returns the photo's path."""
    folder = stories / slug
    folder.mkdir(exist_ok=True)
    photo = folder / "photo.jpg"
    if data is not None:
        photo.write_bytes(data)
        fields.setdefault("photo", "photo.jpg")
    (folder / "index.md").write_text(story_text(name=slug.title(), **fields), encoding="utf-8")
    return photo.absolute()


def rendition_files(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.suffix in (".webp", ".jpg")
    }


@pytest.fixture
def index(stories: Path) -> StoryIndex:
    index = StoryIndex(stories.absolute())
    index.load()
    return index


@pytest.fixture
def cache(instance: Path) -> PhotoCache:
    return PhotoCache(instance / "renditions")


@pytest.fixture
def warmer(index: StoryIndex, cache: PhotoCache) -> Iterator[PhotoWarmer]:
    warmer = PhotoWarmer(index, cache)
    yield warmer
    warmer.stop(timeout=10)
    assert not warmer.running, "the warmer's thread outlived its test"


def work_through(warmer: PhotoWarmer) -> int:
    """Take the warmer's steps by hand until nothing is left; how many photos it saw to."""
    warmer.look()
    seen = 0
    while warmer.work_one():
        seen += 1
    return seen


# -- in the background -------------------------------------------------------------------------


def test_a_new_story_photo_is_prepared_before_anyone_asks(stories, index, cache, warmer) -> None:
    warmer.start()
    assert warmer.wait_until_idle(WAIT)
    photo = add_story(stories, "maria", jpeg((1600, 1200)))
    index.rescan()
    assert warmer.wait_until_idle(WAIT)
    assert cache.preparation(photo) == ""
    made = cache.made
    for size in SIZES:
        for fmt in ("webp", "jpg"):
            assert cache.rendition(photo, size, fmt).is_file()
    assert cache.made == made  # every rendition was on disk already


def test_an_edited_photo_is_prepared_again(stories, index, cache, warmer) -> None:
    photo = add_story(stories, "maria", jpeg())
    index.rescan()
    warmer.start()
    assert warmer.wait_until_idle(WAIT) and cache.preparation(photo) == ""
    photo.write_bytes(jpeg(shade=80))
    index.rescan()
    assert cache.preparation(photo) is None or warmer.prepared == 2
    assert warmer.wait_until_idle(WAIT)
    assert cache.preparation(photo) == "" and warmer.prepared == 2


@pytest.mark.skipif(sys.platform != "linux", reason="threads have their own priority on Linux")
def test_the_warmer_runs_below_the_priority_of_requests(warmer) -> None:
    warmer.start()
    assert warmer.wait_until_idle(WAIT)
    assert warmer.native_id is not None
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert os.getpriority(os.PRIO_PROCESS, warmer.native_id) == min(19, ours + 10)
    assert os.getpriority(os.PRIO_PROCESS, 0) == ours  # the process itself is left alone


def test_stopping_ends_the_thread(warmer) -> None:
    warmer.start()
    warmer.start()  # once per process
    assert [t.name for t in threading.enumerate()].count("photo-warmer") == 1
    warmer.stop(timeout=10)
    assert not warmer.running
    assert "photo-warmer" not in [t.name for t in threading.enumerate()]


# -- the queue, step by step -------------------------------------------------------------------


def test_the_queue_is_bounded_and_an_overflow_becomes_one_sweep(stories, index, cache) -> None:
    warmer = PhotoWarmer(index, cache, capacity=3)
    photos = [add_story(stories, f"s{n}", jpeg(shade=n)) for n in range(5)]
    index.rescan()
    warmer.look()
    assert warmer.waiting == 0 and warmer.sweeping and warmer.swept == 1
    assert work_through(warmer) == 5
    assert all(cache.preparation(p) == "" for p in photos)

    # Fewer than the queue holds: queued, each once, however often it changed.
    more = [add_story(stories, f"t{n}", jpeg(shade=50 + n)) for n in range(2)]
    index.rescan()
    add_story(stories, "t0", more[0].read_bytes(), quote="Said again, differently.")
    index.rescan()
    warmer.look()
    assert warmer.waiting == 2 and not warmer.sweeping
    assert work_through(warmer) == 2

    # More than it holds again: a second sweep, which passes over what is prepared.
    made = cache.made
    late = [add_story(stories, f"u{n}", jpeg(shade=100 + n)) for n in range(4)]
    index.rescan()
    warmer.look()
    assert warmer.waiting == 0 and warmer.swept == 2
    assert work_through(warmer) == 11  # every story's photo looked at
    assert warmer.prepared == 5 + 2 + 4
    assert all(cache.preparation(p) == "" for p in late)
    assert cache.made - made == 4 * 6  # only the new photos: 480, 960 and their own size, twice


def test_a_damaged_photo_is_recorded_and_the_others_go_on(stories, index, cache) -> None:
    warmer = PhotoWarmer(index, cache)
    bad = add_story(stories, "bad", jpeg()[:2000])
    good = add_story(stories, "good", jpeg())
    index.rescan()
    assert work_through(warmer) == 2
    assert "damaged or cut short" in cache.preparation(bad)
    assert cache.preparation(good) == ""
    assert work_through(warmer) == 0  # nothing changed: nothing looked at again


def test_a_photo_the_customer_did_not_agree_to_show_is_not_prepared(stories, index, cache) -> None:
    consent = {"given_by": "Hidden", "date": "2026-01-01", "scope": ["intranet"], "photo": False}
    photo = add_story(stories, "hidden", jpeg(), consent=consent)
    index.rescan()
    assert index.get("hidden") is not None and index.get("hidden").shown_photo is None
    assert work_through(PhotoWarmer(index, cache)) == 0
    assert cache.preparation(photo) is None and cache.made == 0


# -- what moderators see -----------------------------------------------------------------------


def test_the_admin_says_a_photo_is_being_prepared(app, admin_client, stories) -> None:
    photo = add_story(stories, "maria", jpeg(), status="pending")
    add_story(stories, "dev", jpeg()[:2000], status="pending")
    wall = app.extensions["storywall"]  # watching nothing, so preparing nothing by itself
    wall.index.rescan()
    for page in ("/admin/", "/admin/stories/maria"):
        html = admin_client.get(page).get_data(as_text=True)
        assert "Photo being prepared" in html, page

    wall.photos.prepare(photo)
    html = admin_client.get("/admin/stories/maria").get_data(as_text=True)
    assert "Photo being prepared" not in html
    with pytest.raises(PhotoError, match="damaged"):
        wall.photos.prepare(stories.absolute() / "dev" / "photo.jpg")
    queue = admin_client.get("/admin/").get_data(as_text=True)
    assert "Photo being prepared" not in queue
    assert "Photo cannot be shown" in queue and "damaged or cut short" in queue


# -- a real server -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_server_has_the_renditions_ready_for_the_first_screen(tmp_path) -> None:
    stories, instance = tmp_path / "stories", tmp_path / "instance"
    stories.mkdir()
    photo = add_story(stories, "maria", jpeg((3024, 4032)))
    server = Server(stories, instance)
    try:
        cache = PhotoCache(instance / "renditions")
        deadline = time.monotonic() + WAIT
        while cache.preparation(photo) != "":
            assert time.monotonic() < deadline, "the server never prepared the photo"
            time.sleep(0.05)
        # One more, while it runs: on screens within seconds, and its photo ready.
        late = add_story(stories, "dev", jpeg((4032, 3024)))
        deadline = time.monotonic() + WAIT
        while cache.preparation(late) != "" or "dev" not in server.slugs():
            assert time.monotonic() < deadline, "the server never prepared the new photo"
            time.sleep(0.05)
        before = rendition_files(instance / "renditions")
        for entry in server.json("/api/stories")["stories"]:
            for candidate in entry["photo"]["webp"].split(", "):
                status, body = server.get(candidate.split()[0])
                assert status == 200 and body[8:12] == b"WEBP"
        assert rendition_files(instance / "renditions") == before  # nothing made on request
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log
