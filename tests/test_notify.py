"""Notifications: an outbox in the database, a sender thread, real SMTP and webhook receivers.

The mail server (aiosmtpd) and the webhook receiver (http.server) are real and
listen on loopback; nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import MODERATOR, TODAY, csrf_token
from tests.receivers import Mailbox, SilentServer, WebhookReceiver, parts, wait_until
from tests.support import free_port
from tests.test_submit import post
from wall import create_app
from wall.cli import main
from wall.db import Database
from wall.notify import Notifier, NotifyConfig
from wall.settings import SettingsError, load_settings

SECRET = "s3cret-for-tests"
DOCS = Path(__file__).parent.parent / "docs" / "notifications.md"
TEAMS = {"dayton-night": {"name": "the night shift at Dayton", "email": "night@example.com"}}


def notify_settings(smtp_port: int | None, hook_url: str | None = None, **extra: object) -> dict:
    settings: dict[str, object] = {
        "PUBLIC_URL": "https://wall.example.com",
        "NOTIFY_RETRY_SECONDS": [0.2, 0.2],
        "NOTIFY_POLL_SECONDS": 0.05,
        "SMTP_TIMEOUT": 5,
        "WEBHOOK_TIMEOUT": 5,
        "NOTIFY_LEASE_SECONDS": 30,
        "TEAMS": TEAMS,
    }
    if smtp_port is not None:
        settings.update(
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp_port,
            SMTP_SECURITY="none",
            SMTP_FROM="wall@example.com",
        )
    if hook_url is not None:
        settings.update(WEBHOOK_URLS=[hook_url], WEBHOOK_SECRET=SECRET)
    return {**settings, **extra}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def make_app(stories: Path, instance: Path, **settings: object):  # type: ignore[no-untyped-def]
    base = {"STORIES_DIR": str(stories), "INSTANCE_PATH": str(instance), "WATCH": "off"}
    return create_app({**base, "TESTING": True, **settings})


@pytest.fixture
def notifying(stories: Path, instance: Path, mailbox: Mailbox, hook: WebhookReceiver):  # type: ignore[no-untyped-def]
    """An app that sends email to the test mail server and webhooks to the test receiver."""
    app = make_app(stories, instance, **notify_settings(mailbox.port, hook.url))
    wall = app.extensions["storywall"]
    wall.db.add_user(MODERATOR[0], "!sso")
    wall.db.set_user_email(MODERATOR[0], "alex@example.com")
    wall.ensure_sending()
    yield app
    wall.stop()


def wall_of(app):  # type: ignore[no-untyped-def]
    return app.extensions["storywall"]


def documented_verify():  # type: ignore[no-untyped-def]
    """The verification snippet from docs/notifications.md, as a receiver would paste it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert code, "no Python snippet in docs/notifications.md"
    scope: dict[str, object] = {}
    exec(code.group(1), scope)
    return scope["verify"]


# -- not configured: nothing changes ----------------------------------------------------------


def test_without_settings_nothing_is_queued_and_the_admin_says_how_to_turn_it_on(
    app, admin_client, write_story
) -> None:
    write_story("maria", status="pending", submitter_email="sam@example.com")
    wall = wall_of(app)
    story = wall.moderation.current("maria")
    wall.moderation.approve("maria", story.token, "alex")
    assert post(app.test_client(), name="Dev Patel").status_code == 303
    assert wall.db.outbox_counts() == {}
    assert wall.notifier._thread is None  # no sender thread either
    page = admin_client.get("/admin/outbox").get_data(as_text=True)
    assert "Notifications are off" in page and "smtp_host" in page and "notify test" in page
    assert "Notifications are off" in admin_client.get("/admin/settings").get_data(as_text=True)


# -- events reach the people they concern -------------------------------------------------------


