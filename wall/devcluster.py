"""A one-machine rehearsal of a wall on several servers: the distribution's PostgreSQL,
started as its own user, several `storywall serve` processes sharing one stories
folder, and haproxy in front, set up for kiosks' event streams.

`make cluster` runs it (`python -m wall.devcluster`); the cluster tests and the
cluster benchmark start the same parts through the same classes. Nothing here
is needed to run a wall: production uses a managed PostgreSQL and a load
balancer of its own (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import glob
import http.cookiejar
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

POSTGRES_USER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def postgres_bin() -> Path:
    """The newest PostgreSQL server the distribution installed (Debian keeps them here)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise FileNotFoundError(
            "no PostgreSQL server: install the distribution's package "
            "(Debian: apt-get install postgresql), or run scripts/install-system-deps"
        )
    return Path(found[-1]).parent


class Postgres:
    """A throwaway PostgreSQL server in `folder`, on 127.0.0.1 only, trusting local users.

    Run as root, PostgreSQL refuses to start, so it runs as the `postgres`
    user the distribution's package made; otherwise as whoever runs this.
    """

    def __init__(
        self, folder: Path | None = None, port: int | None = None, *, durable: bool = True
    ) -> None:
        # The postgres user must reach the folder: by default a new one of its own.
        self.folder = Path(folder or tempfile.mkdtemp(prefix="storywall-postgres-"))
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.durable = durable  # tests turn fsync off: they never outlive a crash
        self.bin = postgres_bin()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_postgres:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> Postgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            user = pwd.getpwnam(POSTGRES_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                str(self.bin / "initdb"),
                "-D", str(self.data), "-U", POSTGRES_USER, "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            )  # fmt: skip
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.folder}",
            "-c max_connections=400",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
            "-o", " ".join(options), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate` is a crash, as far as clients can tell)."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False
        )

    @property
    def running(self) -> bool:
        status = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; its output."""
        done = self._run(
            str(self.bin.parent / "bin" / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", POSTGRES_USER, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", statement,
        )  # fmt: skip
        return done.stdout

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str = "template0") -> str:
        """A new, empty database (or a copy of `template`, which nobody may be using); its URL."""
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


HAPROXY_CONFIG = """\
global
    maxconn 4000
defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    # Kiosks hold an event stream open for hours, with a comment every few
    # seconds; these keep haproxy from cutting it, and from buffering it.
    timeout tunnel 1h
    timeout http-keep-alive 10s
    retries 2
    option redispatch
frontend wall
    bind 127.0.0.1:{port}
    default_backend servers
backend servers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers}
"""


class Haproxy:
    """haproxy from the distribution in front of `backends` (ports on 127.0.0.1)."""

    def __init__(self, folder: Path, backends: list[int], port: int | None = None) -> None:
        self.folder = Path(folder)
        self.backends = backends
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> Haproxy:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise FileNotFoundError(
                "no haproxy: apt-get install haproxy (scripts/install-system-deps)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"    server s{n} 127.0.0.1:{port} check" for n, port in enumerate(self.backends, 1)
        )
        config = self.folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        with (self.folder / "haproxy.log").open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class WallServer:
    """One `storywall serve` process, as an operator starts it."""

    def __init__(
        self,
        name: str,
        *,
        stories: Path,
        instance: Path,
        database_url: str,
        port: int | None = None,
        env: dict[str, str] | None = None,
        workers: int = 2,
        threads: int = 64,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.instance = Path(instance)
        self.command = [
            sys.executable, "-m", "wall", "serve", "--stories", str(stories),
            "--port", str(self.port), "--workers", str(workers), "--threads", str(threads),
        ]  # fmt: skip
        self.env = {
            **os.environ,
            "WALL_INSTANCE_PATH": str(self.instance),
            "WALL_DATABASE_URL": database_url,
            # A shared folder that inotify cannot see across machines: poll it.
            "WALL_WATCH": "poll",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WallServer:
        self.instance.mkdir(parents=True, exist_ok=True)
        with (self.instance / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # killed as a group: the master and its workers
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        wait_for_port(self.port, timeout, self.process)
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} not healthy after {timeout:.0f} s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the master and its workers at once, as a machine that dies would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 303 is an answer to look at, not to follow


class Browser:
    """A moderator's browser, as far as the wall can tell: a cookie jar, and forms
    posted with the CSRF token and story token the pages carry."""

    def __init__(self, base: str, forwarded_for: str | None = None) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _Stay
        )
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}

    def at(self, base: str) -> Browser:
        """The same browser (cookies and all), talking to another address."""
        other = Browser(base)
        other.cookies, other.opener, other.headers = self.cookies, self.opener, self.headers
        return other

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers)
        try:
            with self.opener.open(request, timeout=15) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read().decode()

    def form_field(self, path: str, name: str) -> str:
        status, page = self.request(path)
        found = re.search(rf'name="{name}" value="([^"]+)"', page)
        if found is None:
            raise LookupError(f"no {name} on {path} ({status})")
        return found.group(1)

    def sign_in(self, name: str, password: str) -> int:
        token = self.form_field("/login", "csrf_token")
        status, _ = self.request(
            "/login", {"csrf_token": token, "name": name, "password": password}
        )
        return status

    def act(self, slug: str, action: str, **fields: str) -> int:
        """Press a button on the admin's story page: approve, withdraw, ..."""
        page = f"/admin/stories/{slug}"
        data = {
            "csrf_token": self.form_field(page, "csrf_token"),
            "token": self.form_field(page, "token"),
            **fields,
        }
        status, _ = self.request(f"{page}/{action}", data)
        return status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m wall.devcluster",
        description="A wall on several servers, on this machine: PostgreSQL, N servers "
        "sharing one stories folder in poll mode, and haproxy in front.",
    )
    parser.add_argument("--stories", type=Path, default=Path("stories"))
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--port", type=int, default=8000, help="the load balancer's port")
    parser.add_argument("--folder", type=Path, help="where the parts keep their files")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="storywall-cluster-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user, and keeps its files in here
    postgres = Postgres(folder / "postgres").start()
    url = postgres.create_database("wall")
    print(f"PostgreSQL {postgres.bin.parent.name} on 127.0.0.1:{postgres.port}: {url}")
    subprocess.run(
        [sys.executable, "-m", "wall", "db", "upgrade"],
        env={**os.environ, "WALL_DATABASE_URL": url, "WALL_INSTANCE_PATH": str(folder / "s1")},
        check=True,
    )
    servers = [
        WallServer(
            f"s{n}",
            stories=args.stories.absolute(),
            instance=folder / f"s{n}",
            database_url=url,
        ).start()
        for n in range(1, args.servers + 1)
    ]
    balancer: Haproxy | None = None
    try:
        for server in servers:
            server.wait_ready()
            print(f"{server.name}: {server.url} (log: {server.instance / 'server.log'})")
        balancer = Haproxy(folder / "haproxy", [s.port for s in servers], args.port).start()
        print(f"\nThe wall, through haproxy: http://127.0.0.1:{balancer.port}/")
        print(f"Add a moderator: WALL_DATABASE_URL={url} storywall user add NAME")
        print("Ctrl-C stops everything.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        if balancer is not None:
            balancer.stop()
        for server in servers:
            server.stop()
        postgres.stop()
        print(f"stopped; files kept in {folder}")


if __name__ == "__main__":
    main()
