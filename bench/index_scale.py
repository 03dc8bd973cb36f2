"""Index scale: cold start and one-edit cost for a wall of 10 and of 10,000 stories.

The 10-story wall is the baseline measured in the same run: the claim is that
one edit costs the same on both, and start-up grows linearly.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from wall.index import StoryIndex
from wall.watcher import StoryWatcher

from .common import make_wall, median, percentile, rss_mb

EDITS = 50


def cold_start(folder: Path) -> tuple[float, StoryIndex]:
    gc.collect()
    started = time.perf_counter()
    index = StoryIndex(folder)
    index.load()
    return time.perf_counter() - started, index


def yaml_floor(folder: Path) -> float:
    """The baseline: read every file and parse its front matter with libyaml, nothing else."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    gc.collect()
    started = time.perf_counter()
    for path in folder.glob("*/index.md"):
        text = path.read_text()
        yaml.load(text.split("---\n", 2)[1], Loader=loader)
    return time.perf_counter() - started


def edit_cost(index: StoryIndex, folder: Path) -> list[float]:
    """Time from a file being rewritten to the index holding the new version (no watcher)."""
    times = []
    path = folder / "person-00003" / "index.md"
    original = path.read_text()
    for n in range(EDITS):
        path.write_text(original.replace("Story number 3", f"Story number 3, edit {n}"))
        started = time.perf_counter()
        index.refresh_paths([path])
        times.append(time.perf_counter() - started)
        assert index.get("person-00003").title.endswith(f"edit {n}")
    path.write_text(original)
    index.refresh_paths([path])
    return times


def save_to_index(index: StoryIndex, folder: Path) -> list[float]:
    """Time from a write returning to the watcher having updated the index."""
    watcher = StoryWatcher(index)
    watcher.start()
    path = folder / "person-00005" / "index.md"
    original = path.read_text()
    times = []
    try:
        for n in range(20):
            version = index.version
            path.write_text(original.replace("Story number 5", f"Story number 5, save {n}"))
            started = time.perf_counter()
            while index.wait_for_change(version, 5) == version:
                pass
            times.append(time.perf_counter() - started)
    finally:
        path.write_text(original)
        watcher.stop()
    return times


def run(data: Path) -> dict[str, object]:
    results: dict[str, object] = {}
    for count in (10, 10_000):
        folder = make_wall(data / f"wall-{count}", count)
        floor = yaml_floor(folder)
        before = rss_mb()
        seconds, index = cold_start(folder)
        assert len(index.stories()) == count, len(index.stories())
        memory = rss_mb() - before
        process_rss = rss_mb()
        cache = data / f"index-cache-{count}.pickle"
        cache.unlink(missing_ok=True)
        StoryIndex(folder).load(cache=cache)  # a first start writes the cache
        gc.collect()
        started = time.perf_counter()
        StoryIndex(folder).load(cache=cache)
        restart = time.perf_counter() - started
        edits = edit_cost(index, folder)
        saves = save_to_index(index, folder)
        results[count] = {
            "cold_start_s": seconds,
            "yaml_floor_s": floor,
            "restart_s": restart,
            "process_rss_mb": process_rss,
            "index_memory_mb": memory,
            "edit_median_ms": median(edits) * 1000,
            "edit_p95_ms": percentile(edits, 0.95) * 1000,
            "save_to_index_median_ms": median(saves) * 1000,
            "save_to_index_p95_ms": percentile(saves, 0.95) * 1000,
        }
        del index
    return results


def report(results: dict) -> str:
    small, big = results[10], results[10_000]
    lines = [
        "## Index scale (`bench/index_scale.py`)",
        "",
        "A wall of 10 stories is the baseline; the same measurements on 10,000.",
        "",
        "| measure | 10 stories | 10,000 stories | ratio | goal |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| cold start (read and index every file) | {small['cold_start_s']:.3f} s | "
        f"{big['cold_start_s']:.2f} s | | ≤ 5 s (core issue), ≤ 3 s (serving issue) |",
        f"| baseline: read every file and parse its YAML, nothing else | "
        f"{small['yaml_floor_s']:.3f} s | {big['yaml_floor_s']:.2f} s | | |",
        f"| cold start ÷ that baseline | | {big['cold_start_s'] / big['yaml_floor_s']:.2f}× | | |",
        f"| restart (unchanged files reused from the instance cache) | "
        f"{small['restart_s']:.3f} s | {big['restart_s']:.2f} s | | |",
        f"| memory held by the index | {small['index_memory_mb']:.1f} MB | "
        f"{big['index_memory_mb']:.0f} MB | | |",
        f"| resident memory of the process after loading | {small['process_rss_mb']:.0f} MB | "
        f"{big['process_rss_mb']:.0f} MB | | ≤ 300 MB |",
        f"| one edit re-read, median | {small['edit_median_ms']:.2f} ms | "
        f"{big['edit_median_ms']:.2f} ms | {big['edit_median_ms'] / small['edit_median_ms']:.2f}× "
        "| same as with 10; ≤ 10 ms |",
        f"| one edit re-read, p95 | {small['edit_p95_ms']:.2f} ms | {big['edit_p95_ms']:.2f} ms | "
        f"{big['edit_p95_ms'] / small['edit_p95_ms']:.2f}× | |",
        f"| save → index updated by the watcher, median | {small['save_to_index_median_ms']:.0f} ms"
        f" | {big['save_to_index_median_ms']:.0f} ms | "
        f"{big['save_to_index_median_ms'] / small['save_to_index_median_ms']:.2f}× | < 1 s |",
        f"| save → index updated by the watcher, p95 | {small['save_to_index_p95_ms']:.0f} ms | "
        f"{big['save_to_index_p95_ms']:.0f} ms | | |",
    ]
    return "\n".join(lines) + "\n"