def test_a_submission_reaches_moderators_by_email_and_a_signed_webhook(
    notifying, mailbox: Mailbox, hook: WebhookReceiver
) -> None:
    response = post(notifying.test_client(), name="Dev Patel", body="Private words of the story.")
    assert response.status_code == 303
    assert mailbox.wait_for(1) and hook.wait_for(1)
    (message,) = mailbox.messages
    assert message["To"] == "alex@example.com"
    assert message["Subject"] == "New story waiting: Dev Patel"
    plain, rich = parts(message)
    assert "https://wall.example.com/admin/stories/dev-patel" in plain
    assert 'href="https://wall.example.com/admin/stories/dev-patel"' in rich
    assert "Private words" not in plain + rich  # names and links, never the story's text
    assert "<img" not in rich
    # The mail server has the message a moment before the sender marks it sent.
    db = wall_of(notifying).db
    assert wait_until(lambda: any(r["channel"] == "email" for r in db.outbox(("sent",))))
    row = next(r for r in db.outbox(("sent",)) if r["channel"] == "email")
    assert message["Message-ID"] == row["message_id"]

    headers, body = hook.posts[0]
    assert documented_verify()(SECRET, headers, body)
    assert not documented_verify()(SECRET, headers, body.replace(b"Dev", b"Eve"))
    assert not documented_verify()("another secret", headers, body)
    payload = json.loads(body)
    assert payload["event"] == "submitted" and payload["story"]["slug"] == "dev-patel"
    assert payload["url"] == "https://wall.example.com/admin/stories/dev-patel"
    assert payload["text"].startswith("New story waiting: Dev Patel <https://")
    assert headers["X-Storywall-Delivery"] == payload["id"]
    time.sleep(0.3)
    assert len(mailbox.messages) == 1 and len(hook.posts) == 1  # once each


def test_approval_and_rejection_reach_the_submitter(
    notifying, mailbox: Mailbox, write_story
) -> None:
    write_story("maria", status="pending", submitter_email="sam@example.com")
    write_story("dev", status="pending", name="Dev Patel", submitter_email="sam@example.com")
    moderation = wall_of(notifying).moderation
    moderation.approve("maria", moderation.current("maria").token, "alex")
    moderation.reject("dev", moderation.current("dev").token, "alex", "No consent form yet.")
    assert mailbox.wait_for(2)
    subjects = {m["Subject"]: parts(m)[0] for m in mailbox.to("sam@example.com")}
    approved = subjects["Your story about Maria Alvarez is approved"]
    assert "https://wall.example.com/stories/maria" in approved
    assert (
        "The reason: No consent form yet."
        in subjects["Your story about Dev Patel was not approved"]
    )


def test_a_published_thank_you_reaches_the_team_it_thanks(
    notifying, mailbox: Mailbox, hook: WebhookReceiver, write_story
) -> None:
    write_story("thanks-maria", status="pending", kind="thank-you", to="dayton-night")
    moderation = wall_of(notifying).moderation
    moderation.approve("thanks-maria", moderation.current("thanks-maria").token, "alex")
    assert mailbox.wait_for(1) and hook.wait_for(2)
    (message,) = mailbox.to("night@example.com")
    assert message["Subject"] == "A customer thanked the night shift at Dayton"
    events = sorted(json.loads(body)["event"] for _, body in hook.posts)
    assert events == ["approved", "thanked"]
    thanked = next(json.loads(b) for _, b in hook.posts if b"thanked" in b)
    assert thanked["story"]["to"] == "dayton-night"


def test_a_customer_withdrawal_reaches_moderators_and_the_submitter(
    notifying, mailbox: Mailbox, write_story
) -> None:
    write_story("maria", submitter_email="sam@example.com")
    wall = wall_of(notifying)
    token = wall.consent.make_link("maria", "alex")
    wall.consent.withdraw(token, address="192.0.2.1", user_agent="phone")
    assert mailbox.wait_for(2)
    assert mailbox.to("alex@example.com")[0]["Subject"] == "Maria Alvarez withdrew consent"
    assert "left every screen" in parts(mailbox.to("sam@example.com")[0])[0]


HOSTILE = 'Eve <script>alert(1)</script> & "Mallory"'


