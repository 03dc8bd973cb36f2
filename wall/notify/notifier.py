"""The notifier: services publish events, an outbox keeps them, a sender thread delivers them.

Publishing happens inside a request and is only a SQLite insert. Each process
runs one sender thread (started with the watcher, after gunicorn forks), which
claims due rows one at a time under SQLite's write lock, sends them and marks
them sent. Of several workers (or servers on one database), each row goes to
exactly one sender.

The one window where a message can go twice: the mail server or webhook took
it, and the process died (or lost the database) before marking it sent. Its
lease then runs out and another sender sends it again. Such duplicates carry
the same Message-ID (email) or X-Storywall-Delivery (webhooks), so they can be
recognised. Sending "at most once" instead would lose messages in the same
window, which is worse for a moderator waiting on a queue.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..db import Database
from ..stories import Story
from ..teams import EMAIL_RE, Team
from . import messages as m
from .config import NotifyConfig
from .delivery import DeliveryError, compose_email, post_webhook, send_email

log = logging.getLogger(__name__)

EXPIRING_CHECK_SECONDS = 600.0


class Publisher(Protocol):
    """What a service needs of a notifier: somewhere to say that something happened."""

    def publish(self, kind: str, story: Story | None = None, **details: Any) -> int: ...


class Silent:
    """Publishes nothing: what a service holds when no notifier is given."""

    def publish(self, kind: str, story: Story | None = None, **details: Any) -> int:
        return 0


SILENT = Silent()


def clock_today_at(text: str, day: dt.date) -> float:
    hours, minutes = (int(part) for part in text.split(":"))
    return dt.datetime.combine(day, dt.time(hours, minutes)).astimezone().timestamp()


class Notifier:
    """Turns events into queued messages, and (in its sender thread) delivers them."""

    def __init__(
        self,
        db: Database | None,
        config: NotifyConfig,
        *,
        teams: Mapping[str, Team] | None = None,
        expiring: Callable[[], Sequence[Story]] | None = None,
        expiring_days: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.config = config
        self.teams = dict(teams or {})
        self.expiring = expiring
        self.expiring_days = expiring_days
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_expiring_check = 0.0

    @property
    def configured(self) -> bool:
        return self.config.configured

    @property
    def db(self) -> Database:
        """The outbox's database; a notifier without one (`notify test`) only sends directly."""
        if self._db is None:
            raise RuntimeError("this notifier has no outbox")
        return self._db

    # -- publishing: inside a request, only inserts ---------------------------------------------

    def publish(self, kind: str, story: Story | None = None, **details: Any) -> int:
        """Queue the messages an event makes, for everyone who should hear of it.

        Never raises: the action it reports has happened already, and a
        notification that cannot be queued must not turn it into an error
        page. Returns how many messages were queued.
        """
        kind = m.ACTIONS.get(kind, kind)
        if not self.configured or kind not in m.EVENTS or story is None:
            return 0
        try:
            messages = self.messages_for(kind, story, **details)
            added = self.db.enqueue_notifications(messages, now=self.clock())
        except Exception:  # see the docstring: logged, and the action stands
            log.exception("could not queue the %s notifications for %s", kind, story.slug)
            return 0
        if added:
            self._wake.set()
        return added

    def messages_for(self, kind: str, story: Story, *, reason: str = "", **_: Any) -> list[dict]:
        """Every outbox row for one event about one story (not yet stored)."""
        event = f"{kind}:{story.slug}:{story.token}"
        config = self.config
        rows: list[dict] = []
        if kind in m.MODERATOR_EVENTS:
            note = m.for_moderators(kind, story, config, self.teams, reason)
            rows += self._to_moderators(kind, event, note, story.slug)
        if kind in m.SUBMITTER_EVENTS:
            address = str(story.meta.get("submitter_email") or "").strip()
            note = m.for_submitter(kind, story, config, reason)
            if address:
                rows += self._emails(kind, event, note, [address], story.slug)
        if kind == "approved":
            team = m.team_of(story, self.teams)
            if team is not None:
                thanked = f"thanked:{story.slug}:{story.token}"
                note_team = m.for_team(story, team, config)
                if team.email:
                    rows += self._emails("thanked", thanked, note_team, [team.email], story.slug)
                rows += self._webhooks("thanked", thanked, note_team, story)
        rows += self._webhooks(kind, event, m.for_webhook(kind, story, config, self.teams), story)
        return rows

    def publish_expiring(self, stories: Sequence[Story], now: float | None = None) -> int:
        """The weekly list of consents that end soon, to moderators (once per ISO week)."""
        if not self.configured or not stories:
            return 0
        now = self.clock() if now is None else now
        year, week, _ = dt.date.fromtimestamp(now).isocalendar()
        event = f"expiring:{year}-W{week:02d}"
        note = m.for_expiring(stories, self.config, self.expiring_days)
        rows = self._to_moderators("expiring", event, note, None)
        extra = {
            "stories": [
                {
                    "slug": s.slug,
                    "name": m.one_line(s.name),
                    "expires": s.consent.expires.isoformat()
                    if s.consent and s.consent.expires
                    else None,
                }
                for s in stories
            ]
        }
        rows += self._webhooks("expiring", event, note, None, **extra)
        return self.db.enqueue_notifications(rows, now=now)

    def _to_moderators(self, kind: str, event: str, note: m.Note, slug: str | None) -> list[dict]:
        if not self.config.email_on:
            return []
        now = self.clock()
        rows = []
        for moderator in self.db.notify_recipients(kind):
            (row,) = self._emails(kind, event, note, [moderator["email"]], slug)
            if moderator["mode"] == "digest":
                row.update(state="held", due_at=self.next_digest(now))
            rows.append(row)
        return rows

    def _emails(
        self, kind: str, event: str, note: m.Note, addresses: Sequence[str], slug: str | None
    ) -> list[dict]:
        if not self.config.email_on:
            return []
        rows = []
        for address in addresses:
            key = f"{event}|email|{address.strip().casefold()}"
            rows.append(
                {
                    "dedupe_key": key,
                    "channel": "email",
                    "recipient": address.strip(),
                    "event": kind,
                    "slug": slug,
                    "subject": m.one_line(note.subject, 250),
                    "body_text": note.text(),
                    "body_html": note.html(),
                    "message_id": m.message_id(key, self.config.smtp_from),
                }
            )
        return rows

    def _webhooks(
        self, kind: str, event: str, note: m.Note, story: Story | None, **extra: Any
    ) -> list[dict]:
        rows = []
        summary = m.story_summary(story, self.teams)
        extra = {k: v for k, v in extra.items() if v is not None}
        for url in self.config.webhook_urls:
            key = f"{event}|webhook|{url}"
            delivery = m.delivery_id(key)
            rows.append(
                {
                    "dedupe_key": key,
                    "channel": "webhook",
                    "recipient": url,
                    "event": kind,
                    "slug": story.slug if story else None,
                    "subject": m.one_line(note.subject, 250),
                    "payload": m.webhook_body(kind, delivery, note, summary, **extra),
                    "message_id": delivery,
                }
            )
        return rows

    def next_digest(self, now: float) -> float:
        """When the next daily digest is made: today at NOTIFY_DIGEST_AT, or tomorrow."""
        today = dt.date.fromtimestamp(now)
        at = clock_today_at(self.config.digest_at, today)
        return at if at > now else clock_today_at(self.config.digest_at, today + dt.timedelta(1))

    # -- delivering: in the sender thread, or `storywall notify test` ---------------------------

    def deliver(self, row: Mapping[str, Any]) -> None:
        """Send one outbox row now; DeliveryError if it did not go."""
        if row["channel"] == "email":
            if not self.config.email_on:
                raise DeliveryError("email is not configured (SMTP_HOST is empty)")
            message = compose_email(
                self.config,
                to=row["recipient"],
                subject=row["subject"],
                text=row["body_text"],
                fragment=row["body_html"] or "",
                message_id=row["message_id"],
            )
            send_email(self.config, message)
        elif row["channel"] == "webhook":
            post_webhook(
                self.config,
                row["recipient"],
                str(row["payload"]).encode(),
                event=row["event"],
                delivery=row["message_id"],
            )
        else:
            raise DeliveryError(f"unknown channel {row['channel']!r}", permanent=True)

    def send_next(self, worker: str) -> bool:
        """Claim, send and mark one due delivery; False when none is due."""
        config = self.config
        row = self.db.claim_notification(worker, config.lease_seconds, now=self.clock())
        if row is None:
            return False
        tries = len(config.retry_seconds) + 1
        if row["attempts"] > tries:  # taken over after a sender died mid-send, too often
            error = (row["last_error"] or "") + f" (gave up after {tries} attempts)"
            self.db.notification_failed(row["id"], worker, error.strip(), None)
            return True
        try:
            self.deliver(row)
        except DeliveryError as exc:
            self._failed(row, worker, exc)
        except Exception as exc:  # a fault of ours must not stop the sender; kept as the error
            log.exception("delivery %s failed unexpectedly", row["id"])
            self._failed(row, worker, DeliveryError(f"{type(exc).__name__}: {exc}"))
        else:
            if not self.db.notification_sent(row["id"], worker, now=self.clock()):
                log.warning(
                    "sent %s to %s after this sender's lease ran out: another sender may "
                    "send it again (same id %s)",
                    row["event"],
                    row["recipient"],
                    row["message_id"],
                )
        return True

    def _failed(self, row: Mapping[str, Any], worker: str, exc: DeliveryError) -> None:
        attempt = int(row["attempts"])
        waits = self.config.retry_seconds
        retry_at = None
        if not exc.permanent and attempt <= len(waits):
            retry_at = self.clock() + waits[attempt - 1]
        self.db.notification_failed(row["id"], worker, exc.message, retry_at)
        log.warning(
            "%s to %s failed (attempt %d): %s; %s",
            row["event"],
            row["recipient"],
            attempt,
            exc.message,
            "will retry" if retry_at else "gave up",
        )

    def run_schedules(self) -> None:
        """Make the daily digests that are due, and once a week the list of expiring consents."""
        now = self.clock()
        if self.config.email_on:
            self.db.compose_digests(self._digest, now=now)
        if self.expiring is not None and now >= self._next_expiring_check:
            self._next_expiring_check = now + EXPIRING_CHECK_SECONDS
            today = dt.date.fromtimestamp(now)
            monday = today - dt.timedelta(days=today.weekday())
            if now >= clock_today_at(self.config.digest_at, monday):
                self.publish_expiring(self.expiring(), now)

    def _digest(self, recipient: str, held: Sequence[Any]) -> dict[str, Any]:
        due = max(row["due_at"] for row in held)
        subject, text, fragment = m.digest_note(held, dt.date.fromtimestamp(due))
        key = f"digest:{int(due)}|email|{recipient.casefold()}"
        return {
            "dedupe_key": key,
            "channel": "email",
            "recipient": recipient,
            "event": "digest",
            "subject": subject,
            "body_text": text,
            "body_html": fragment,
            "message_id": m.message_id(key, self.config.smtp_from),
        }

    # -- the sender thread, one per process -----------------------------------------------------

    def start_sender(self) -> None:
        """Start this process's sender thread (a forked worker starts its own)."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        worker = f"{socket.gethostname()}:{os.getpid()}"
        self._thread = threading.Thread(
            target=self._run, args=(worker,), name="storywall-notify", daemon=True
        )
        self._thread.start()
        log.info("notification sender started (%s)", worker)

    def stop_sender(self, timeout: float = 5.0) -> None:
        thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None and thread.is_alive():
            thread.join(timeout)
        self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self, worker: str) -> None:
        stop, wake = self._stop, self._wake
        while not stop.is_set():
            wake.clear()
            try:
                self.run_schedules()
                while not stop.is_set() and self.send_next(worker):
                    pass
            except Exception:  # a locked or full database: try again at the next poll
                log.exception("notification sender")
            wake.wait(self.config.poll_seconds)

    # -- `storywall notify test` ----------------------------------------------------------------

    def send_test(self, to: str | None = None) -> list[tuple[str, str, str | None]]:
        """Send a test email and a test webhook now: (channel, target, error or None) each."""
        results: list[tuple[str, str, str | None]] = []
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        note = m.Note(
            f"Test from {self.config.site_name}",
            (f"This is a test notification, sent {stamp}. If you read this, it works.",),
            m.link(self.config, "/admin/outbox"),
            "The outbox",
        )
        key = f"test:{time.time_ns()}"
        if self.config.email_on:
            if not to:
                results.append(("email", "(nobody)", "give an address to send to with --to"))
            else:
                (row,) = self._emails("test", key, note, [to], None)
                results.append(("email", to, _attempt(self.deliver, row)))
        for row in self._webhooks("test", key, note, None):
            results.append(("webhook", row["recipient"], _attempt(self.deliver, row)))
        return results

    # -- moderators' own settings, and the outbox page --------------------------------------

    def settings_for(self, name: str) -> dict[str, Any] | None:
        """A moderator's address and their choice per event (immediate unless they chose)."""
        user = self.db.get_user(name)
        if user is None:
            return None
        chosen = self.db.notify_prefs(name)
        return {
            "email": user["email"] or "",
            "modes": {event: chosen.get(event, "immediate") for event in m.MODERATOR_EVENTS},
        }

    def save_settings(self, name: str, email: str, modes: Mapping[str, str], actor: str) -> None:
        """Keep a moderator's address and choices, audited; ValueError says what is wrong."""
        email = email.strip()
        if email and not EMAIL_RE.match(email):
            raise ValueError(f"{m.one_line(email, 80)} is not an email address.")
        chosen = {event: modes.get(event, "immediate") for event in m.MODERATOR_EVENTS}
        if any(mode not in m.MODES for mode in chosen.values()):
            raise ValueError("Choose immediately, in the daily digest, or never for each event.")
        if not self.db.set_notify_settings(name, email, chosen, actor):
            raise ValueError(f"There is no moderator called {name}.")

    def retry(self, delivery: int, actor: str) -> bool:
        """Send a failed or waiting delivery again now; False if it is not (or no longer) one."""
        if not self.db.retry_notification(delivery, actor, now=self.clock()):
            return False
        self._wake.set()
        return True

    def outbox_summary(self) -> dict[str, Any]:
        """What the admin's outbox page shows."""
        rows = self.db.outbox(("failed", "pending", "sending", "held"))
        return {
            "configured": self.configured,
            "email": self.config.email_on,
            "webhooks": len(self.config.webhook_urls),
            "counts": self.db.outbox_counts(),
            "rows": [
                {
                    **dict(row),
                    "payload": json.loads(row["payload"]) if row["payload"] else None,
                }
                for row in rows
            ],
        }


def _attempt(send: Callable[[Mapping[str, Any]], None], row: Mapping[str, Any]) -> str | None:
    try:
        send(row)
    except DeliveryError as exc:
        return exc.message
    return None
