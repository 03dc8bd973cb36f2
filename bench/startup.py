"""Start-up, edits and memory of `storywall serve` at 10,000 stories, from outside.

Each figure is measured on a real `storywall serve` (gunicorn, 2 workers), the
way an operator and a kiosk meet it:

- from the moment the command starts until `/api/stories` lists every story,
  on a first start (empty instance folder) and on a restart (its index cache
  there), next to the baseline: reading every file and parsing its front
  matter with libyaml, nothing else, in the same run, before each start;
- from an edit's write returning to `/api/stories` holding it, as a kiosk
  sees it (the `version` event, then the playlist), next to the same on a
  wall of 10 stories;
- resident memory of each worker with 10,000 stories, after serving the
  playlist (gzipped and not) and the edits, next to a wall of 10.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support import EventListener, free_port
from wall.files import write_atomic

from .common import make_wall, median, percentile, rss_mb
from .index_scale import yaml_floor

BIG, SMALL = 10_000, 10
STARTS = 5  # of each kind, each right after its own baseline
EDITS = 30
GZIP = {"Accept-Encoding": "gzip"}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


class Serve:
    """`storywall serve` as an operator starts it: 2 workers, the default threads."""

    def __init__(self, stories: Path, instance: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("WALL_")}
        env["WALL_INSTANCE_PATH"] = str(instance)
        self.log = (instance.parent / f"serve-{self.port}.log").open("w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wall", "serve", "--stories", str(stories),
             "--port", str(self.port), "--workers", "2"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def until_listed(self, count: int, timeout: float = 120) -> float:
        """Seconds from the command starting to /api/stories listing `count` stories.

        The stories are counted in the body as it arrives (their "slug" keys);
        the JSON is parsed afterwards, outside the time: parsing five megabytes
        is the client's cost, not the server's.
        """
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            try:
                status, headers, body = get(self.url + "/api/stories", GZIP)
            except OSError:
                status = 0
            if status == 200:
                if headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if body.count(b'{"slug":') == count:
                    took = time.perf_counter() - self.started
                    assert len(json.loads(body)["stories"]) == count
                    return took
            if self.process.poll() is not None:
                break
            time.sleep(0.005)
        raise RuntimeError(f"serve never listed {count} stories; see {self.log.name}")

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def starts(stories: Path, count: int, tmp: Path) -> dict[str, list[float]]:
    """First starts and restarts, each right after a baseline read of the same files."""
    times: dict[str, list[float]] = {"floor": [], "first": [], "restart": []}
    for n in range(STARTS):
        instance = tmp / f"start-{n}" / "instance"
        instance.mkdir(parents=True)
        for kind in ("first", "restart"):
            times["floor"].append(yaml_floor(stories))
            gc.collect()
            serve = Serve(stories, instance)
            try:
                times[kind].append(serve.until_listed(count))
            finally:
                serve.stop()
            # Written by a child of the first start's master, beside its workers.
            waited = time.monotonic() + 60
            while not (instance / "index-cache.pickle").exists():
                if time.monotonic() > waited:
                    raise RuntimeError(f"no index cache after a first start: {serve.log.name}")
                time.sleep(0.05)
    return times


def edits(serve: Serve, stories: Path) -> list[float]:
    """Seconds from an edit's write returning to the playlist a kiosk then fetches holding it."""
    listener = EventListener(serve.url)
    path = stories / "person-00003" / "index.md"
    original = path.read_text()
    times = []
    try:
        for n in range(EDITS):
            seen = len(listener.versions)
            title = f"Story number 3, edit {n}"
            write_atomic(path, original.replace("Story number 3", title).encode())
            started = time.perf_counter()
            if not listener.wait_for(lambda s=seen: len(listener.versions) > s, timeout=10):
                raise RuntimeError(f"edit {n} was never announced")
            # As the kiosk does on the event: fetch the playlist (any worker answers).
            # The title is looked for in the bytes; they are parsed once it is there.
            while True:
                status, _, body = get(serve.url + "/api/stories", GZIP)
                if status == 200 and f'"title":"{title}"'.encode() in gzip.decompress(body):
                    break
                if time.perf_counter() - started > 10:
                    raise RuntimeError(f"edit {n} never reached /api/stories")
            times.append(time.perf_counter() - started)
            assert any(s["title"] == title for s in json.loads(gzip.decompress(body))["stories"])
    finally:
        listener.close()
        write_atomic(path, original.encode())
    return times


