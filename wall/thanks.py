"""Thank-yous straight from customers: a customer thanks a team at /thanks.

Here the customer is the author, so they give their consent themselves, as on
their own consent page (where, until when, how they are named, their photo,
the versioned statement, their typed name), bound to the hash of exactly what
they saw. The result is a pending story (`kind: thank-you`, `to:` the team's
key or the words they typed) that follows the normal moderation path, with the
consent evidence in the database.

Beyond a daily cap, thank-yous are still accepted but held back (`held: true`)
and listed apart, so a flood never buries the moderators' queue.

No Flask here: the page hands over plain values.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .consent import Choices, CustomerConsent
from .db import Database
from .forms import EMAIL_RE, FormResult, _Reader, read_customer_answer, timestamp
from .frontmatter import normalize_body
from .index import StoryIndex
from .moderation import Moderation, ModerationError
from .stories import PLACES, Consent, Story, slugify
from .teams import Team

NAME_MAX_CHARS = 120
TO_MAX_CHARS = 120
MESSAGE_MAX_CHARS = 2_000
EMAIL_MAX_CHARS = 254
# The field a person leaves empty and a form-filling robot does not; see the page.
HONEYPOT = "website"
VIA = "thank-you page"


def is_held(story: Story) -> bool:
    """A thank-you held back over the daily cap: pending, but not in the moderators' queue."""
    return story.status == "pending" and story.meta.get("held") is True


def resolve_to(words: str, teams: Mapping[str, Team]) -> str:
    """A typed addressee as stored in `to:`: a team's key when the words name one of the
    teams (its key or its display name), else the words themselves."""
    words = " ".join(words.split())
    folded = words.casefold().removeprefix("to ").strip()
    for key, team in teams.items():
        if folded in (key, team.name.casefold()):
            return key
    return words


@dataclass(frozen=True)
class Note:
    """A customer's thank-you, checked: who they are, whom they thank, what they say,
    and the consent they give for it."""

    name: str
    role: str
    company: str
    message: str
    to: str  # a team's key, or the words the customer typed
    choices: Choices
    signature: str = ""
    quote: str = ""  # their own line for the screens; else the message's first sentence
    email: str = ""  # to hear when it goes up (optional; only the moderators see it)


def read_thank_you(
    form: Mapping[str, Any],
    *,
    teams: Mapping[str, Team],
    today: dt.date,
    latest: dt.date,
    signing: bool,
) -> FormResult:
    """Check the thank-you form; each problem is reported against its field.

    The consent part is the customer consent page's own reader: the same
    choices, limits and words.
    """
    consent = read_customer_answer(
        form, today=today, latest=latest, credit="full", photo=True, signing=signing
    )
    r = _Reader(form)
    r.values.update(consent.values)
    r.errors.update({k: v for k, v in consent.errors.items() if k not in ("name", "role")})
    r.text("name", missing="Enter your name.", limit=NAME_MAX_CHARS, what="Your name")
    r.text("role", missing="Enter your role, for example “Plant manager”.", what="Your role")
    r.text("company", missing="Enter the company you work for.", what="The company")
    message = r.body("message", missing="Write your thank-you: what did they do?")
    if len(message) > MESSAGE_MAX_CHARS:
        r.errors["message"] = (
            f"Your message is {len(message):,} characters; keep it to "
            f"{MESSAGE_MAX_CHARS:,} or fewer."
        )
    team = r.raw("team").strip()
    typed = r.text("to", limit=TO_MAX_CHARS, what="Whom you thank")
    r.values["team"] = team
    if team and team != "other" and team not in teams:
        r.errors["team"] = "Choose one of the teams in the list, or “Someone else”."
    elif team in ("", "other") and not typed:
        if teams and not team:
            r.errors["team"] = "Choose whom you thank."
        else:
            r.errors["to"] = "Say whom you thank: a team, a site or a person."
    r.values["addressee"] = team if team in teams else resolve_to(typed, teams)
    email = r.text("email", limit=EMAIL_MAX_CHARS, what="The email address")
    if email and not EMAIL_RE.match(email):
        r.errors["email"] = "Enter an email address like maria@example.com, or leave it empty."
    return r.result()


def note_of(values: Mapping[str, Any], choices: Choices) -> Note:
    """The Note in a checked form's values."""
    return Note(
        name=str(values.get("name") or ""),
        role=str(values.get("role") or ""),
        company=str(values.get("company") or ""),
        message=str(values.get("message") or ""),
        to=str(values.get("addressee") or ""),
        choices=choices,
        signature=str(values.get("signature") or ""),
        quote=str(values.get("quote") or ""),
        email=str(values.get("email") or ""),
    )


