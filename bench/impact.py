"""The impact page after a year of 200 screens and 500 stories.

A simulated year of counts goes in through the database's bulk method (the
same rows a year of heartbeats would leave), and the audit log gets a
submission and an approval per story. Each screen shows the stories of one
tag (about 40 of the 500, as a floor's screens usually do), every day, some
more than others; nothing is folded, since the year is inside the default
retention of 400 days. The page is timed through the Flask test client, next
to a plain admin page (the audit log) in the same run, and the database file
is measured after a checkpoint. How the size grows when every screen shows
every story follows from the bytes per row.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
from pathlib import Path

from werkzeug.security import generate_password_hash

from wall import create_app

from .common import make_wall, median, percentile

STORIES, SCREENS, DAYS = 500, 200, 365
TAGS = 13  # bench stories carry one of 13 tags
RUNS = 15
GOAL_MS = 300


def run(data: Path) -> dict[str, object]:
    stories = make_wall(data / "impact-stories", STORIES)
    instance = data / "impact-instance"
    shutil.rmtree(instance, ignore_errors=True)
    app = create_app(
        {"STORIES_DIR": str(stories), "INSTANCE_PATH": str(instance), "WATCH": "off",
         "WTF_CSRF_ENABLED": False}
    )  # fmt: skip
    wall = app.extensions["storywall"]
    db = wall.db
    today = dt.date.today()
    first = today - dt.timedelta(days=DAYS - 1)
    rng = random.Random(12)
    slugs = [f"person-{n:05d}" for n in range(STORIES)]
    by_tag = {t: [s for n, s in enumerate(slugs) if n % TAGS == t] for t in range(TAGS)}
    screens = [f"screen-{n:03d}" for n in range(SCREENS)]

    started = time.perf_counter()
    rows = 0
    for d in range(DAYS):
        day = (first + dt.timedelta(days=d)).isoformat()
        shown = []
        for n, screen in enumerate(screens):
            for slug in by_tag[n % TAGS]:
                shown.append((slug, screen, rng.randint(20, 90)))
        db.add_display_days(day, shown, {s: rng.uniform(8, 14) * 3600 for s in screens})
        rows += len(shown)
    for n, slug in enumerate(slugs):  # a submission and an approval a day or two later
        db.clock = lambda n=n: time.mktime((first + dt.timedelta(days=n % DAYS)).timetuple())
        db.audit("bench", "submitted", slug, "")
        db.clock = lambda n=n: time.mktime(
            (first + dt.timedelta(days=n % DAYS + 1 + n % 3)).timetuple()
        )
        db.audit("alex", "approved", slug, "")
    del db.clock
    filled = time.perf_counter() - started
    db.add_user("alex", generate_password_hash("x" * 12, method="pbkdf2:sha256:1000"))
    client = app.test_client()
    client.post("/login", data={"name": "alex", "password": "x" * 12})

    def timed(path: str) -> list[float]:
        assert client.get(path).status_code == 200, path  # warm: templates compiled
        out = []
        for _ in range(RUNS):
            t = time.perf_counter()
            response = client.get(path)
            out.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        return out

    pages = {
        "`/admin/audit` (plain admin page, baseline)": timed("/admin/audit"),
        "`/admin/impact` (this quarter)": timed("/admin/impact"),
        "`/admin/impact?period=year`": timed("/admin/impact?period=year"),
        "`/admin/impact/proof-of-play.csv?slug=…` (one story, a year)": timed(
            f"/admin/impact/proof-of-play.csv?slug={slugs[1]}"
        ),
    }
    db.close()
    path = db.path
    size = path.stat().st_size + sum(
        p.stat().st_size for p in path.parent.glob(path.name + "-*") if p.is_file()
    )
    return {
        "rows": rows,
        "fill_s": filled,
        "size_mb": size / 2**20,
        "bytes_per_row": size / rows,
        "pages": {k: (median(v), percentile(v, 0.95)) for k, v in pages.items()},
    }


def report(results: dict) -> str:
    pages = results["pages"]
    base = next(iter(pages.values()))[0]
    lines = [
        "## Impact (`bench/impact.py`)\n",
        f"A simulated year: {SCREENS} screens, {STORIES} stories, {DAYS} days; each screen "
        f"shows one tag's stories (about {STORIES // TAGS}) every day, so "
        f"{results['rows']:,} rows of counts per story, screen and day, written through "
        f"the database's bulk method in {results['fill_s']:.0f} s. Pages through the Flask "
        f"test client, {RUNS} runs each, next to a plain admin page in the same run.\n",
        "| page | median | p95 | ratio to the plain page | goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, (p50, p95) in pages.items():
        goal = f"< {GOAL_MS} ms" if name.startswith("`/admin/impact`") else ""
        lines.append(f"| {name} | {p50:.0f} ms | {p95:.0f} ms | {p50 / base:.1f}× | {goal} |")
    per_row = results["bytes_per_row"]
    lines += [
        "",
        "| database | figure |",
        "| --- | ---: |",
        f"| file size after the year | {results['size_mb']:.0f} MB |",
        f"| bytes per row of counts (all tables and keys) | {per_row:.0f} |",
        f"| every screen showing every story (estimate, {SCREENS * STORIES * DAYS:,} rows) | "
        f"{per_row * SCREENS * STORIES * DAYS / 2**30:.1f} GB |",
        "",
    ]
    return "\n".join(lines) + "\n"
