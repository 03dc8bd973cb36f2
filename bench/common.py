"""What every benchmark shares: a machine description, sample walls, and timing helpers."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
from pathlib import Path

STORY = """\
---
name: {name}
role: {role}
company: {company}
location: Dayton, Ohio
title: Story number {n}
quote: When your part runs late, my crew goes home late ({n}).
kind: {kind}
tags: [{tag}, bench]
date: {date}
status: approved
consent:
  given_by: {name}
  date: 2026-01-02
  scope: [hallway, intranet]
---
{name} runs the swing shift. This is story {n}, with a few sentences of body
text so that parsing costs what a real story costs.

- One thing happened.
- Then another.

> And a quote to finish.
"""

ROLES = ["Swing-shift foreman", "Payroll administrator", "DBA", "Loading-dock supervisor"]


def make_wall(folder: Path, count: int) -> Path:
    """A stories folder with `count` bundles, reused between runs when already there."""
    marker = folder / f".complete-{count}"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.date(2026, 1, 1)
    for n in range(count):
        bundle = folder / f"person-{n:05d}"
        bundle.mkdir(exist_ok=True)
        (bundle / "index.md").write_text(
            STORY.format(
                n=n, name=f"Person {n}", role=ROLES[n % 4], company=f"Company {n % 97}",
                kind="thank-you" if n % 7 == 0 else "story", tag=f"tag{n % 13}",
                date=start + dt.timedelta(days=n % 300),
            )
        )  # fmt: skip
    marker.touch()
    return folder


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node() or 'host'}: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), in MB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