def test_hostile_names_are_text_in_both_parts_and_never_headers(
    notifying, mailbox: Mailbox, write_story
) -> None:
    write_story(
        "eve",
        status="pending",
        name=HOSTILE,
        role='<img src=x onerror="alert(2)">',
        company="Evil\r\nBcc: victim@example.com",
        submitter_email="sam@example.com",
    )
    moderation = wall_of(notifying).moderation
    moderation.reject("eve", moderation.current("eve").token, "alex", "<b>no</b>\nBcc: x@y.z")
    assert mailbox.wait_for(1)
    (message,) = mailbox.messages
    assert mailbox.envelopes == [("wall@example.com", ["sam@example.com"])]
    assert message["Bcc"] is None
    # Long, so folded; a reader unfolds it to one line.
    assert message["Subject"].strip() == f"Your story about {HOSTILE} was not approved"
    plain, rich = parts(message)
    assert HOSTILE in plain and "<b>no</b>" in plain  # text is text
    assert "<script" not in rich and "<img" not in rich and "<b>" not in rich
    assert "Eve &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Mallory&quot;" in rich
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in rich


def test_the_same_event_is_queued_once(notifying, write_story) -> None:
    write_story("maria", status="pending", submitter_email="sam@example.com")
    wall = wall_of(notifying)
    story = wall.moderation.current("maria")
    assert wall.notifier.publish("approved", story) == 2  # the submitter, the webhook
    assert wall.notifier.publish("approved", story) == 0


# -- failures, retries and the outbox page -------------------------------------------------------


def test_retries_wait_longer_each_time_then_fail_keeping_the_error(tmp_path: Path) -> None:
    now = [1_000_000.0]
    config = NotifyConfig(
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nothing listens
        smtp_security="none",
        smtp_from="wall@example.com",
        smtp_timeout=5,
    )
    db = Database(tmp_path / "storywall.db")
    notifier = Notifier(db, config, clock=lambda: now[0])
    message = notifier._emails("test", "e1", _note(), ["a@example.com"], None)
    db.enqueue_notifications(message, now=now[0])
    waits = []
    for _ in config.retry_seconds:
        assert notifier.send_next("me")
        (row,) = db.outbox(("pending",))
        waits.append(row["due_at"] - now[0])
        assert not notifier.send_next("me")  # not due yet
        now[0] = row["due_at"]
    assert waits == [60, 300, 1800, 7200]
    assert notifier.send_next("me")
    (row,) = db.outbox(("failed",))
    assert row["attempts"] == 5
    assert "connection refused by 127.0.0.1" in row["last_error"]


def _note():  # type: ignore[no-untyped-def]
    from wall.notify.messages import Note

    return Note("Hello", ("A line.",), "https://wall.example.com/", "Open")


def test_a_failed_delivery_is_shown_and_sent_again_from_the_outbox(
    stories: Path, instance: Path, write_story
) -> None:
    port = free_port()
    app = make_app(stories, instance, **notify_settings(port))
    wall = wall_of(app)
    try:
        write_story("maria", status="pending", submitter_email="sam@example.com")
        client = app.test_client()
        wall.db.add_user(MODERATOR[0], "!sso")
        client.get("/healthz")  # a first request starts the sender, as in a worker
        wall.moderation.approve("maria", wall.moderation.current("maria").token, "alex")
        assert wait_until(lambda: wall.db.outbox_counts().get("failed") == 1)
        page = _admin_get(app, "/admin/outbox")
        assert "connection refused by 127.0.0.1" in page and "failed after 3 attempts" in page
        (row,) = wall.db.outbox(("failed",))
        box = Mailbox(port).start()
        try:
            response = _admin_post(app, f"/admin/outbox/{row['id']}/retry")
            assert response.status_code == 303
            assert box.wait_for(1)
            assert wait_until(lambda: wall.db.outbox_counts() == {"sent": 1})
        finally:
            box.stop()
        assert wall.db.audit_log()[0]["action"] == "notification retried"
    finally:
        wall.stop()


def _admin_client(app):  # type: ignore[no-untyped-def]
    from werkzeug.security import generate_password_hash

    name, password = MODERATOR
    db = wall_of(app).db
    if db.get_user(name) is None or db.get_user(name)["password_hash"] == "!sso":
        db.set_password(name, generate_password_hash(password, method="pbkdf2:sha256:1000"))
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "name": name, "password": password})
    return client


