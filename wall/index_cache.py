"""The index's cache in the instance folder: every story as the last start read it.

A restart compares each file's stat with the one saved here and parses only
the files that changed: parsing ten thousand files costs seconds, comparing
their stats a tenth of one. The cache only ever saves time: a missing, broken
or foreign one is ignored, and the files are read instead.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

from .files import write_atomic

log = logging.getLogger(__name__)

# Bump when Story, the index's Entry or how files are read changes: old caches are ignored.
FORMAT = 4


def read(cache: Path, root: Path) -> tuple[dict[str, Any], int | None]:
    """The entries saved for the stories folder `root`, and when that read began (ns)."""
    try:
        with cache.open("rb") as f:
            saved = pickle.load(f)
    except FileNotFoundError:
        return {}, None
    except Exception as exc:
        # A cache from another version, or cut short: start from the files instead.
        log.info("ignoring the index cache %s: %r", cache, exc)
        return {}, None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return {}, None
    if saved.get("root") != str(root) or not isinstance(saved.get("read_ns"), int):
        return {}, None
    entries = saved.get("entries")
    return (entries, saved["read_ns"]) if isinstance(entries, dict) else ({}, None)


def write(cache: Path, root: Path, read_ns: int, entries: dict[str, Any]) -> None:
    """Save `entries`, read from `root` by a read that began at `read_ns`."""
    data = pickle.dumps(
        {"format": FORMAT, "root": str(root), "read_ns": read_ns, "entries": entries},
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, data)
    except OSError as exc:
        log.warning("cannot write the index cache %s: %s", cache, exc)
