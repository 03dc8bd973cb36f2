"""What each event says, to whom: the words of every email and webhook.

Emails and webhooks carry names and links, never photos or the story's text:
the customer agreed to the intranet and the hallway, not to inboxes or chat
rooms. Everything that came from a person is escaped in the HTML part and
kept on one line in headers; the plain-text part is text already.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..stories import Story
from ..teams import Team
from .config import NotifyConfig

# Who hears about what. Moderators choose, per event, on /admin/settings.
MODERATOR_EVENTS: dict[str, str] = {
    "submitted": "A new story is waiting for review",
    "thanks-submitted": "A new thank-you is waiting for review",
    "consented": "A customer consented",
    "suggested": "A customer suggested changes",
    "declined": "A customer declined",
    "withdrew": "A customer withdrew consent",
    "expiring": "Consents expiring within 30 days (weekly)",
}
SUBMITTER_EVENTS = ("approved", "rejected", "withdrew")
TEAM_EVENTS = ("thanked",)
EVENTS = (*MODERATOR_EVENTS, "approved", "rejected", "thanked", "test")
MODES = ("immediate", "digest", "off")

# Moderation's own action names, for the events they are.
ACTIONS = {"approve": "approved", "reject": "rejected", "withdraw": "withdrew"}


@dataclass(frozen=True)
class Note:
    """One event, told to one kind of reader: a subject, plain text, an HTML fragment and a link."""

    subject: str
    lines: tuple[str, ...]
    link: str
    link_label: str

    def text(self) -> str:
        body = "\n\n".join(self.lines)
        return f"{body}\n\n{self.link_label}: {self.link}\n" if self.link else f"{body}\n"

    def html(self) -> str:
        paragraphs = "".join(f"<p>{html.escape(line)}</p>\n" for line in self.lines)
        if self.link:
            paragraphs += (
                f'<p><a href="{html.escape(self.link)}">{html.escape(self.link_label)}</a></p>\n'
            )
        return paragraphs


def one_line(text: str, limit: int = 200) -> str:
    """A value from a person, safe in a header or a subject: one line, bounded."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def link(config: NotifyConfig, path: str) -> str:
    """An address readers can open: PUBLIC_URL and the path, or just the path without it."""
    return f"{config.public_url}{path}"


def who(story: Story, *, credited: bool = False) -> str:
    """The customer, as a reader knows them: "Maria Alvarez (Swing-shift foreman, Ridgeway)".

    `credited`: as the wall names them ("Maria A.", or only role and company),
    for readers beyond the moderators and the submitter: a team, a chat room.
    """
    if credited:
        name, about = (one_line(line) for line in story.credit_lines)
        return f"{name} ({about})" if name and about else name or about
    about = ", ".join(one_line(part) for part in (story.role, story.company) if part)
    return f"{one_line(story.name)} ({about})" if about else one_line(story.name)


def shown_name(story: Story) -> str:
    """The customer's name as the wall shows it, for readers beyond the moderators."""
    return one_line(story.credit_lines[0])


def team_of(story: Story, teams: Mapping[str, Team]) -> Team | None:
    return teams.get(story.to) if story.kind == "thank-you" and story.to else None


def addressee(story: Story, teams: Mapping[str, Team]) -> str:
    team = team_of(story, teams)
    return team.name if team else one_line(story.to or "the team")


def for_moderators(
    kind: str,
    story: Story,
    config: NotifyConfig,
    teams: Mapping[str, Team],
    reason: str = "",
    *,
    credited: bool = False,
) -> Note:
    name = shown_name(story) if credited else one_line(story.name)
    person = who(story, credited=credited)
    review = link(config, f"/admin/stories/{story.slug}")
    if kind == "submitted":
        by = f" by {one_line(story.submitted_by)}" if story.submitted_by else ""
        return Note(
            f"New story waiting: {name}",
            (f"A story about {person} was submitted{by} and is waiting for a moderator.",),
            review,
            "Review it",
        )
    if kind == "thanks-submitted":
        to = addressee(story, teams)
        return Note(
            f"New thank-you waiting: from {name} to {to}",
            (f"{person} wrote a thank-you to {to}. It is waiting for a moderator.",),
            review,
            "Review it",
        )
    said = {
        "consented": (
            f"{name} consented",
            f"{person} consented to their story.",
        ),
        "suggested": (
            f"{name} suggested changes",
            f"{person} suggested changes to their story; it is back in the queue.",
        ),
        "declined": (
            f"{name} declined",
            f"{person} declined: the story is shown nowhere.",
        ),
        "withdrew": (
            f"{name} withdrew consent",
            f"{person} withdrew consent: the story has left every screen.",
        ),
    }
    subject, line = said[kind]
    lines = (line, f"Note: {one_line(reason, 1000)}") if reason else (line,)
    return Note(subject, lines, review, "See the story")


