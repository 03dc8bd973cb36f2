"""Serving: save-to-screen latency, fan-out to 1,000 kiosks, and throughput against hello-world.

Every figure comes with a baseline measured in the same run: Flask's
hello-world under the very same gunicorn settings, and a quiet server.
Needs `wrk` (Debian package `wrk`) as the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support import EventListener, Server, free_port
from wall.files import write_atomic

from .common import make_wall, median, percentile

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
THREADS = 800  # 1,000 screens over 2 workers, with room for uneven accepts; see docs/deploy.md
BEST_THREADS = 8  # hello-world's best gthread setting on this machine, with 2 workers
ROUNDS = 3  # of the kiosk measurements, alternating with their baselines
EDITS = 200
STREAMS = 1000


def wrk(url: str, seconds: int = 8, connections: int = 32, *headers: str) -> dict[str, float]:
    # Browsers and kiosks always offer gzip; so does the load generator.
    extra = [arg for header in headers for arg in ("-H", header)]
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(ROOT / "bench" / "p95.lua"),
         "-H", "Accept-Encoding: gzip", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    result = dict(re.findall(r"(\w+)=([\d.]+)", out.split("RESULT", 1)[1]))
    return {"rps": rate, **{k: float(v) for k, v in result.items()}}


def server_memory_mb(pid: int) -> float:
    """Proportional set size of a server and its workers: shared pages counted once."""
    total = 0
    pids = [pid] + [
        int(p) for p in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
    ]  # fmt: skip
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Hello:
    def __init__(self, worker_class: str = "gthread", threads: int = THREADS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--no-control-socket", "-k", worker_class,
             "-w", str(WORKERS), "--threads", str(threads), "--worker-connections", str(threads),
             "-b", f"127.0.0.1:{self.port}", "bench.hello:app"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                subprocess.run(["curl", "-sf", self.url], check=True, capture_output=True)
                return
            except subprocess.CalledProcessError:
                time.sleep(0.1)
        raise RuntimeError("hello-world server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def save_to_screen(server: Server, stories: Path) -> list[float]:
    """Seconds from an edit's write returning to the event reaching a connected client."""
    listener = EventListener(server.url)
    path = stories / "person-00001" / "index.md"
    original = path.read_text()
    times = []
    try:
        for n in range(EDITS):
            seen = len(listener.versions)
            write_atomic(path, original.replace("Story number 1", f"Story number 1 ({n})").encode())
            started = time.perf_counter()
            if not listener.wait_for(lambda s=seen: len(listener.versions) > s, timeout=10):
                raise RuntimeError(f"edit {n} was never announced")
            times.append(time.perf_counter() - started)
    finally:
        listener.close()
        write_atomic(path, original.encode())
    return times


async def _stream(port: int, connected: asyncio.Event, counter: list[int], arrivals: list[float],
                  total: int, stop: asyncio.Event) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    await writer.drain()
    events = 0
    try:
        status = await reader.readline()
        if b" 200 " not in status:
            counter[1] += 1  # refused (503 past the stream limit): this kiosk polls instead
            counter[0] += 1
            if counter[0] == total:
                connected.set()
            return
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"event: version"):
                events += 1
                if events == 1:
                    counter[0] += 1
                    if counter[0] == total:
                        connected.set()
                elif events == 2:
                    arrivals.append(time.perf_counter())
                    return
    finally:
        writer.close()


async def _fan_out(server: Server, stories: Path) -> dict[str, float]:
    connected, stop = asyncio.Event(), asyncio.Event()
    counter, arrivals = [0, 0], []
    tasks = [
        asyncio.create_task(_stream(server.port, connected, counter, arrivals, STREAMS, stop))
        for _ in range(STREAMS)
    ]
    # Past the timeout, report how many got through rather than nothing.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(connected.wait(), timeout=60)
    memory = server_memory_mb(server.process.pid)
    load = asyncio.create_task(asyncio.to_thread(wrk, server.url + "/", 10, 16))
    await asyncio.sleep(3)  # the page load is under way
    path = stories / "person-00002" / "index.md"
    original = path.read_text()
    write_atomic(path, original.replace("Story number 2", "Story number 2 (fan-out)").encode())
    written = time.perf_counter()
    deadline = written + 20
    while len(arrivals) < STREAMS and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    page = await load
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    write_atomic(path, original.encode())
    return {
        "streams": STREAMS,
        "connected": counter[0] - counter[1],
        "refused": counter[1],
        "reached": len(arrivals),
        "all_within_s": (max(arrivals) - written) if arrivals else float("nan"),
        "median_s": median([a - written for a in arrivals]) if arrivals else float("nan"),
        "memory_mb": memory,
        "page_p95_ms": page["p95"],
        "page_rps": page["rps"],
        "page_non2xx": page["non2xx"],
    }


