"""Helpers for tests that run a real server: start it, and listen to its events."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

LIVE_BOUND = 1.0  # seconds, from the core issue's acceptance


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`storywall serve` in a subprocess, on a free port, answering before we go on."""

    def __init__(self, stories: Path, instance: Path, *args: str, port: int | None = None) -> None:
        self.stories = stories
        self.instance = instance
        self.args = args
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = instance.parent / f"server-{self.port}.log"
        self.start()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WALL_")}
        env["WALL_INSTANCE_PATH"] = str(self.instance)
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "wall",
                    "serve",
                    "--stories",
                    str(self.stories),
                    "--port",
                    str(self.port),
                    "--workers",
                    "2",
                    "--threads",
                    "16",
                    *self.args,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def get(self, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return response.status, response.read()

    def json(self, path: str):  # type: ignore[no-untyped-def]
        return json.loads(self.get(path)[1])

    def slugs(self) -> dict[str, str]:
        return {s["slug"]: s["role"] for s in self.json("/api/stories")["stories"]}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class EventListener:
    """A raw-socket reader of /api/events that records each version event as it arrives.

    A plain socket, so that closing it from the test is immediate.
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.versions: list[int] = []
        self.arrived = threading.Condition()
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        request = f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
        self.sock.sendall(request.encode())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.wait_for(lambda: len(self.versions) >= 1, timeout):
            raise AssertionError("no first version event")

    def _read(self) -> None:
        event = None
        try:
            for raw in self.sock.makefile("rb"):
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "version":
                    with self.arrived:
                        self.versions.append(int(line[6:]))
                        self.arrived.notify_all()
        except (OSError, ValueError):
            pass  # the test closed the socket

    def wait_for(self, predicate: Callable[[], bool], timeout: float = LIVE_BOUND) -> bool:
        with self.arrived:
            return self.arrived.wait_for(predicate, timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


# -- a full disk ---------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "2m"):  # type: ignore[no-untyped-def]
    """A tmpfs of `size` mounted on `folder` (made if missing), unmounted afterwards.

    Skips the test, saying why, where mounting is not allowed (not root, or in
    a container that forbids it).
    """
    import pytest

    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small filesystem, and mounting one needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on {folder}: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def fill_disk(folder: Path, name: str = "_filler") -> Path:
    """Fill the filesystem that `folder` is on with one file (a name no story has)."""
    filler = folder / name
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while os.write(fd, b"\0" * chunk):
                    pass
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def files_under(folder: Path) -> set[str]:
    """Every file and folder under `folder`, as relative paths."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def upgrade_at_once(target: object, servers: int) -> list[BaseException]:
    """Open the database at `target` with `upgrade` from `servers` threads at once, as
    servers starting together do; what any of them raised."""
    from wall.db import Database

    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            Database(target, upgrade=True).close()  # type: ignore[arg-type]
        except BaseException as exc:  # reported to the caller, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