def memory(serve: Serve) -> dict[str, float]:
    """Resident memory of the master and of the largest worker, in MB."""
    workers = [rss_mb(pid) for pid in serve.workers()]
    return {"master_mb": rss_mb(serve.process.pid), "worker_mb": max(workers)}


def served(stories: Path, count: int, tmp: Path) -> dict[str, object]:
    instance = tmp / f"served-{count}" / "instance"
    instance.mkdir(parents=True)
    serve = Serve(stories, instance)
    try:
        serve.until_listed(count)
        # Kiosks ask both workers (a worker's first playlist is start-up, measured
        # above): a few at once, offering gzip and not, until both have answered.
        with ThreadPoolExecutor(8) as pool:
            asks = [GZIP, {}] * 16
            list(pool.map(lambda headers: get(serve.url + "/api/stories", headers), asks))
        times = edits(serve, stories)
        return {"edits": times, **memory(serve)}
    finally:
        serve.stop()


def run(data: Path) -> dict[str, object]:
    big = make_wall(data / f"wall-{BIG}", BIG)
    small = make_wall(data / f"wall-{SMALL}", SMALL)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["starts"] = starts(big, BIG, Path(tmp))
        results["small"] = served(small, SMALL, Path(tmp))
        results["big"] = served(big, BIG, Path(tmp))
    return results


def report(results: dict) -> str:
    runs = results["starts"]
    # Each start next to the baseline read just before it: floor[0] before the
    # first first start, floor[1] before the first restart, and so on.
    floors = {"first": runs["floor"][0::2], "restart": runs["floor"][1::2]}
    small, big = results["small"], results["big"]

    def ms(values: list[float], p: float) -> str:
        return f"{percentile(values, p) * 1000:.0f} ms"

    def row(kind: str, label: str) -> str:
        ratios = [t / f for t, f in zip(runs[kind], floors[kind], strict=True)]
        return (
            f"| {label} | {median(runs[kind]):.2f} s ({min(runs[kind]):.2f}) "
            f"| {median(ratios):.2f}× ({min(ratios):.2f}×) | ≤ 1.5× |"
        )

    lines = [
        "## Start-up, edits and memory at 10,000 stories (`bench/startup.py`)",
        "",
        f"`storywall serve` with 2 workers (default threads) on a wall of {BIG:,} stories,"
        " measured from outside as an operator and a kiosk meet it. Each start is timed from"
        " the command starting to `/api/stories` listing every story; right before each, the"
        " baseline reads every file and parses its front matter with libyaml, nothing else."
        f" {STARTS} of each: the median, and in brackets the best, which load from elsewhere"
        " on the machine disturbs least; the ratio is each start's to its own baseline.",
        "",
        "| measure | time | ÷ baseline | goal |",
        "| --- | ---: | ---: | --- |",
        f"| baseline: read every file and parse its YAML | {median(runs['floor']):.2f} s "
        f"({min(runs['floor']):.2f}) | 1.00× | |",
        row("first", "first start (empty instance folder)"),
        row("restart", "restart (the instance's index cache)"),
        "",
        f"{EDITS} edits (temp file + rename), each timed from the write returning to"
        " `/api/stories` holding it, fetched as a kiosk does on the `version` event"
        f" (whichever worker answers); the baseline is the same on a wall of {SMALL}.",
        "",
        f"| measure | {SMALL} stories | {BIG:,} stories | goal |",
        "| --- | ---: | ---: | --- |",
        f"| edit → playlist, median | {ms(small['edits'], 0.5)} | {ms(big['edits'], 0.5)} | |",
        f"| edit → playlist, p95 | {ms(small['edits'], 0.95)} | {ms(big['edits'], 0.95)} "
        "| ≤ 250 ms |",
        f"| edit → playlist, worst | {ms(small['edits'], 1)} | {ms(big['edits'], 1)} | ≤ 250 ms |",
        f"| resident memory per worker (largest) | {small['worker_mb']:.0f} MB "
        f"| {big['worker_mb']:.0f} MB | ≤ 150 MB |",
        f"| resident memory of the master | {small['master_mb']:.0f} MB "
        f"| {big['master_mb']:.0f} MB | |",
    ]
    return "\n".join(lines) + "\n"
