"""The nginx configuration in docs/deploy.md that exposes only /thanks, run for real.

The documented server block is taken from the docs as it is (only its port,
certificates and upstream are swapped for the test's), put in front of a real
`storywall serve`, and asked for what a stranger on the internet could ask.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Wall
from tests.support import free_port
from wall.core import Wall as CoreWall
from wall.settings import load_settings

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).parent.parent / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def documented_block() -> str:
    """The nginx block under "Only /thanks on the internet" in docs/deploy.md."""
    text = DEPLOY.read_text()
    section = text.split("### Only /thanks on the internet", 1)[1]
    return section.split("```nginx\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[tuple[str, Wall]]:
    if NGINX is None:
        pytest.fail("nginx is not installed: make test installs it (scripts/install-system-deps)")
    root = tmp_path_factory.mktemp("proxy")
    root.chmod(0o755)
    wall = Wall(root / "wall")
    wall.config('[teams.dayton-night]\nname = "the night shift at Dayton"\n')
    wall.story("maria", hue=0.1, name="Maria Alvarez")
    server = wall.serve()
    port = free_port()
    block = documented_block()
    block = block.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};")
    block = re.sub(r"\n\s*ssl_certificate\S*\s[^\n]*", "", block)
    conf = root / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        + "events { worker_connections 64; }\n"
        + "http {\n"
        + f"  access_log {root}/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {root}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  upstream storywall {{ server 127.0.0.1:{server.port}; }}\n"
        + block
        + "}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/thanks/card", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.1)
    yield base, wall
    process.terminate()
    process.wait(10)
    process.stderr.close()  # type: ignore[union-attr]
    wall.stop()


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location") or ""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_the_thank_you_page_and_what_it_needs_pass(proxy) -> None:
    base, _ = proxy
    status, page = get(base + "/thanks")
    assert status == 200 and "Thank the team" in page
    assert get(base + "/thanks/dayton-night")[0] == 200
    assert get(base + "/thanks/card")[0] == 200
    assert get(base + "/")[0] == 302
    # Every static file and preview the page itself refers to.
    tv = re.search(r'<iframe src="([^"]+)"', page)[1].replace("&amp;", "&")  # type: ignore[index]
    status, slide = get(base + tv)
    assert status == 200
    for url in re.findall(r'(?:href|src)="(/[^"]+)"', page + slide):
        if url.startswith(("/thanks", "/static/", "/kiosk/theme/")):
            assert get(base + url.replace("&amp;", "&"))[0] == 200, url


def test_a_customers_private_link_works_from_outside(proxy) -> None:
    base, wall = proxy
    core = CoreWall.from_settings(
        load_settings(
            {"STORIES_DIR": str(wall.stories), "INSTANCE_PATH": str(wall.instance), "WATCH": "off"},
            environ={},
        )
    )
    core.index.rescan()
    token = core.consent.make_link("maria", "alex")
    status, page = get(f"{base}/consent/{token}")
    assert status == 200 and "Your story, before anyone else sees it" in page
    tv = re.search(r'<iframe src="([^"]+)"', page)[1].replace("&amp;", "&")  # type: ignore[index]
    assert get(base + tv)[0] == 200
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        assert get(base + url.replace("&amp;", "&"))[0] == 200, url
    assert get(f"{base}/consent/not-a-real-token-at-all-000")[0] == 404


def test_nothing_else_of_the_wall_is_reachable(proxy) -> None:
    base, wall = proxy
    assert wall.server.get("/stories/maria")[0] == 200  # there, on the intranet
    for path in (
        "/stories/maria",
        "/admin/",
        "/login",
        "/submit",
        "/kiosk",
        "/api/stories",
        "/api/events",
        "/healthz",
        "/static/../admin/",
        "/thanks/../admin/",
        "/photos/maria/x/480.jpg",
    ):
        assert get(base + path)[0] == 404, path