def _admin_get(app, path: str) -> str:  # type: ignore[no-untyped-def]
    return _admin_client(app).get(path).get_data(as_text=True)


def _admin_post(app, path: str, **data: object):  # type: ignore[no-untyped-def]
    client = _admin_client(app)
    token = csrf_token(client, "/admin/outbox")
    return client.post(path, data={"csrf_token": token, **data})


def test_the_retry_button_needs_the_csrf_token(notifying) -> None:
    client = _admin_client(notifying)
    assert client.post("/admin/outbox/1/retry").status_code == 400


# -- each moderator's own settings, and the daily digest ------------------------------------


def test_a_moderator_chooses_a_daily_digest_and_gets_one_email(
    notifying, mailbox: Mailbox, write_story
) -> None:
    client = _admin_client(notifying)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="alex@example.com"' in page
    token = csrf_token(client, "/admin/settings")
    bad = client.post("/admin/settings", data={"csrf_token": token, "email": "not-an-address"})
    assert bad.status_code == 400 and "is not an email address" in bad.get_data(as_text=True)
    form = {"csrf_token": token, "email": "alex@example.org", "mode_submitted": "digest"}
    form["mode_declined"] = "off"
    assert client.post("/admin/settings", data=form).status_code == 303
    wall = wall_of(notifying)
    settings = wall.notifier.settings_for("alex")
    assert settings["email"] == "alex@example.org"
    assert settings["modes"]["submitted"] == "digest" and settings["modes"]["declined"] == "off"
    assert wall.db.audit_log()[0]["action"] == "notification settings changed"

    write_story("maria", status="pending")
    write_story("dev", status="pending", name="Dev Patel")
    for slug in ("maria", "dev"):
        wall.notifier.publish("submitted", wall.moderation.current(slug))
    assert wall.db.outbox_counts().get("held") == 2
    time.sleep(0.3)
    assert mailbox.to("alex@example.org") == []  # nothing until the digest

    later = wall.notifier.next_digest(time.time()) + 1
    digest = Notifier(wall.db, wall.notify_config, clock=lambda: later)
    digest.run_schedules()
    digest.run_schedules()  # a second process at the same time makes no second digest
    while digest.send_next("test"):
        pass
    (message,) = mailbox.to("alex@example.org")
    assert message["Subject"].startswith("2 updates from the wall")
    plain, _ = parts(message)
    assert "New story waiting: Maria Alvarez" in plain and "New story waiting: Dev Patel" in plain
    assert wall.db.outbox_counts().get("digested") == 2


def test_consents_expiring_are_reported_once_a_week(
    notifying, mailbox: Mailbox, hook: WebhookReceiver, write_story
) -> None:
    consent = {
        "given_by": "Maria Alvarez",
        "date": (TODAY - dt.timedelta(days=300)).isoformat(),
        "scope": ["hallway", "intranet"],
        "expires": (TODAY + dt.timedelta(days=10)).isoformat(),
    }
    write_story("maria", consent=consent)
    wall = wall_of(notifying)
    # Only this test's notifier, on its own clock: the app's sender, on the real
    # one, would make this week's list itself on a Monday, and a day's skew
    # between two senders' clocks outlasts any lease.
    wall.notifier.stop_sender()
    wall.index.rescan()
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    at = dt.datetime.combine(monday, dt.time(9, 0)).astimezone().timestamp()
    now = [at]
    weekly = Notifier(
        wall.db,
        wall.notify_config,
        expiring=wall.consent.expiring,
        clock=lambda: now[0],
    )
    weekly.run_schedules()
    now[0] += 86400  # Tuesday, in another process: the same week
    weekly._next_expiring_check = 0
    weekly.run_schedules()
    while weekly.send_next("test"):
        pass
    (message,) = mailbox.to("alex@example.com")
    assert message["Subject"] == "1 consents end within 30 days"
    assert "Maria Alvarez" in parts(message)[0]
    assert hook.wait_for(1)
    now[0] += 7 * 86400  # next week
    weekly._next_expiring_check = 0
    weekly.run_schedules()
    assert len(wall.db.outbox(("pending",))) == 2  # again: the moderator and the webhook


