"""Writing files so that no reader, and no watcher, ever sees half of one."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_atomic(target: Path, data: bytes) -> None:
    """Write the whole file or nothing: a temp file beside it, then a rename.

    The temp name starts with a dot, which the story watcher ignores. A new
    file gets the permissions the umask gives any new file (as an editor's
    would); a replaced file keeps its own.
    """
    target = Path(target)
    try:
        keep_mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        keep_mode = None
    # Not tempfile.mkstemp: it makes files 0600 whatever the umask, and a story
    # written by the form would be unreadable to the group that reads the rest.
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, _OPEN_FLAGS, 0o666)  # the kernel applies the umask
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temp name beside {target}")
    try:
        with os.fdopen(fd, "wb") as f:
            if keep_mode is not None:
                os.fchmod(f.fileno(), keep_mode)  # before any data is in it
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
