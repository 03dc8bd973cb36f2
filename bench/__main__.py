"""Run every benchmark and write docs/benchmarks.md: `make bench` or `python -m bench`."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from . import cluster, impact, index_scale, photo, serving, startup
from .common import git_revision, machine

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"

BENCHMARKS = {
    "index": index_scale,
    "startup": startup,
    "serving": serving,
    "photo": photo,
    "impact": impact,
    "cluster": cluster,
}


def main(names: list[str]) -> None:
    chosen = names or list(BENCHMARKS)
    results = DATA / "results"
    results.mkdir(parents=True, exist_ok=True)
    for name in chosen:
        module = BENCHMARKS[name]
        print(f"running {name} …", flush=True)
        text = module.report(module.run(DATA))
        print(text, flush=True)
        (results / f"{name}.md").write_text(text)
    # Running one benchmark keeps the others' latest sections in the report.
    sections = [
        (results / f"{name}.md").read_text()
        for name in BENCHMARKS
        if (results / f"{name}.md").exists()
    ]
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {dt.date.today().isoformat()} at revision "
        f"{git_revision()}.\n\nMachine: {machine()}.\n\n"
        "These machines are shared and noisy: compare each figure with the baseline "
        "measured in the same run, not with figures from another day.\n\n"
    )
    (ROOT / "docs" / "benchmarks.md").write_text(header + "\n".join(sections))
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main(sys.argv[1:])