class ThankYous:
    """The customer's thank-you, from the form to a pending story with its consent."""

    def __init__(
        self,
        index: StoryIndex,
        db: Database,
        moderation: Moderation,
        consent: CustomerConsent,
        teams: Mapping[str, Team],
        *,
        daily_cap: int = 50,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index = index
        self.db = db
        self.moderation = moderation
        self.consent = consent
        self.teams = teams
        self.daily_cap = daily_cap
        self.clock = clock

    def default_choices(self) -> Choices:
        """What the consent part of the form starts from: everywhere, for the usual time."""
        today = self.index.today()
        return Choices(
            places=PLACES, until=today + dt.timedelta(days=self.consent.terms.default_days)
        )

    def preview(self, note: Note, photo: Path | None = None) -> Story:
        """The thank-you as the screens and the intranet would show it, before it exists."""
        today = self.index.today()
        team = self.teams.get(note.to)
        return Story(
            slug="thank-you-preview",
            source=self.index.root / "thank-you-preview.md",
            name=note.name,
            role=note.role,
            company=note.company,
            body=normalize_body(note.message),
            quote=note.quote,
            photo=photo,
            kind="thank-you",
            tags=team.tags if team else (),
            date=today,
            status="pending",
            consent=Consent(
                given_by=note.signature,
                date=today,
                scope=frozenset(note.choices.places),
                expires=note.choices.until,
                by="customer",
                credit=note.choices.credit,
                photo=note.choices.photo,
            ),
            to=note.to,
        )

    def send(
        self,
        note: Note,
        photo: Path | None = None,
        *,
        address: str,
        user_agent: str,
    ) -> Story:
        """Save the thank-you as a pending story with the customer's own consent, and
        record the evidence; held back (`held: true`) once today's cap is reached.

        The consent is bound to the hash of the preview they saw; if the story
        as written should ever differ, or the evidence cannot be recorded, the
        story is removed again and the error reaches the caller.
        """
        if not note.signature:
            raise ModerationError("Type your name to sign.")
        shown = self.preview(note, photo)
        today = self.index.today()
        version = self.db.statement_version(self.consent.terms.statement, now=self.clock())
        held = not self.db.hit(f"thanks-daily:{today.isoformat()}", self.daily_cap, 86400)
        consent: dict[str, Any] = {
            "given_by": note.signature,
            "date": today,
            "scope": list(note.choices.places),
            "expires": note.choices.until,
            "by": "customer",
            "credit": note.choices.credit,
            "photo": note.choices.photo,
            "statement": version,
            "content": shown.content_hash,
        }
        front: dict[str, Any] = {
            "name": note.name,
            "role": note.role,
            "company": note.company,
            "quote": note.quote or None,
            "kind": "thank-you",
            "to": note.to,
            "tags": list(shown.tags) or None,
            "date": today,
            "status": "pending",
            "held": True if held else None,
            "consent": consent,
            "submitted_by": f"{note.name} (customer, {VIA})",
            "submitter_email": note.email or None,
            "submitted_at": timestamp(),
            "via": VIA,
        }
        front = {k: v for k, v in front.items() if v is not None}
        who = f"{note.signature} (customer, {VIA})"
        # Its address names them only as they chose to be named: "maria-a", not their surname.
        story = self.moderation.submit(
            front,
            note.message,
            photo.read_bytes() if photo else None,
            who=who,
            slug_base=slugify(shown.credited_name or shown.company) or "thank-you",
        )
        try:
            self.consent.record_author_consent(
                story,
                note.choices,
                note.signature,
                statement_version=version,
                address=address,
                user_agent=user_agent,
            )
        except BaseException:
            # No thank-you without its evidence: take the new story back out.
            self.moderation.delete(story.slug, story.token, who)
            raise
        return story

    def held(self) -> list[Story]:
        """Thank-yous held back over the daily cap, oldest first."""
        return [s for s in self.moderation.pending() if is_held(s)]

    def queue(self) -> list[Story]:
        """The moderators' queue without the held thank-yous."""
        return [s for s in self.moderation.pending() if not is_held(s)]

    def team_of(self, story: Story) -> Team | None:
        """The team a thank-you is addressed to, when it names one of the teams."""
        return self.teams.get(story.to) if story.kind == "thank-you" else None
