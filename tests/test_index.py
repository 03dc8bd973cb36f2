"""The live index: converges to what is on disk, re-reads only what changed."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from wall import index as index_module
from wall import index_cache
from wall.index import StoryIndex


def loaded(stories: Path) -> StoryIndex:
    index = StoryIndex(stories)
    index.load()
    return index


def test_load_reads_bundles_and_single_files(stories, write_story) -> None:
    write_story("maria")
    write_story("dev-patel", single=True, name="Dev Patel")
    index = loaded(stories)
    assert {s.slug for s in index.stories()} == {"maria", "dev-patel"}
    assert index.loaded and index.problems() == []


def test_featured_first_then_newest(stories, write_story) -> None:
    write_story("old", date="2026-01-01")
    write_story("new", date="2026-09-01")
    write_story("star", date="2025-01-01", featured=True)
    assert [s.slug for s in loaded(stories).stories()] == ["star", "new", "old"]


def test_bad_files_are_skipped_and_reported(stories, write_story) -> None:
    write_story("good")
    (stories / "broken.md").write_text("---\nname: [unclosed\n---\n")
    (stories / "empty-folder").mkdir()
    index = loaded(stories)
    assert [s.slug for s in index.stories()] == ["good"]
    messages = [str(p) for p in index.problems()]
    assert any("broken.md" in m and "YAML syntax error" in m for m in messages)
    assert any("empty-folder" in m and "no index.md" in m for m in messages)


def test_ignored_names_are_never_stories(stories, write_story) -> None:
    write_story("_draft")
    write_story(".hidden")
    (stories / "notes.md~").write_text("junk")
    (stories / "README.md").write_text("# Our stories\n")
    index = loaded(stories)
    assert index.stories() == [] and index.problems() == []


def test_refresh_converges_and_bumps_version_only_on_change(stories, write_story) -> None:
    index = loaded(stories)
    start = index.version
    path = write_story("maria")
    assert index.refresh(["maria"]) and index.version == start + 1
    assert not index.refresh(["maria"]) and index.version == start + 1  # nothing new on disk
    path.write_text(path.read_text().replace("Swing-shift foreman", "Plant manager"))
    assert index.refresh(["maria"])
    assert index.get("maria").role == "Plant manager"
    shutil.rmtree(path.parent)
    assert index.refresh(["maria"]) and index.get("maria") is None


def test_a_withdrawn_approval_takes_the_story_off_at_once(stories, write_story) -> None:
    write_story("maria")
    index = loaded(stories)
    assert [s.slug for s in index.visible("hallway")] == ["maria"]
    write_story("maria", status="pending")
    index.refresh(["maria"])
    assert index.visible("hallway") == []


def test_a_file_broken_by_an_edit_leaves_the_screen(stories, write_story) -> None:
    """The old version must never stay up when the new one cannot be read."""
    path = write_story("maria")
    index = loaded(stories)
    path.write_text("---\nname: Maria\nstatus: [oops\n---\n")
    index.refresh(["maria"])
    assert index.get("maria") is None
    assert index.visible("hallway") == []
    assert index.problems()


def test_a_fixed_file_comes_back(stories, write_story) -> None:
    path = write_story("maria", photo="maria.jpg")
    index = loaded(stories)
    assert index.get("maria") is None  # photo missing
    (path.parent / "maria.jpg").write_bytes(b"not checked here")
    index.refresh_paths([path.parent / "maria.jpg"])
    assert index.get("maria") is not None


def test_refresh_paths_maps_changes_to_stories(stories, write_story) -> None:
    index = loaded(stories)
    write_story("maria")
    assert index.refresh_paths([stories / "maria" / "index.md"])
    assert not index.refresh_paths([stories / "maria" / ".index.md.swp"])
    assert index.get("maria") is not None


def test_one_edit_reads_one_file(stories, write_story, monkeypatch) -> None:
    for n in range(200):
        write_story(f"story-{n}")
    index = loaded(stories)
    reads: list[Path] = []
    real = index_module.load_story

    def counting(path, root=None, **options):
        reads.append(path)
        return real(path, root, **options)

    monkeypatch.setattr(index_module, "load_story", counting)
    write_story("story-7", role="DBA")
    index.refresh_paths([stories / "story-7" / "index.md"])
    assert reads == [stories / "story-7" / "index.md"]
    reads.clear()
    index.rescan()  # a full rescan compares stats; nothing else changed
    assert reads == []


def test_a_bundle_beats_a_single_file_with_its_slug(stories, write_story) -> None:
    write_story("maria")
    write_story("maria", single=True, name="Someone Else")
    index = loaded(stories)
    assert index.get("maria").name == "Maria Alvarez"
    assert any("same slug" in str(p) for p in index.problems())


def test_wait_for_change_wakes_on_change(stories, write_story) -> None:
    import threading

    index = loaded(stories)
    seen: list[int] = []
    start = index.version
    waiter = threading.Thread(target=lambda: seen.append(index.wait_for_change(start, 5)))
    waiter.start()
    write_story("maria")
    index.refresh(["maria"])
    waiter.join(5)
    assert seen == [start + 1]


def test_wait_for_change_times_out_without_change(stories) -> None:
    index = loaded(stories)
    assert index.wait_for_change(index.version, 0.05) == index.version


def test_day_change_bumps_version(stories, write_story) -> None:
    import datetime as dt

    days = iter([dt.date(2026, 11, 22), dt.date(2026, 11, 22), dt.date(2026, 11, 23)])
    index = StoryIndex(stories, today=lambda: next(days))
    index.load()
    version = index.version
    assert not index.tick()
    assert index.tick() and index.version == version + 1


def test_tags_counts_visible_stories(stories, write_story) -> None:
    write_story("a", tags=["payroll", "healthcare"])
    write_story("b", tags=["payroll"])
    write_story("c", tags=["secret"], status="pending")
    assert loaded(stories).tags("intranet") == [("payroll", 2), ("healthcare", 1)]


def test_a_restart_reuses_what_did_not_change(stories, write_story, tmp_path, monkeypatch) -> None:
    # Files changed just before a load are read again on the next one (see
    # test_a_change_the_stat_cannot_show_is_read_again); these were not.
    monkeypatch.setattr(index_module, "UNSURE_NS", 0)
    for n in range(5):
        write_story(f"story-{n}")
    cache = tmp_path / "instance" / "index-cache.pickle"
    StoryIndex(stories).load(cache=cache)
    write_story("story-2", role="DBA")
    (stories / "story-4" / "index.md").unlink()
    reads: list[Path] = []
    real = index_module.load_story

    def counting(path, root=None, **options):
        reads.append(path)
        return real(path, root, **options)

    monkeypatch.setattr(index_module, "load_story", counting)
    index = StoryIndex(stories)
    index.load(cache=cache)
    assert reads == [stories / "story-2" / "index.md"]
    assert index.get("story-2").role == "DBA"
    assert index.get("story-4") is None and any("no index.md" in str(p) for p in index.problems())
    assert {s.slug for s in index.stories()} == {"story-0", "story-1", "story-2", "story-3"}


def test_a_broken_cache_is_ignored(stories, write_story, tmp_path) -> None:
    write_story("maria")
    cache = tmp_path / "index-cache.pickle"
    cache.write_bytes(b"not a pickle")
    index = StoryIndex(stories)
    index.load(cache=cache)
    assert index.get("maria") is not None


def _as_if_read_before(index: StoryIndex, slug: str, **fields: object) -> None:
    """Make the index hold an older content of `slug` under the file's current stat.

    That is what a read leaves when the file changes again within the same
    clock tick: the stat the index recorded is the stat the file has now.
    """
    entry = index._entries[slug]
    older = dataclasses.replace(entry.story, **fields)
    index._entries[slug] = dataclasses.replace(entry, story=older)


def test_a_change_the_stat_cannot_show_is_read_again(stories, write_story, tmp_path) -> None:
    write_story("maria", role="DBA")
    cache = tmp_path / "index-cache.pickle"
    first = StoryIndex(stories)
    first.load(cache=cache)
    _as_if_read_before(first, "maria", role="Swing-shift foreman")
    index_cache.write(cache, first.root, first.loaded_ns, dict(first._entries))
    # The next start does not trust the cached stat of a file changed so
    # shortly before the cache was read.
    again = StoryIndex(stories)
    again.load(cache=cache)
    assert again.get("maria").role == "DBA"


def test_a_forked_worker_catches_up_with_changes_since_the_load(stories, write_story) -> None:
    for slug in ("kept", "edited", "withdrawn", "deleted", "same-tick"):
        write_story(slug, name=slug.title())
    index = loaded(stories)
    # Between the load and the worker's watcher: an edit, a withdrawal, a
    # delete, a new story, and a change the stat cannot show.
    write_story("edited", name="Edited", role="DBA")
    write_story("withdrawn", name="Withdrawn", consent={
        "given_by": "Withdrawn", "date": "2026-01-01", "scope": ["hallway", "intranet"],
        "withdrawn": "2026-01-02",
    })  # fmt: skip
    shutil.rmtree(stories / "deleted")
    write_story("added", name="Added")
    _as_if_read_before(index, "same-tick", role="Not any more")
    assert index.catch_up()
    assert index.get("edited").role == "DBA"
    assert "withdrawn" not in {s.slug for s in index.visible("hallway")}
    assert index.get("deleted") is None and index.get("added") is not None
    assert index.get("same-tick").role == "Swing-shift foreman"


def test_a_forked_worker_reads_again_only_what_changed(stories, write_story, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "UNSURE_NS", 0)  # as in the restart test above
    for n in range(5):
        write_story(f"story-{n}")
    index = loaded(stories)
    kept = index.get("story-0")
    write_story("story-2", role="DBA")
    reads: list[Path] = []
    real = index_module.load_story

    def counting(path, root=None, **options):
        reads.append(path)
        return real(path, root, **options)

    monkeypatch.setattr(index_module, "load_story", counting)
    assert index.catch_up()
    assert reads == [stories / "story-2" / "index.md"]
    assert index.get("story-0") is kept


def test_kept_orders_match_a_sort_from_scratch(stories, write_story) -> None:
    import random

    rng = random.Random(14)
    for n in range(40):
        write_story(f"s{n:02d}", date=f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}")
    index = loaded(stories)
    index.visible("hallway"), index.visible("intranet")  # kept from here on, per change
    for step in range(60):
        slug = f"s{rng.randrange(50):02d}"
        change = rng.choice(["edit", "feature", "withdraw", "intranet-only", "delete"])
        if change == "delete":
            shutil.rmtree(stories / slug, ignore_errors=True)
        else:
            scope = ["intranet"] if change == "intranet-only" else ["hallway", "intranet"]
            consent = {"given_by": "M", "date": "2026-01-01", "scope": scope}
            if change == "withdraw":
                consent["withdrawn"] = "2026-01-02"
            write_story(
                slug,
                role=f"role {step}",
                date=f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                featured=change == "feature",
                consent=consent,
            )
        index.refresh([slug])
        fresh = loaded(stories)
        assert [s.slug for s in index.stories()] == [s.slug for s in fresh.stories()]
        for place in ("hallway", "intranet"):
            assert index.visible(place) == fresh.visible(place), (step, change, place)


# -- many new stories at once: half read by a forked helper ---------------------------------------

# Run in a process of its own, as `storywall serve` and `storywall check` load:
# one thread, so the index may fork a helper. It loads the folder twice, with
# and without the helper, and prints what differs.
LOAD_BOTH_WAYS = """
import json, sys
from pathlib import Path
from wall import index as index_module
from wall.index import StoryIndex

