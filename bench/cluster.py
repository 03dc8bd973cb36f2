"""One server on SQLite against three servers on PostgreSQL behind haproxy, on the same
machine in the same run: approvals per second, `/api/stories` requests per second,
and save-to-screen (an approval on one server to a kiosk's event on another)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.security import generate_password_hash

from wall.db import Database
from wall.devcluster import Browser, Haproxy, Postgres, WallServer

from .common import make_wall, percentile
from .serving import wrk

APPROVERS = 4  # moderators approving at once
APPROVALS = 25  # each
SAVES = 50  # approvals timed to a kiosk on another server
WALL_SIZE = 1000
MODERATOR = ("bench", "a long enough pass phrase")
SUBMITTED = """\
---
name: Waiting {n}
role: Night-shift lead
company: Acme
quote: Waiting for a moderator ({n}).
status: pending
consent:
  given_by: Waiting {n}
  date: 2026-01-02
  scope: [hallway, intranet]
---
Story {n}, waiting for approval.
"""


def stories_for(data: Path, folder: Path) -> list[str]:
    """1,000 approved stories and enough pending ones for every approval."""
    shutil.copytree(make_wall(data / "wall-1000", WALL_SIZE), folder)
    pending = [f"waiting-{n:03d}" for n in range(APPROVERS * APPROVALS + SAVES)]
    for n, slug in enumerate(pending):
        (folder / f"{slug}.md").write_text(SUBMITTED.format(n=n))
    return pending


def add_moderator(target: str | Path) -> None:
    db = Database(target)
    db.add_user(MODERATOR[0], generate_password_hash(MODERATOR[1], method="pbkdf2:sha256:1000"))
    db.close()


def approvals_per_second(front: str, slugs: list[str]) -> float:
    batches = [slugs[n::APPROVERS] for n in range(APPROVERS)]
    failures: list[str] = []

    def approve(batch: list[str]) -> None:
        browser = Browser(front)
        browser.sign_in(*MODERATOR)
        for slug in batch:
            if browser.act(slug, "approve") != 303:
                failures.append(slug)

    threads = [threading.Thread(target=approve, args=(b,)) for b in batches]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    assert not failures, f"approvals refused: {failures[:5]}"
    return len(slugs) / took


def save_to_screen(approve_at: str, watch_at: str, slugs: list[str]) -> list[float]:
    """Milliseconds from pressing approve (on one server) to the version event a kiosk
    connected to `watch_at` receives."""
    from tests.support import EventListener

    browser = Browser(approve_at)
    browser.sign_in(*MODERATOR)
    kiosk = EventListener(watch_at)
    times = []
    try:
        for slug in slugs:
            page = f"/admin/stories/{slug}"
            form = {
                "csrf_token": browser.form_field(page, "csrf_token"),
                "token": browser.form_field(page, "token"),
            }
            seen = len(kiosk.versions)
            started = time.perf_counter()
            status, _ = browser.request(f"{page}/approve", form)
            assert status == 303, status
            arrived = kiosk.wait_for(lambda seen=seen: len(kiosk.versions) > seen, 30)
            assert arrived, f"{slug} never reached the kiosk"
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    finally:
        kiosk.close()
    return times


def one_server(data: Path, tmp: Path) -> dict[str, object]:
    pending = stories_for(data, tmp / "stories")
    add_moderator(tmp / "instance" / "storywall.db")
    server = WallServer(
        "sqlite",
        stories=tmp / "stories",
        instance=tmp / "instance",
        database_url="",
        env={"WALL_WATCH": "auto"},
        threads=64,
    ).start()
    try:
        server.wait_ready()
        approvals = approvals_per_second(server.url, pending[: APPROVERS * APPROVALS])
        api = wrk(server.url + "/api/stories?screen=bench")
        saves = save_to_screen(server.url, server.url, pending[APPROVERS * APPROVALS :])
    finally:
        server.stop()
    return {"approvals": approvals, "api": api, "saves": saves}


def three_servers(data: Path, tmp: Path) -> dict[str, object]:
    pending = stories_for(data, tmp / "stories")
    postgres = Postgres().start()  # durable: fsync on, as in production
    balancer = None
    servers: list[WallServer] = []
    try:
        url = postgres.create_database("bench")
        add_moderator(url)
        servers = [
            WallServer(
                name,
                stories=tmp / "stories",
                instance=tmp / name,
                database_url=url,
                # A network share is polled rarely; changes travel by NOTIFY.
                env={"WALL_POLL_SECONDS": "60"},
                threads=64,
            ).start()
            for name in ("a", "b", "c")
        ]
        for server in servers:
            server.wait_ready()
        balancer = Haproxy(tmp / "haproxy", [s.port for s in servers]).start()
        front = f"http://127.0.0.1:{balancer.port}"
        approvals = approvals_per_second(front, pending[: APPROVERS * APPROVALS])
        api = wrk(front + "/api/stories?screen=bench")
        saves = save_to_screen(servers[0].url, servers[2].url, pending[APPROVERS * APPROVALS :])
    finally:
        if balancer is not None:
            balancer.stop()
        for server in servers:
            server.stop()
        postgres.stop()
        shutil.rmtree(postgres.folder, ignore_errors=True)
    return {"approvals": approvals, "api": api, "saves": saves}


def run(data: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as three:
        return {
            "sqlite": one_server(data, Path(one)),
            "postgres": three_servers(data, Path(three)),
        }


def report(results: dict) -> str:
    one, three = results["sqlite"], results["postgres"]

    def p(values: list[float], q: float) -> str:
        return f"{percentile(values, q):.0f} ms"

    rows = [
        (
            f"approvals per second ({APPROVERS} moderators at once)",
            f"{one['approvals']:.1f}",
            f"{three['approvals']:.1f}",
            f"{three['approvals'] / one['approvals']:.2f}",
        ),
        (
            "`/api/stories` requests per second (1,000 stories, gzip)",
            f"{one['api']['rps']:.0f}",
            f"{three['api']['rps']:.0f}",
            f"{three['api']['rps'] / one['api']['rps']:.2f}",
        ),
        ("save to screen, p50", p(one["saves"], 0.5), p(three["saves"], 0.5), ""),
        ("save to screen, p95", p(one["saves"], 0.95), p(three["saves"], 0.95), ""),
        ("save to screen, max", p(one["saves"], 1.0), p(three["saves"], 1.0), ""),
    ]
    lines = [
        "## One server or three (`bench/cluster.py`)",
        "",
        "One `storywall serve` on SQLite (inotify) against three on one PostgreSQL "
        f"({Postgres().bin.parent.name}, fsync on) behind haproxy, sharing one stories folder "
        "polled only every 60 s, so a change reaches the other servers by NOTIFY. Same "
        "machine, same run, each server 2 workers × 64 threads; 1,000 approved stories. "
        f"Save to screen: {SAVES} approvals, each pressed on one server and timed to the "
        "version event reaching a kiosk connected to another (on one server: its other "
        "worker). All servers share this machine's two cores, so three servers cannot "
        "serve more than one here: the figures show the cost of the shared database and "
        "the balancer, not the gain of more machines.",
        "",
        "| measure | 1 server, SQLite | 3 servers, PostgreSQL | ratio | goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    goals = ["", "", "", "p95 ≤ 1 s", ""]
    lines += [
        f"| {a} | {b} | {c} | {d} | {g} |" for (a, b, c, d), g in zip(rows, goals, strict=True)
    ]
    return "\n".join(lines) + "\n"
