"""The customer's own voice: a private link where they see their story as the
screens will show it, choose how they are credited, correct it, consent, decline,
and take it down again.

Consent is bound to exactly what the customer saw: the story file's `consent`
block carries the hash of the content they agreed to (so it travels with the
story in git), and the full evidence (statement, content, choices, typed name,
time, address, browser) is kept in the database and the audit log. Each answer
is written to the file and recorded in one step, like every moderation action.

No Flask here: the customer's page hands over plain values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .db import Database
from .frontmatter import DELETE
from .index import StoryIndex
from .moderation import Moderation
from .storage import ModerationError, StoryGone, update_story
from .stories import PLACES, Consent, Story
from .takedown import TakedownReport, takedown_report

# The audit actions that take a story down for want of consent.
WITHDRAWALS = ("consent withdrawn", "customer withdrew", "customer declined")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
TOKEN_BYTES = 24  # 192 bits: not guessable

# What the customer may correct themselves, and what each is called for them.
CORRECTABLE = {"name": "your name", "role": "your role", "quote": "your words on the screen"}


@dataclass(frozen=True)
class ConsentTerms:
    """The operator's settings for customer consent."""

    link_days: int = 30
    default_days: int = 365
    max_days: int = 3 * 365
    statement: str = "I agree."
    expiring_days: int = 30


@dataclass(frozen=True)
class Choices:
    """Where the story may appear, until when, and how the customer is credited."""

    places: tuple[str, ...]
    until: dt.date
    credit: str = "full"
    photo: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "places": list(self.places),
            "until": self.until.isoformat(),
            "credit": self.credit,
            "photo": self.photo,
        }


@dataclass(frozen=True)
class Corrections:
    """What the customer changed themselves ("" leaves a field as it is), and what
    they suggest for the story text, for a moderator to make."""

    name: str = ""
    role: str = ""
    quote: str = ""
    suggestion: str = ""

    def against(self, story: Story) -> list[tuple[str, str, str]]:
        """(field, before, after) for each field this really changes."""
        changed = []
        for field in CORRECTABLE:
            after = getattr(self, field)
            before = getattr(story, field)
            if after and after != before:
                changed.append((field, before, after))
        return changed


class LinkNotFound(Exception):
    """No link answers to that token: wrong, revoked, or expired with nothing to take down."""


class LinkExpired(LinkNotFound):
    """The link's time for giving consent has passed, and there is nothing to take down."""


class StoryRemoved(LinkNotFound):
    """The link is good, but its story is no longer in the stories folder."""


@dataclass(frozen=True)
class Visit:
    """A customer on their page: their story, and what they may do with it now."""

    story: Story
    token_hash: str
    state: str
    may_consent: bool  # the link's time for consent has not passed
    expires_at: float
    consented: Mapping[str, Any] | None  # the last consent they gave, as recorded
    changed_since: list[tuple[str, str, str]]  # (what, then, now) since they consented

    @property
    def may_withdraw(self) -> bool:
        consent = self.story.consent
        return consent is not None and consent.withdrawn is None

    @property
    def agreed(self) -> bool:
        """True while their own consent holds for the story as it is."""
        consent = self.story.consent
        return (
            consent is not None
            and consent.by == "customer"
            and consent.withdrawn is None
            and consent.content == self.story.content_hash
        )