helpers = []
real = index_module._HelperRead
index_module._HelperRead = lambda read, slugs: helpers.append(len(slugs)) or real(read, slugs)

def load(may_fork):
    index_module._may_fork = lambda: may_fork
    index = StoryIndex(Path(sys.argv[1]))
    index.load()
    return index

helped, alone = load(True), load(False)
print(json.dumps({
    "helpers": helpers,
    "stories": len(helped.stories()),
    "same_stories": helped.stories() == alone.stories(),
    "problems": sorted(str(p) for p in helped.problems()),
    "same_problems": helped.problems() == alone.problems(),
    "same_hallway": helped.visible("hallway") == alone.visible("hallway"),
}))
"""


def _load_both_ways(stories: Path) -> dict:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LOAD_BOTH_WAYS, str(stories)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def _many_stories(stories: Path, write_story) -> None:
    text = (write_story("story-00000", name="Person 0")).read_text()
    for n in range(1, index_module.HELPER_FROM + 100):
        (stories / f"story-{n:05d}").mkdir()
        (stories / f"story-{n:05d}" / "index.md").write_text(
            text.replace("Person 0", f"Person {n}")
        )
    # Problems in both halves: a broken file, a bundle with no story yet.
    (stories / "story-00007" / "index.md").write_text("---\nname: [unclosed\n---\nBody\n")
    (stories / f"story-{index_module.HELPER_FROM:05d}" / "index.md").unlink()


def test_a_first_load_of_many_stories_reads_half_in_a_helper(stories, write_story) -> None:
    _many_stories(stories, write_story)
    seen = _load_both_ways(stories)
    assert seen["helpers"] and seen["helpers"][0] >= index_module.HELPER_FROM // 2
    assert seen["stories"] == index_module.HELPER_FROM + 98
    assert seen["same_stories"] and seen["same_problems"] and seen["same_hallway"]
    assert len(seen["problems"]) == 2
    assert any("story-00007" in p and "YAML" in p for p in seen["problems"])
    assert any(f"story-{index_module.HELPER_FROM:05d}" in p for p in seen["problems"])


def test_when_the_helper_fails_its_share_is_read_here(stories, write_story, monkeypatch) -> None:
    _many_stories(stories, write_story)
    monkeypatch.setattr(index_module, "_may_fork", lambda: True)
    # The helper dies handing back what it read (a full pipe, an OOM kill).
    monkeypatch.setattr(index_module.pickle, "dump", lambda *a, **k: os._exit(9))
    index = loaded(stories)
    assert len(index.stories()) == index_module.HELPER_FROM + 98
    assert len(index.problems()) == 2


def test_with_no_process_to_spare_every_story_is_read_here(stories, write_story, monkeypatch):  # type: ignore[no-untyped-def]
    _many_stories(stories, write_story)
    monkeypatch.setattr(index_module, "_may_fork", lambda: True)

    def no_fork() -> int:  # as fork fails at a process limit or out of memory
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(index_module.os, "fork", no_fork)
    open_before = len(os.listdir("/proc/self/fd"))
    index = loaded(stories)
    assert len(index.stories()) == index_module.HELPER_FROM + 98
    assert len(index.problems()) == 2
    assert len(os.listdir("/proc/self/fd")) == open_before  # the pipe was closed