# -- settings and the command line ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"SMTP_HOST": "mail.example.com"}, "SMTP_FROM is empty"),
        ({"WEBHOOK_URLS": "https://example.com/hook"}, "WEBHOOK_SECRET is empty"),
        ({"WEBHOOK_URLS": "example.com/hook", "WEBHOOK_SECRET": "k"}, "is not an http(s) URL"),
        ({"SMTP_SECURITY": "ssl"}, "must be one of starttls, tls, none"),
        ({"NOTIFY_LEASE_SECONDS": 30}, "must be longer than SMTP_TIMEOUT and WEBHOOK_TIMEOUT"),
        ({"NOTIFY_RETRY_SECONDS": "soon"}, "seconds before each retry"),
    ],
)
def test_bad_notification_settings_stop_with_one_line(
    tmp_path: Path, values: dict, words: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"INSTANCE_PATH": str(tmp_path), **values}, environ={})
    assert words in str(refused.value)


def run(instance: Path, *args: str, **settings: object):  # type: ignore[no-untyped-def]
    instance.mkdir(parents=True, exist_ok=True)
    lines = []
    for key, value in settings.items():
        lines.append(f"{key.lower()} = {json.dumps(value)}")
    (instance / "config.toml").write_text("\n".join(lines) + "\n")
    return CliRunner().invoke(main, ["--instance", str(instance), *args])


def test_notify_test_sends_an_email_and_a_webhook(
    instance: Path, mailbox: Mailbox, hook: WebhookReceiver
) -> None:
    settings = notify_settings(mailbox.port, hook.url)
    del settings["TEAMS"]
    result = run(instance, "notify", "test", "--to", "me@example.com", **settings)
    assert result.exit_code == 0, result.output
    assert "email to me@example.com: sent" in result.output
    assert f"webhook to {hook.url}: sent" in result.output
    assert mailbox.to("me@example.com")[0]["Subject"] == "Test from Story Wall"
    assert documented_verify()(SECRET, *hook.posts[0])
    assert not (instance / "storywall.db").exists()  # nothing queued, nothing left behind


def test_notify_test_says_what_went_wrong_in_plain_words(instance: Path) -> None:
    silent = SilentServer()
    broken = WebhookReceiver(status=500)
    locked = Mailbox(login=("wall", "the right one")).start()
    try:
        cases = [
            (notify_settings(free_port()), "connection refused by 127.0.0.1"),
            (notify_settings(silent.port, SMTP_TIMEOUT=1), "timed out after 1s"),
            (
                notify_settings(locked.port, SMTP_USER="wall", SMTP_PASSWORD="wrong"),
                "authentication failed: 127.0.0.1",
            ),
            (notify_settings(None, broken.url), "answered 500 Internal Server Error"),
            (notify_settings(locked.port, SMTP_SECURITY="tls"), "secure connection to"),
        ]
        for settings, words in cases:
            del settings["TEAMS"]
            result = run(instance, "notify", "test", "--to", "me@example.com", **settings)
            assert result.exit_code == 1, result.output
            assert words in result.output, result.output
    finally:
        silent.close()
        broken.close()
        locked.stop()


def test_notify_test_without_settings_says_how_to_turn_them_on(instance: Path) -> None:
    result = run(instance, "notify", "test", SITE_NAME="Wall")
    assert result.exit_code == 1
    assert "notifications are off: set SMTP_HOST" in result.output


def test_user_add_with_an_email(instance: Path) -> None:
    result = run(instance, "user", "add", "alex", "--sso", "--email", "alex@example.com")
    assert result.exit_code == 0, result.output
    db = Database(instance / "storywall.db")
    assert db.get_user("alex")["email"] == "alex@example.com"
    result = run(instance, "user", "add", "alex", "--email", "a@example.org")
    assert result.exit_code == 0 and "go to a@example.org" in result.output
    assert db.get_user("alex")["email"] == "a@example.org"
    assert run(instance, "user", "add", "bo", "--sso", "--email", "nope").exit_code == 2