def token_hash(token: str) -> str:
    """What the database keeps of a customer's link: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class CustomerConsent:
    """Customer links and every answer given through them."""

    def __init__(
        self,
        index: StoryIndex,
        db: Database,
        moderation: Moderation,
        terms: ConsentTerms,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index = index
        self.db = db
        self.moderation = moderation
        self.terms = terms
        self.clock = clock

    # -- links, for moderators and submitters -----------------------------------------------

    def make_link(self, slug: str, who: str) -> str:
        """A new private link for the story's customer; older links stop working.

        Only its hash is kept: the token is shown once, to whoever made it.
        """
        if self.moderation.current(slug) is None:
            raise StoryGone("This story is no longer in the stories folder.")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        self.db.add_consent_link(
            token_hash(token),
            slug,
            created_by=who,
            expires_at=now + self.terms.link_days * 86400,
            now=now,
        )
        return token

    def revoke(self, slug: str, who: str) -> bool:
        return self.db.revoke_consent_links(slug, who, now=self.clock())

    def link_state(self, slug: str) -> dict[str, Any] | None:
        """The story's working link, as the admin shows it: its state, and until when."""
        row = self.db.current_consent_link(slug)
        if row is None:
            return None
        state = row["state"]
        if row["expires_at"] < self.clock() and state in ("not opened", "opened"):
            state = "expired"
        return {
            "state": state,
            "created_at": row["created_at"],
            "created_by": row["created_by"],
            "expires_at": row["expires_at"],
            "opened_at": row["opened_at"],
            "state_at": row["state_at"],
        }

    # -- the customer's page ------------------------------------------------------------------

    def visit(self, token: str, *, opened: bool = True) -> Visit:
        """What the customer with this token may see and do; LinkNotFound if nothing."""
        if not TOKEN_RE.match(token or ""):
            raise LinkNotFound
        hashed = token_hash(token)
        link = self.db.consent_link(hashed)
        if link is None or link["revoked_at"] is not None:
            raise LinkNotFound
        story = self.moderation.current(link["slug"])
        if story is None:
            raise StoryRemoved
        may_consent = self.clock() < link["expires_at"]
        if not may_consent and (story.consent is None or story.consent.withdrawn is not None):
            raise LinkExpired
        if opened:
            self.db.link_opened(hashed, now=self.clock())
        record = self.db.last_consent_record(story.slug)
        consented = dict(record) if record is not None else None
        return Visit(
            story=story,
            token_hash=hashed,
            state=link["state"],
            may_consent=may_consent,
            expires_at=link["expires_at"],
            consented=consented,
            changed_since=self._changed_since(story, consented),
        )

    def preview(self, story: Story, choices: Choices, corrections: Corrections) -> Story:
        """The story as it would be shown with these choices and corrections."""
        today = self.index.today()
        consent = story.consent or Consent(given_by="", date=today, scope=frozenset())
        fields = {field: after for field, _, after in corrections.against(story)}
        return replace(
            story,
            **fields,
            consent=replace(
                consent,
                scope=frozenset(choices.places),
                expires=choices.until,
                credit=choices.credit,
                photo=choices.photo,
                withdrawn=None,
            ),
        )

    def default_choices(self, story: Story) -> Choices:
        """What the form starts from: the story's consent as it is, else the usual terms."""
        today = self.index.today()
        consent = story.consent
        usual = today + dt.timedelta(days=self.terms.default_days)
        if consent is None:
            return Choices(places=PLACES, until=usual)
        # A withdrawn consent still says how they chose to be named: asked again,
        # they start from their own choices, not from their full name.
        current = consent.withdrawn is None and consent.expires and consent.expires > today
        until = consent.expires if current else usual
        return Choices(
            places=tuple(p for p in PLACES if p in consent.scope) or PLACES,
            until=until,
            credit=consent.credit,
            photo=consent.photo,
        )

    def latest_day(self) -> dt.date:
        """The last day a customer may consent to, today."""
        return self.index.today() + dt.timedelta(days=self.terms.max_days)

    # -- the customer's answers ------------------------------------------------------------------

    def consent(
        self,
        token: str,
        choices: Choices,
        corrections: Corrections,
        signature: str,
        *,
        address: str,
        user_agent: str,
        seen: str | None = None,
    ) -> Story:
        """Record the customer's consent to exactly what they saw, with their corrections.

        `seen` is the token of the story file their page showed: if the story
        changed since, nothing is recorded and they are shown it again.

        Corrections (or a suggested change to the text) send the story back to
        moderation; without them, an approved story stays on the screens: a
        renewal needs no moderator.
        """
        visit = self.visit(token, opened=False)
        if not visit.may_consent:
            raise ModerationError(
                "This link can no longer be used to give consent. Ask the person who sent "
                "it for a new one; you can still take your story down here."
            )
        story = visit.story
        _same_as_seen(story, seen)
        shown = self.preview(story, choices, corrections)
        changes = corrections.against(story)
        version = self.db.statement_version(self.terms.statement, now=self.clock())
        today = self.index.today()
        front: dict[str, Any] = {field: after for field, _, after in changes}
        front.update(
            {
                "consent.given_by": signature,
                "consent.date": today,
                "consent.scope": list(choices.places),
                "consent.expires": choices.until,
                "consent.withdrawn": DELETE,
                "consent.by": "customer",
                "consent.credit": choices.credit,
                "consent.photo": choices.photo,
                "consent.statement": version,
                "consent.content": shown.content_hash,
            }
        )
        to_moderation = bool(changes or corrections.suggestion)
        if to_moderation and story.status == "approved":
            front.update({"status": "pending", "approved_by": DELETE, "approved_at": DELETE})
        evidence = {
            "statement_version": version,
            "statement_text": self.terms.statement,
            "content_hash": shown.content_hash,
            "content": shown.customer_content,
            "choices": choices.as_json(),
            "signature": signature,
            "changes": _changes_json(changes, corrections.suggestion),
            "address": address,
            "user_agent": user_agent[:500],
        }
        state = "changes suggested" if to_moderation else "consented"

        def bound_to_what_they_saw(written: Story) -> None:
            # The hash in the file must name what the customer saw; should the
            # two ever disagree, nothing is written.
            if written.content_hash != shown.content_hash:
                raise ModerationError("The story changed while it was being saved; try again.")

        self._write(
            story,
            front,
            check=bound_to_what_they_saw,
            record=lambda: self.db.record_consent_event(
                story.slug,
                "consented",
                token_hash=visit.token_hash,
                link_state=state,
                actor=f"{signature} (customer)",
                detail=_summary(choices, changes, corrections.suggestion),
                evidence=evidence,
                now=self.clock(),
            ),
        )
        self.moderation.notifier.publish(
            "suggested" if to_moderation else "consented", self.index.get(story.slug) or story
        )
        return self.index.get(story.slug) or story

    def suggest(
        self,
        token: str,
        corrections: Corrections,
        *,
        address: str,
        user_agent: str,
        seen: str | None = None,
    ) -> Story:
        """Send the customer's corrections to moderation, without consenting yet."""
        visit = self.visit(token, opened=False)
        if not visit.may_consent:
            raise ModerationError("This link can no longer be used for changes.")
        story = visit.story
        _same_as_seen(story, seen)
        changes = corrections.against(story)
        if not changes and not corrections.suggestion:
            raise ModerationError("There is no change to send: nothing differs from the story.")
        front: dict[str, Any] = {field: after for field, _, after in changes}
        if story.status == "approved":
            front.update({"status": "pending", "approved_by": DELETE, "approved_at": DELETE})
        evidence = {
            "changes": _changes_json(changes, corrections.suggestion),
            "address": address,
            "user_agent": user_agent[:500],
        }
        self._write(
            story,
            front,
            record=lambda: self.db.record_consent_event(
                story.slug,
                "suggested changes",
                token_hash=visit.token_hash,
                link_state="changes suggested",
                actor="the customer",
                detail=_summary(None, changes, corrections.suggestion),
                evidence=evidence,
                now=self.clock(),
            ),
        )
        self.moderation.notifier.publish("suggested", self.index.get(story.slug) or story)
        return self.index.get(story.slug) or story

    def decline(self, token: str, *, address: str, user_agent: str) -> Story:
        """The customer says no: the story shows nowhere, from now."""
        visit = self.visit(token, opened=False)
        return self._take_down(visit, "declined", "declined", address, user_agent)

    def withdraw(self, token: str, *, address: str, user_agent: str) -> Story:
        """Take the story down, everywhere, now; the link keeps working for this."""
        visit = self.visit(token, opened=False)
        if not visit.may_withdraw:
            return visit.story  # already down: a second click changes nothing
        return self._take_down(visit, "withdrew", "withdrawn", address, user_agent)

    def _take_down(
        self, visit: Visit, event: str, link_state: str, address: str, user_agent: str
    ) -> Story:
        """Stop showing the story, record the customer's answer, and tell who should know."""
        story = visit.story
        self._write(
            story,
            self._stop_showing(story),
            record=lambda: self.db.record_consent_event(
                story.slug,
                event,
                token_hash=visit.token_hash,
                link_state=link_state,
                actor="the customer",
                evidence={"address": address, "user_agent": user_agent[:500]},
                now=self.clock(),
            ),
        )
        now = self.index.get(story.slug) or story
        self.moderation.notifier.publish(event, now)
        return now

    # -- for moderators -----------------------------------------------------------------------

    def evidence(self, slug: str) -> dict[str, Any]:
        """Everything on record about what the customer agreed to, for a privacy officer."""
        story = self.index.get(slug)
        records = []
        for row in self.db.consent_records(slug):
            record = dict(row)
            for key in ("content", "choices", "changes"):
                if record.get(key):
                    record[key] = json.loads(record[key])
            record["at_iso"] = dt.datetime.fromtimestamp(row["at"], dt.UTC).isoformat()
            records.append(record)
        consent = story.consent if story is not None else None
        return {
            "slug": slug,
            "story": None
            if story is None
            else {
                "name": story.name,
                "status": story.status,
                "content_hash_now": story.content_hash,
                "consent_in_file": None
                if consent is None
                else {
                    "by": consent.by,
                    "given_by": consent.given_by,
                    "date": consent.date.isoformat(),
                    "scope": sorted(consent.scope),
                    "expires": consent.expires.isoformat() if consent.expires else None,
                    "withdrawn": consent.withdrawn.isoformat() if consent.withdrawn else None,
                    "credit": consent.credit,
                    "photo": consent.photo,
                    "statement": consent.statement,
                    "content": consent.content,
                },
                "shown": {
                    place: self.index.hidden_reason(story, place) is None for place in PLACES
                },
            },
            "link": self.link_state(slug),
            "records": records,
        }

    def for_moderators(self, story: Story) -> dict[str, Any]:
        """What the admin shows of the customer's side of a story."""
        consent = story.consent
        changed = None
        for row in reversed(self.db.consent_records(story.slug)):
            if row["changes"]:
                changed = row
                break
        return {
            "confirmed": consent is not None
            and consent.by == "customer"
            and consent.content == story.content_hash,
            "customer_only": self.index.customer_only,
            "link": self.link_state(story.slug),
            "changes": json.loads(changed["changes"]) if changed is not None else None,
            "changes_at": changed["at"] if changed is not None else None,
        }

    def takedown(self, story: Story, stale_after: float) -> TakedownReport | None:
        """For a withdrawn story: which screens have acknowledged a playlist without it."""
        consent = story.consent
        if consent is None or consent.withdrawn is None:
            return None
        since = self.db.last_audit_time(story.slug, WITHDRAWALS)
        if since is None:  # withdrawn by editing the file: from the start of that day
            day = dt.datetime.combine(consent.withdrawn, dt.time.min).astimezone()
            since = day.timestamp()
        return takedown_report(self.db, story.slug, since, self.clock(), stale_after)

    def expiring(self) -> list[Story]:
        """Stories whose consent ends within the expiring-soon window, soonest first."""
        today = self.index.today()
        last = today + dt.timedelta(days=self.terms.expiring_days)
        found = [
            s
            for s in self.index.stories()
            if s.consent is not None
            and s.consent.withdrawn is None
            and s.consent.expires is not None
            and today <= s.consent.expires <= last
        ]
        return sorted(found, key=lambda s: (s.consent.expires, s.slug))  # type: ignore[union-attr]

    # -- the steps every answer shares ------------------------------------------------------------

    def _stop_showing(self, story: Story) -> dict[str, Any]:
        consent = story.consent
        if consent is None:
            return {}  # without consent it shows nowhere already
        if consent.withdrawn is not None and consent.withdrawn <= self.index.today():
            return {}
        return {"consent.withdrawn": self.index.today()}

    def _write(
        self,
        story: Story,
        front: Mapping[str, Any],
        *,
        record: Callable[[], object],
        check: Callable[[Story], None] | None = None,
    ) -> None:
        try:
            update_story(
                story.source,
                front,
                expected=story.token,
                root=self.index.root,
                limits=self.index.limits,
                check=(lambda _old, new: check(new)) if check else None,
                commit=lambda _slug: record(),
            )
        finally:
            self.moderation.written(story.slug)

    def _changed_since(
        self, story: Story, consented: Mapping[str, Any] | None
    ) -> list[tuple[str, str, str]]:
        """What the customer can see that differs from what they consented to."""
        if consented is None or not consented.get("content"):
            return []
        then = json.loads(consented["content"])
        now = story.customer_content
        labels = {
            "name": "Name",
            "role": "Role and company",
            "title": "Headline",
            "quote": "Words on the screen",
            "body": "The story",
            "photo": "Photo",
        }
        changed = []
        for key, label in labels.items():
            if then.get(key, "") != now.get(key, ""):
                if key == "photo":
                    changed.append((label, "the photo you saw", "a different photo"))
                else:
                    changed.append((label, str(then.get(key, "")), str(now.get(key, ""))))
        return changed

    def record_author_consent(
        self,
        story: Story,
        choices: Choices,
        signature: str,
        *,
        statement_version: int,
        address: str,
        user_agent: str,
    ) -> int:
        """Keep the evidence of consent a customer gave for a story they wrote themselves
        (a thank-you from /thanks), as for consent given through their own link.

        The story's `consent` block must name what they saw: by the customer,
        for its content as it is.
        """
        consent = story.consent
        if consent is None or consent.by != "customer" or consent.content != story.content_hash:
            raise ModerationError("The story is not the one the customer consented to.")
        return self.db.record_consent_event(
            story.slug,
            "consented",
            token_hash=None,
            link_state=None,
            actor=f"{signature} (customer)",
            detail=_summary(choices, [], ""),
            evidence={
                "statement_version": statement_version,
                "statement_text": self.terms.statement,
                "content_hash": story.content_hash,
                "content": story.customer_content,
                "choices": choices.as_json(),
                "signature": signature,
                "address": address,
                "user_agent": user_agent[:500],
            },
            now=self.clock(),
        )


class ChangedWhileOpen(ModerationError):
    """The story changed since the customer's page showed it: they must see it again."""


CHANGED_WHILE_OPEN = (
    "Your story changed while you were looking at it. Here it is as it is now: "
    "check it, then answer again. Nothing was recorded."
)


def _same_as_seen(story: Story, seen: str | None) -> None:
    if seen and seen != story.token:
        raise ChangedWhileOpen(CHANGED_WHILE_OPEN)


def _changes_json(changes: list[tuple[str, str, str]], suggestion: str) -> dict[str, Any] | None:
    if not changes and not suggestion:
        return None
    return {
        "fields": [{"field": f, "before": b, "after": a} for f, b, a in changes],
        "suggestion": suggestion or None,
    }


def _summary(choices: Choices | None, changes: list[tuple[str, str, str]], suggestion: str) -> str:
    parts = []
    if choices is not None:
        parts.append(
            f"{' and '.join(choices.places)} until {choices.until.isoformat()}, "
            f"credit {choices.credit}, photo {'shown' if choices.photo else 'not shown'}"
        )
    if changes:
        parts.append("corrected " + ", ".join(f for f, _, _ in changes))
    if suggestion:
        parts.append("suggested a change to the text")
    return "; ".join(parts)