def kiosk_rounds(server: Server, hello: Hello) -> dict[str, list[dict[str, float]]]:
    """`/api/stories` as kiosks ask (gzip; mostly revalidating), next to hello-world at
    its best setting and at the wall's own threads, in alternating rounds."""
    request = urllib.request.Request(
        server.url + "/api/stories", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        etag = response.headers["ETag"]
    best = Hello("gthread", BEST_THREADS)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("best", "api", "api_304", "hello")}
    try:
        for _ in range(ROUNDS):
            runs["best"].append(wrk(best.url + "/"))
            runs["api"].append(wrk(server.url + "/api/stories"))
            runs["api_304"].append(
                wrk(server.url + "/api/stories", 8, 32, f"If-None-Match: {etag}")
            )
            runs["hello"].append(wrk(hello.url + "/"))
    finally:
        best.stop()
    return runs


def middle(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median requests/s."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def ratio(runs: dict, key: str, baseline: str) -> float:
    """Median over the rounds of `key`'s requests/s over `baseline`'s in the same round."""
    return median([a["rps"] / b["rps"] for a, b in zip(runs[key], runs[baseline], strict=True)])


def measure(worker_class: str, wall: Path, tmp: Path) -> dict[str, object]:
    """Every serving figure for one gunicorn worker class, with its own hello-world baseline."""
    stories = tmp / worker_class / "stories"
    shutil.copytree(wall, stories)
    server = Server(stories, tmp / worker_class / "instance", "--workers", str(WORKERS),
                    "--threads", str(THREADS), "--worker-class", worker_class)  # fmt: skip
    hello = Hello(worker_class)
    results: dict[str, object] = {}
    try:
        quiet = server_memory_mb(server.process.pid)
        saves = save_to_screen(server, stories)
        results["latency"] = {
            "p50_ms": median(saves) * 1000,
            "p95_ms": percentile(saves, 0.95) * 1000,
            "max_ms": max(saves) * 1000,
        }
        listing = server.json("/api/stories")["stories"]
        photo_url = next(s["photo"]["src"] for s in listing if s["photo"])
        server.get(photo_url)  # make the rendition once, as the first kiosk would
        if worker_class == "gthread":
            results["kiosk"] = kiosk_rounds(server, hello)
            runs = results["kiosk"]
            throughput = {k: middle(runs[k]) for k in ("hello", "api")}
        else:
            throughput = {"hello": wrk(hello.url + "/"), "api": wrk(server.url + "/api/stories")}
        for name, path in [("page", "/"), ("photo", photo_url)]:
            throughput[name] = wrk(server.url + path)
        results["throughput"] = throughput
        results["fanout"] = asyncio.run(_fan_out(server, stories))
        results["memory_quiet_mb"] = quiet
    finally:
        hello.stop()
        server.stop()
    return results


def run(data: Path) -> dict[str, object]:
    if shutil.which("wrk") is None:
        raise SystemExit("the serving benchmark needs wrk: apt-get install wrk")
    wall = make_wall(data / "wall-1000", 1000)
    photo = wall / "person-00000" / "photo.jpg"
    if not photo.exists():
        shutil.copy(ROOT / "stories" / "maria-alvarez" / "maria.jpg", photo)
        index = wall / "person-00000" / "index.md"
        index.write_text(index.read_text().replace("kind:", "photo: photo.jpg\nkind:", 1))
    classes = ["gthread"]
    try:
        import gevent  # noqa: F401

        classes.append("gevent")
    except ImportError:
        print("gevent is not installed: measuring gthread only", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, object] = {c: measure(c, wall, Path(tmp)) for c in classes}
    results["settings"] = f"{WORKERS} workers × {THREADS} threads or connections, " \
        f"{os.cpu_count()} cores"  # fmt: skip
    return results


def report(results: dict) -> str:
    main = results["gthread"]
    lat, thr, fan = main["latency"], main["throughput"], main["fanout"]
    hello = thr["hello"]["rps"]
    rows = [
        "## Serving (`bench/serving.py`)",
        "",
        f"`storywall serve` with {results['settings']}, a wall of 1,000 stories; load from `wrk`"
        " (2 threads, 32 connections, 8 s, offering gzip as browsers do) on the same machine."
        " The baseline is Flask's hello-world under the same gunicorn settings, in the same run."
        " Figures below are for the default worker class, gthread; the comparison follows.",
        "",
        "### Save to screen",
        "",
        f"{EDITS} edits (temp file + rename), each timed from the write returning to the "
        "`version` event arriving at a connected client.",
        "",
        "| p50 | p95 | max | goal |",
        "| ---: | ---: | ---: | --- |",
        f"| {lat['p50_ms']:.0f} ms | {lat['p95_ms']:.0f} ms | {lat['max_ms']:.0f} ms "
        "| p95 ≤ 250 ms |",
        "",
        "### Throughput",
        "",
        f"Kiosks ask for `/api/stories` offering gzip, and mostly revalidate it (`If-None-Match`"
        f" with the ETag they hold: `304`). Those two are measured in {ROUNDS} rounds, each next"
        " to Flask's hello-world under gunicorn at its best setting on this machine (2 gthread"
        f" workers × {BEST_THREADS} threads) and at the wall's own {THREADS} threads per worker;"
        " requests/s is the median round, the ratios the median of each round's ratio.",
        "",
        f"| URL | requests/s | p95 | ÷ hello-world, {BEST_THREADS} threads (best) "
        f"| ÷ hello-world, {THREADS} threads | goal |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    runs = main["kiosk"]
    names = {
        "best": f"hello-world, {WORKERS} × {BEST_THREADS} threads (baseline)",
        "hello": f"hello-world, {WORKERS} × {THREADS} threads (baseline)",
        "api": "`/api/stories` (1,000 stories), gzip",
        "api_304": "`/api/stories`, gzip, revalidated: `304`",
    }
    goals = {"api": "≥ 0.6 of the best", "api_304": "≥ 0.6 of the best"}
    for key in ("best", "hello", "api", "api_304"):
        r = middle(runs[key])
        rows.append(
            f"| {names[key]} | {r['rps']:.0f} | {r['p95']:.1f} ms | {ratio(runs, key, 'best'):.2f}"
            f" | {ratio(runs, key, 'hello'):.2f} | {goals.get(key, '')} |"
        )
    for key, name in (("page", "`/` (intranet wall)"), ("photo", "a photo rendition")):
        r = thr[key]
        rows.append(f"| {name} | {r['rps']:.0f} | {r['p95']:.1f} ms | | {r['rps'] / hello:.2f} | |")
    rows += [
        "",
        "### Fan-out",
        "",
        f"{fan['streams']} open `/api/events` streams; one story edited while `wrk` loads `/`.",
        "",
        "| measure | figure | goal |",
        "| --- | ---: | --- |",
        f"| streams opened | {fan['connected']} of {fan['streams']} "
        f"({fan['refused']} refused with 503) | all |",
        f"| streams that got the change | {fan['reached']} of {fan['connected']} | all |",
        f"| all of them within | {fan['all_within_s']:.2f} s | ≤ 2 s |",
        f"| median arrival | {fan['median_s'] * 1000:.0f} ms | |",
        f"| `GET /` p95 meanwhile | {fan['page_p95_ms']:.1f} ms | < 100 ms |",
        f"| `GET /` requests/s meanwhile | {fan['page_rps']:.0f} | |",
        f"| `GET /` non-2xx answers | {fan['page_non2xx']:.0f} | 0 |",
        f"| server memory (PSS), quiet | {main['memory_quiet_mb']:.0f} MB | |",
        f"| server memory (PSS), {fan['streams']} streams | {fan['memory_mb']:.0f} MB | |",
    ]
    classes = [c for c in ("gthread", "gevent") if c in results]
    if len(classes) > 1:
        rows += [
            "",
            "### Worker classes compared",
            "",
            "| measure | " + " | ".join(classes) + " |",
            "| --- |" + " ---: |" * len(classes),
        ]

        def row(label: str, value) -> str:
            return f"| {label} | " + " | ".join(value(results[c]) for c in classes) + " |"

        rows += [
            row("save → screen p95", lambda r: f"{r['latency']['p95_ms']:.0f} ms"),
            row("`/api/stories` ÷ hello-world", lambda r: (
                f"{r['throughput']['api']['rps'] / r['throughput']['hello']['rps']:.2f}")),
            row("`/` requests/s", lambda r: f"{r['throughput']['page']['rps']:.0f}"),
            row("hello-world requests/s", lambda r: f"{r['throughput']['hello']['rps']:.0f}"),
            row("1,000 streams: all reached within", lambda r: (
                f"{r['fanout']['all_within_s']:.2f} s ({r['fanout']['reached']})")),
            row("`GET /` p95 during fan-out", lambda r: f"{r['fanout']['page_p95_ms']:.0f} ms"),
            row("memory with 1,000 streams", lambda r: f"{r['fanout']['memory_mb']:.0f} MB"),
        ]  # fmt: skip
    return "\n".join(rows) + "\n"
