"""Writing files so that no reader, and no watcher, ever sees half of one; and reading
only plain files, so that a pipe or a device in the stories folder never blocks a read."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
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


class NotAPlainFile(OSError):
    """A named pipe, socket or device where a file was expected: reading it could wait forever."""


def open_plain(path: str | os.PathLike[str]) -> int:
    """A descriptor open for reading on the plain file at `path` (links followed).

    Opened without blocking, so a named pipe nobody writes to is refused at
    once instead of holding the reader (a worker, the watcher) forever.
    """
    return _open_plain(path)[0]


def _open_plain(path: str | os.PathLike[str]) -> tuple[int, int]:
    """`open_plain`'s descriptor, and the file's size when opened."""
    fd = os.open(path, _READ_FLAGS)
    try:
        found = os.fstat(fd)
        if stat.S_ISDIR(found.st_mode):  # as an ordinary open says it
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(found.st_mode):
            raise NotAPlainFile(f"{os.fspath(path)} is not a plain file (a pipe, socket or device)")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, found.st_size


def read_plain(path: str | os.PathLike[str], limit: int = -1) -> bytes:
    """The bytes of the plain file at `path`, at most `limit` of them (-1: all)."""
    fd, size = _open_plain(path)
    with os.fdopen(fd, "rb", buffering=0) as f:
        # Asked for by its size, not by the limit: a read of n bytes allocates n
        # first, and a megabyte per story file is most of a start-up's reading.
        first = size + 1 if limit < 0 else min(size + 1, limit)  # one more: did it grow?
        data = f.read(first)
        if len(data) < first:
            return data
        return data + f.read(-1 if limit < 0 else limit - len(data))
