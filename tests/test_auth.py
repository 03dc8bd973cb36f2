"""Who may moderate: accounts, sessions, single sign-on, CSRF and rate limits."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

from tests.conftest import MODERATOR, csrf_token
from wall import create_app
from wall.cli import main
from wall.db import Database
from wall.settings import parse_rate
from wall.web.auth import safe_next

pytestmark = pytest.mark.both_engines

# Werkzeug's default, and what `storywall user add` uses: slow on purpose.
STRONG_HASH = re.compile(r"^(scrypt|pbkdf2):")


def sign_in(  # type: ignore[no-untyped-def]
    client,
    name: str = MODERATOR[0],
    password: str = MODERATOR[1],
    next: str | None = None,
    **request,
):
    """Sign in as a browser does: read the form's token, then post it; `request` goes
    to the test client (base_url, environ_base)."""
    token = csrf_token_for(client, request)
    data = {"csrf_token": token, "name": name, "password": password}
    if next:
        data["next"] = next
    return client.post("/login", data=data, **request)


def csrf_token_for(client, request: dict):  # type: ignore[no-untyped-def]
    html = client.get("/login", **request).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def session_cookie(client):  # type: ignore[no-untyped-def]
    return client.get_cookie("session")


# -- signing in and out -------------------------------------------------------------------------


def test_every_admin_route_needs_a_moderator(app, client, moderator, write_story) -> None:
    write_story("maria")
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    assert len(rules) >= 12
    token = csrf_token(client, "/login")  # a real token: only the missing session is wrong
    for rule in rules:
        url = re.sub(
            r"<(?:\w+:)?(\w+)>",
            lambda m: {"width": "480", "fmt": "jpg"}.get(m[1], "maria"),
            rule.rule,
        )
        for method in rule.methods & {"GET", "POST"}:
            response = client.open(url, method=method, data={"csrf_token": token, "token": "x"})
            assert response.status_code in (303, 403), (method, url, response.status_code)
            if response.status_code == 303:
                assert response.headers["Location"].startswith("/login?next="), url


def test_sign_in_renews_the_session_and_sets_safe_cookie_flags(app, moderator) -> None:
    client = app.test_client()
    client.get("/login")
    before = session_cookie(client).value
    token_before = csrf_token(client, "/login")
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    assert session_cookie(client).value != before
    assert csrf_token(client, "/admin/") != token_before  # a new CSRF token with the new session
    assert client.get("/admin/").status_code == 200


def test_the_cookie_is_secure_over_https(app, moderator) -> None:
    direct = app.test_client()
    # Over HTTPS, Flask-WTF also checks the Referer, as a browser sends it.
    https = {
        "base_url": "https://wall.example.com",
        "headers": {"Referer": "https://wall.example.com/login"},
    }
    response = sign_in(direct, **https)
    assert "Secure" in response.headers["Set-Cookie"]
    proxied = app.test_client()
    proxied.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    assert "Secure" in sign_in(proxied).headers["Set-Cookie"]  # from 127.0.0.1, trusted
    spoofed = app.test_client()
    spoofed.environ_base.update(HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")
    assert "Secure" not in sign_in(spoofed).headers["Set-Cookie"]


def test_a_wrong_password_or_name_is_refused_alike(client, moderator) -> None:
    wrong_password = sign_in(client, password="nope").get_data(as_text=True)
    wrong_name = sign_in(client, name="nobody").get_data(as_text=True)
    for html in (wrong_password, wrong_name):
        assert "do not match a moderator account" in html
    assert client.get("/admin/").status_code == 303


def test_every_failed_sign_in_costs_one_password_hash(app, client, monkeypatch) -> None:
    # An account for single sign-on has no password to check; answering it at
    # once, and any other name only after a slow hash, tells which names exist.
    db = app.extensions["storywall"].db
    db.add_user("carol", generate_password_hash("carol's own password"))
    db.add_user("dana", "!sso")  # as `storywall user add dana --sso` makes it
    hashed: list[str] = []
    real_scrypt = hashlib.scrypt

    def counting_scrypt(*args, **kwargs):  # type: ignore[no-untyped-def]
        hashed.append("scrypt")
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    for name in ["carol", "dana", "nobody", "not a valid name!", ""]:
        hashed.clear()
        response = sign_in(client, name=name, password="wrong")
        assert "do not match" in response.get_data(as_text=True)
        assert hashed == ["scrypt"], name
    hashed.clear()
    assert sign_in(client, name="carol", password="carol's own password").status_code == 303
    assert hashed == ["scrypt"]


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app, admin_client) -> None:
    copied = session_cookie(admin_client).value
    token = csrf_token(admin_client, "/admin/")
    response = admin_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert admin_client.get("/admin/").status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin/").status_code == 303


def test_removing_a_moderator_ends_their_sessions(app, admin_client) -> None:
    app.extensions["storywall"].db.remove_user(MODERATOR[0])
    assert admin_client.get("/admin/").status_code == 303


@pytest.mark.parametrize(
    "forgery", ["garbage", "eyJsb2dpbiI6ImZha2UifQ.fake.signature", "other-key"]
)
def test_a_forged_session_cookie_is_refused(app, moderator, forgery: str) -> None:
    client = app.test_client()
    if forgery == "other-key":
        # A well-formed cookie, signed with a secret that is not ours.
        class Other:
            secret_key = "not the wall's secret"
            config = app.config

        signer = SecureCookieSessionInterface().get_signing_serializer(Other)  # type: ignore[arg-type]
        forgery = signer.dumps({"login": "anything", "_fresh": True})
    client.set_cookie("session", forgery)
    assert client.get("/admin/").status_code == 303


def test_a_validly_signed_cookie_with_an_unknown_login_is_refused(app, moderator) -> None:
    client = app.test_client()
    with client.session_transaction() as session:
        session["login"] = "a token this wall never issued"
    assert client.get("/admin/").status_code == 303


def test_sign_in_returns_only_to_local_pages() -> None:
    assert safe_next("/admin/stories/maria") == "/admin/stories/maria"
    for bad in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:x",
        "admin",
    ]:
        assert safe_next(bad) is None


def test_sign_in_follows_next(app, client, moderator) -> None:
    response = sign_in(client, next="/admin/problems")
    assert response.headers["Location"] == "/admin/problems"
    response = sign_in(app.test_client(), next="https://evil.example/")
    assert response.headers["Location"] == "/admin/"


# -- CSRF ---------------------------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_refused(app, admin_client, write_story) -> None:
    path = write_story("maria", status="pending")
    before = path.read_text()
    for url in ["/admin/stories/maria/approve", "/admin/stories/maria/delete", "/logout", "/login"]:
        response = admin_client.post(url, data={"reason": "x"})
        assert response.status_code == 400, url
        assert "Nothing was changed" in response.get_data(as_text=True)
    assert path.read_text() == before
    wrong = admin_client.post("/admin/stories/maria/approve", data={"csrf_token": "forged"})
    assert wrong.status_code == 400 and path.read_text() == before


def test_kiosk_reads_need_no_session_or_token(client) -> None:
    for url in ["/api/stories", "/healthz", "/kiosk"]:
        assert client.get(url).status_code == 200


# -- rate limits ----------------------------------------------------------------------------------


def test_sign_in_is_rate_limited_even_with_the_right_password(app, client, moderator) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3/minute"
    for _ in range(3):
        assert "do not match" in sign_in(client, password="guess").get_data(as_text=True)
    limited = sign_in(client)
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.get_data(
        as_text=True
    )
    assert client.get("/admin/").status_code == 303


def test_the_sign_in_limit_holds_across_workers(
    stories: Path, instance: Path, database_url: str
) -> None:
    settings = {
        "STORIES_DIR": str(stories),
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "WATCH": "off",
    }
    workers = [create_app({**settings, "LOGIN_RATE_LIMIT": "2/minute"}) for _ in range(2)]
    clients = [w.test_client() for w in workers]
    codes = [sign_in(clients[n % 2], password="guess").status_code for n in range(4)]
    for worker in workers:
        worker.extensions["storywall"].db.close()
    assert codes == [200, 200, 429, 429]


def test_the_sign_in_limit_slides_across_the_minute(app, client, moderator, monkeypatch) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3/minute"
    clock = SimpleNamespace(time=lambda: 1_800_000_059.9)  # just before a minute turns
    monkeypatch.setattr("wall.db.time", clock)
    for _ in range(3):
        assert sign_in(client, password="guess").status_code == 200
    clock.time = lambda: 1_800_000_060.1  # just after it
    assert sign_in(client, password="guess").status_code == 429
    assert sign_in(client).status_code == 429
    clock.time = lambda: 1_800_000_120.0  # a minute after the first three
    assert sign_in(client).status_code == 303


def test_rate_limits_count_people_behind_a_trusted_proxy(app, client, moderator) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "1/minute"
    alice = {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    bob = {"HTTP_X_FORWARDED_FOR": "198.51.100.2"}
    assert sign_in(client, password="x", environ_base=alice).status_code == 200
    assert sign_in(client, password="x", environ_base=alice).status_code == 429
    assert sign_in(client, password="x", environ_base=bob).status_code == 200


@pytest.mark.parametrize(
    ("text", "rate"),
    [("10/minute", (10, 60)), ("5 per hour", (5, 3600)), ("3/30", (3, 30)), ("2/days", (2, 86400))],
)
def test_rates_read_as_people_write_them(text: str, rate: tuple[int, int]) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["ten/minute", "10/fortnight", "10", ""])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


# -- single sign-on -----------------------------------------------------------------------------


def test_single_sign_on_is_off_by_default(app, client, moderator) -> None:
    assert client.get("/admin/", headers={"X-Forwarded-User": MODERATOR[0]}).status_code == 303


def test_single_sign_on_trusts_the_header_only_from_proxies(app, client, moderator) -> None:
    app.config.update(SSO_HEADER="X-Forwarded-User", TRUSTED_PROXIES="10.0.0.0/8")
    via_proxy = {"REMOTE_ADDR": "10.1.2.3"}
    ok = client.get("/admin/", headers={"X-Forwarded-User": MODERATOR[0]}, environ_base=via_proxy)
    assert ok.status_code == 200 and MODERATOR[0] in ok.get_data(as_text=True)
    direct = client.get("/admin/", headers={"X-Forwarded-User": MODERATOR[0]})  # from 127.0.0.1
    assert direct.status_code == 303
    staff = client.get("/admin/", headers={"X-Forwarded-User": "sam"}, environ_base=via_proxy)
    assert staff.status_code == 403  # signed in, but not a moderator
    assert "storywall user add sam --sso" in staff.get_data(as_text=True)


# -- moderator accounts on the command line ----------------------------------------------------


def run(  # type: ignore[no-untyped-def]
    *args: str, instance: Path, input: str | None = None, database_url: str = ""
):
    env = {"WALL_INSTANCE_PATH": str(instance), "WALL_DATABASE_URL": database_url}
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def user_row(name: str, instance: Path, database_url: str):  # type: ignore[no-untyped-def]
    db = Database(database_url or instance / "storywall.db")
    try:
        return db.get_user(name)
    finally:
        db.close()


def test_user_add_list_remove(instance: Path, database_url: str) -> None:
    password = "a long enough pass phrase"

    def add_alex():  # type: ignore[no-untyped-def]
        return run(
            "user",
            "add",
            "alex",
            instance=instance,
            database_url=database_url,
            input=f"{password}\n{password}\n",
        )

    added = add_alex()
    assert added.exit_code == 0, added.output
    row = user_row("alex", instance, database_url)
    assert STRONG_HASH.match(row["password_hash"]) and check_password_hash(
        row["password_hash"], password
    )
    if not database_url:
        assert password not in (instance / "storywall.db").read_bytes().decode("latin-1")
    listed = run("user", "list", instance=instance, database_url=database_url)
    assert listed.stdout.startswith("alex\tpassword\tadded ")
    again = add_alex()
    assert again.exit_code == 1 and "already exists" in again.output
    assert (
        run("user", "remove", "alex", instance=instance, database_url=database_url).exit_code == 0
    )
    assert (
        run("user", "remove", "alex", instance=instance, database_url=database_url).exit_code == 1
    )
    assert user_row("alex", instance, database_url) is None


def test_user_list_elsewhere_creates_nothing_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for args in (["user", "list"], ["user", "remove", "alex"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert f"no instance folder at {elsewhere / 'instance'}" in result.output
        assert "--instance or WALL_INSTANCE_PATH" in result.output
    assert list(elsewhere.iterdir()) == []


def test_user_list_in_an_instance_without_a_database_creates_none(instance: Path) -> None:
    instance.mkdir()
    listed = run("user", "list", instance=instance)
    assert listed.exit_code == 0 and "no moderators yet" in listed.output
    assert str(instance) in listed.output
    removed = run("user", "remove", "alex", instance=instance)
    assert removed.exit_code == 1 and "no moderator called alex" in removed.output
    assert list(instance.iterdir()) == []


def test_user_list_only_reads(instance: Path) -> None:
    password = "a long enough pass phrase"
    added = run("user", "add", "alex", instance=instance, input=f"{password}\n{password}\n")
    assert f"added moderator alex in {instance}" in added.output
    before = {p.name: p.stat().st_mtime_ns for p in instance.iterdir()}
    assert run("user", "list", instance=instance).stdout.startswith("alex\t")
    after = {p.name: p.stat().st_mtime_ns for p in instance.iterdir()}
    assert after["storywall.db"] == before["storywall.db"]


def test_user_add_refuses_short_or_mismatched_passwords(instance: Path, database_url: str) -> None:
    short = run(
        "user", "add", "alex", instance=instance, database_url=database_url, input="short\nshort\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    mismatch = run(
        "user",
        "add",
        "alex",
        instance=instance,
        database_url=database_url,
        input="first long password\nsecond long password\n" * 2,
    )
    assert "do not match" in mismatch.output or mismatch.exit_code != 0
    assert user_row("alex", instance, database_url) is None
    bad_name = run(
        "user", "add", "alex smith", instance=instance, database_url=database_url, input=""
    )
    assert bad_name.exit_code == 2


def test_user_add_reset_changes_the_password_and_signs_out(
    app, admin_client, instance: Path, database_url: str
) -> None:
    new = "another long pass phrase"
    result = run(
        "user",
        "add",
        MODERATOR[0],
        "--reset",
        instance=instance,
        database_url=database_url,
        input=f"{new}\n{new}\n",
    )
    assert result.exit_code == 0, result.output
    assert admin_client.get("/admin/").status_code == 303
    assert sign_in(app.test_client(), password=new).status_code == 303


def test_a_single_sign_on_account_has_no_password(app, instance: Path, database_url: str) -> None:
    assert (
        run("user", "add", "sam", "--sso", instance=instance, database_url=database_url).exit_code
        == 0
    )
    assert (
        "single sign-on" in run("user", "list", instance=instance, database_url=database_url).stdout
    )
    assert "do not match" in sign_in(app.test_client(), name="sam", password="!sso").get_data(
        as_text=True
    )