def for_submitter(kind: str, story: Story, config: NotifyConfig, reason: str = "") -> Note:
    name = one_line(story.name)
    if kind == "approved":
        return Note(
            f"Your story about {name} is approved",
            (
                f"A moderator approved your story about {who(story)}. It shows on the wall "
                "wherever and whenever the customer's consent allows.",
            ),
            link(config, f"/stories/{story.slug}"),
            "See it on the wall",
        )
    if kind == "rejected":
        return Note(
            f"Your story about {name} was not approved",
            (
                f"A moderator did not approve your story about {who(story)}.",
                f"The reason: {one_line(reason, 1000)}" if reason else "No reason was given.",
            ),
            "",
            "",
        )
    return Note(  # withdrew
        f"{name} withdrew consent for your story",
        (
            f"{who(story)} withdrew their consent: the story you submitted has left every "
            "screen. There is nothing you need to do.",
        ),
        "",
        "",
    )


def for_team(story: Story, team: Team, config: NotifyConfig) -> Note:
    return Note(
        f"A customer thanked {one_line(team.name)}",
        (
            f"{who(story, credited=True)} thanked {team.name}. Their thank-you is now on the "
            "wall, first on "
            "the screens on your floor.",
        ),
        link(config, f"/stories/{story.slug}"),
        "Read it on the wall",
    )


def for_expiring(stories: Sequence[Story], config: NotifyConfig, days: int = 30) -> Note:
    lines = [f"Consent for {len(stories)} stories ends within {days} days:"]
    for story in stories:
        ends = story.consent.expires.isoformat() if story.consent and story.consent.expires else "?"
        lines.append(f"{who(story)}: ends {ends}")
    lines.append("Send each customer a new link to renew it, or let it end.")
    subject = f"{len(stories)} consents end within {days} days"
    return Note(subject, tuple(lines), link(config, "/admin/expiring"), "See them")


def for_webhook(kind: str, story: Story, config: NotifyConfig, teams: Mapping[str, Team]) -> Note:
    """What a chat room reads: the event in a line, and a link (no reasons, no story text)."""
    if kind in MODERATOR_EVENTS:
        return for_moderators(kind, story, config, teams, credited=True)
    name = shown_name(story)
    if kind == "approved":
        return Note(
            f"Approved: the story about {name}",
            (),
            link(config, f"/stories/{story.slug}"),
            "See it",
        )
    return Note(
        f"Not approved: the story about {name}",
        (),
        link(config, f"/admin/stories/{story.slug}"),
        "See it",
    )


def webhook_text(note: Note) -> str:
    """Slack and Teams show `text` as it is; Slack reads <url|label> as a link."""
    text = note.subject
    if note.link.startswith(("http://", "https://")):
        # Slack's own escaping, so a name cannot forge a link or a mention.
        safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"{safe} <{note.link}|{note.link_label}>"
    return f"{text} {note.link}".strip()


def story_summary(story: Story | None, teams: Mapping[str, Team]) -> dict[str, Any] | None:
    if story is None:
        return None
    team = team_of(story, teams)
    return {
        "slug": story.slug,
        "name": shown_name(story),  # as the wall names them: a webhook may be a chat room
        "kind": story.kind,
        "status": story.status,
        "to": team.key if team else (story.to or None),
    }


def webhook_body(
    event: str, delivery: str, note: Note, story: dict[str, Any] | None, **extra: Any
) -> str:
    """The JSON a webhook receives, as the exact text that is signed."""
    body = {
        "event": event,
        "id": delivery,
        "story": story,
        "url": note.link,
        "text": webhook_text(note),
        **extra,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Storywall-Signature header: HMAC-SHA256 of "{timestamp}.{body}" with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def delivery_id(dedupe_key: str) -> str:
    """A stable name for one delivery: the same on every retry, so duplicates are recognisable."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]


def message_id(dedupe_key: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "storywall.invalid"
    return f"<{delivery_id(dedupe_key)}@{domain}>"


def email_html(subject: str, fragment: str, site_name: str) -> str:
    """A whole HTML email around a fragment: plain, readable, no images or remote content."""
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n"
        '<body style="font-family:sans-serif;line-height:1.5;max-width:40em">\n'
        f"{fragment}"
        f'<p style="color:#666;font-size:small">{html.escape(site_name)}</p>\n'
        "</body></html>\n"
    )


def digest_note(items: Iterable[Mapping[str, Any]], day: dt.date) -> tuple[str, str, str]:
    """One digest from the held messages: subject, plain text, HTML fragment."""
    items = list(items)
    subject = f"{len(items)} updates from the wall, {day.isoformat()}"
    text = "\n".join(f"* {item['subject']}\n\n{item['body_text']}" for item in items)
    fragment = "".join(
        f"<h2>{html.escape(item['subject'])}</h2>\n{item['body_html'] or ''}" for item in items
    )
    return subject, text, fragment
