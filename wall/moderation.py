"""Moderation: every change to a story, each as one whole action.

A view hands over plain values and gets back the story as written, or an
exception that says, in words a person can act on, what went wrong. Each
action here locks the file, checks the token of the version the person saw,
writes atomically, records the action in the audit log and refreshes the
index, so no caller can forget a step. A change and its audit record land
together: when the record cannot be written (a full disk), the change is
undone and the error reaches the caller.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .db import DATABASE_TROUBLE, Database
from .forms import EditMerge, edit_changes, merge_edit, timestamp
from .frontmatter import DELETE, same_body
from .index import StoryIndex
from .notify import SILENT, Publisher
from .parsing import load_story
from .storage import (
    CHANGED,
    GONE,
    Conflict,
    InvalidStory,
    ModerationError,
    SlugTaken,
    StoryGone,
    check_slug,
    create_story,
    delete_story,
    update_story,
)
from .stories import PLACES, SLUG_RE, Problem, Story

log = logging.getLogger(__name__)

__all__ = [
    "CHANGED",
    "GONE",
    "Conflict",
    "EditConflict",
    "InvalidStory",
    "Moderation",
    "ModerationError",
    "SlugTaken",
    "StaleConsent",
    "StoryGone",
]

REASON_MAX_CHARS = 1000

# What each action is called in the audit log and in the message after it.
ACTION_LABELS = {
    "approve": "approved",
    "reject": "rejected",
    "unpublish": "unpublished",
    "feature": "featured",
    "unfeature": "no longer featured",
    "dates": "dates set",
    "withdraw": "consent withdrawn",
}


class StaleConsent(ModerationError):
    """The edit changes what the customer agreed to: their consent would no longer hold."""


class EditConflict(ModerationError):
    """An edit based on an older version of the file; `merge` says what differs."""

    def __init__(self, merge: EditMerge, current: Story) -> None:
        super().__init__(CHANGED)
        self.merge = merge
        self.current = current


@dataclass(frozen=True)
class Done:
    """The story after an action, and what the action was called."""

    story: Story
    label: str


class Moderation:
    """Changes stories in the folder an index watches, and records who did what."""

    notifier: Publisher = SILENT  # the Wall gives it its notifier; each action publishes to it

    def __init__(self, index: StoryIndex, db: Database) -> None:
        self.index = index
        self.folder = index.folder
        self.db = db

    # -- reading ------------------------------------------------------------------------

    def current(self, slug: str) -> Story | None:
        """The story as it is on disk now; None if it is gone or unreadable.

        This process's watcher may not have applied the latest edit yet: the
        index re-reads the one file (a stat when nothing changed).
        """
        if not SLUG_RE.match(slug):
            return None
        self.index.refresh([slug])
        return self.index.get(slug)

    def problems_of(self, slug: str) -> list[Problem]:
        """What keeps a slug's file from being read, if anything."""
        return [p for p in self.index.problems() if self.folder.slug_for_path(p.path) == slug]

    def pending(self) -> list[Story]:
        """The queue: stories waiting for a moderator, oldest first."""
        waiting = [s for s in self.index.stories() if s.status == "pending"]
        return sorted(
            waiting, key=lambda s: (str(s.meta.get("submitted_at") or s.date or ""), s.slug)
        )

    # -- actions ------------------------------------------------------------------------

    def submit(
        self,
        front: Mapping[str, Any],
        body: str,
        photo: bytes | None = None,
        *,
        who: str,
        slug_base: str | None = None,
    ) -> Story:
        """Write a new pending story; it reaches no screen until a moderator approves it.

        Its slug (its address) comes from `slug_base`, else the customer's name.
        """
        story = create_story(
            self.folder,
            front,
            body,
            photo,
            slug_base=slug_base,
            commit=lambda slug: self.db.audit(
                who, "submitted", slug, f"{front.get('name')}, {front.get('company')}"
            ),
        )
        self.written(story.slug)
        if story.meta.get("held") is not True:  # held over the daily cap: not worth a ping
            kind = "thanks-submitted" if story.kind == "thank-you" else "submitted"
            self.notifier.publish(kind, story)
        return story

    def approve(self, slug: str, token: str, who: str, now: dt.datetime | None = None) -> Done:
        changes = {
            "status": "approved",
            "approved_by": who,
            "approved_at": timestamp(now),
            "rejected_by": DELETE,
            "rejected_at": DELETE,
            "rejected_reason": DELETE,
        }
        return self._change(slug, token, who, "approve", changes)

    def reject(
        self, slug: str, token: str, who: str, reason: str, now: dt.datetime | None = None
    ) -> Done:
        reason = " ".join(reason.split())[:REASON_MAX_CHARS]
        if not reason:
            raise ModerationError("Give a reason for rejecting, so the next person knows why.")
        changes = {
            "status": "rejected",
            "rejected_by": who,
            "rejected_at": timestamp(now),
            "rejected_reason": reason,
            "approved_by": DELETE,
            "approved_at": DELETE,
        }
        return self._change(slug, token, who, "reject", changes, reason)

    def unpublish(self, slug: str, token: str, who: str) -> Done:
        """Back to the queue: off every screen until approved again."""
        changes = {"status": "pending", "approved_by": DELETE, "approved_at": DELETE}
        return self._change(slug, token, who, "unpublish", changes)

    def feature(self, slug: str, token: str, who: str, featured: bool = True) -> Done:
        action = "feature" if featured else "unfeature"
        return self._change(slug, token, who, action, {"featured": featured})

    def set_dates(
        self, slug: str, token: str, who: str, publish: dt.date | None, expires: dt.date | None
    ) -> Done:
        if publish and expires and expires < publish:
            raise ModerationError("The story must expire on or after its publish date.")
        changes = {"publish": publish, "expires": expires}
        detail = ", ".join(f"{k} {v or 'none'}" for k, v in changes.items())
        return self._change(slug, token, who, "dates", changes, detail)

    def withdraw(self, slug: str, token: str, who: str, note: str = "") -> Done:
        """Record that the customer withdrew consent: off every screen from today."""
        story = self._require(slug)
        today = self.index.today()
        if story.consent is None:
            raise ModerationError("There is no consent on record to withdraw.")
        if story.consent.withdrawn is not None and story.consent.withdrawn <= today:
            raise ModerationError(
                f"Consent was already withdrawn on {story.consent.withdrawn.isoformat()}."
            )
        note = " ".join(note.split())[:REASON_MAX_CHARS]
        return self._change(slug, token, who, "withdraw", {"consent.withdrawn": today}, note)

    def edit(
        self,
        slug: str,
        token: str,
        who: str,
        values: Mapping[str, Any],
        *,
        base: str = "",
        stale_ok: bool = False,
    ) -> Done:
        """Save the edit form (fields, body and link name) as one change.

        Refused with an EditConflict when the file changed since the form
        opened: the conflict merges what only one side changed and names the
        fields both changed, for the moderator to choose. Refused with
        StaleConsent when it would change what the customer consented to,
        unless `stale_ok`: the story then leaves the screens until they confirm.
        """
        story = self._require(slug)
        new_slug = values.get("slug") or slug
        if new_slug != slug:
            check_slug(self.folder, new_slug)  # say so before anything is written
        changes = edit_changes(story, values)
        body = values.get("body")
        body_changed = body is not None and not same_body(body, story.body)
        changed = [*changes, *(["body"] if body_changed else [])]
        records = []
        if changed:
            records.append((who, "edited", slug, "changed " + ", ".join(changed)))
        if new_slug != slug:
            records.append((who, "renamed", new_slug, f"from {slug} to {new_slug}"))
        try:
            written, _ = update_story(
                story.source,
                changes,
                body=body,
                expected=token,
                root=self.folder.root,
                limits=self.index.limits,
                commit=(
                    (lambda _slug: self.db.audit_all(records, renamed=(slug, new_slug)))
                    if records
                    else None
                ),
                new_slug=new_slug,
                check=None if stale_ok else _keeps_customer_consent,
            )
        except Conflict as exc:
            self.index.refresh([slug])
            disk, _ = load_story(exc.current.path, self.folder.root, data=exc.current.raw)
            if disk is None or exc.current is None:
                raise
            raise EditConflict(merge_edit(base, values, disk), disk) from None
        finally:
            self.written(slug, new_slug)
        written = self.index.get(new_slug) or written
        return Done(written, "saved" if records else "unchanged")

    def delete(self, slug: str, token: str, who: str) -> Story:
        """Delete a story's files; its photo stays while another story shows it."""
        story = self._require(slug)
        if story.token != token:
            raise Conflict(
                "This story changed since you opened it; check it again before deleting."
            )
        shared = any(s.photo == story.photo and s.slug != slug for s in self.index.stories())
        where = self._relative(story)
        try:
            delete_story(
                self.folder,
                story,
                photo_shared=shared,
                expected=token,
                commit=lambda s: self.db.audit(who, "deleted", s, f"{story.name}; {where}"),
            )
        finally:
            self.written(slug)
        return story

    # -- the steps every change shares -------------------------------------------------------

    def written(self, *slugs: str | None) -> None:
        """Re-read the stories this process just wrote, and tell the wall's other servers
        to re-read them too, at once rather than at their next poll."""
        wrote = [slug for slug in slugs if slug]
        self.index.refresh(wrote)
        try:
            self.db.announce_stories(wrote)
        except DATABASE_TROUBLE as exc:  # the others' watchers still find it, later
            log.warning("could not tell the other servers about %s: %s", wrote, exc)

    def where_it_would_show(self, story: Story) -> dict[str, str | None]:
        """Per place, why an approved copy of this story would still be hidden (None: shown)."""
        approved = replace(story, status="approved")
        return {place: self.index.hidden_reason(approved, place) for place in PLACES}

    def _require(self, slug: str) -> Story:
        story = self.current(slug)
        if story is None:
            raise StoryGone(GONE)
        return story

    def _change(
        self,
        slug: str,
        token: str,
        who: str,
        action: str,
        changes: Mapping[str, Any],
        detail: str = "",
    ) -> Done:
        story = self._require(slug)
        label = ACTION_LABELS[action]
        try:
            written, _ = update_story(
                story.source,
                changes,
                expected=token,
                root=self.folder.root,
                limits=self.index.limits,
                commit=lambda s: self.db.audit(who, label, s, detail),
            )
        finally:
            self.written(slug)
        self.notifier.publish(action, self.index.get(slug) or written, reason=detail)
        return Done(self.index.get(slug) or written, label)

    def _relative(self, story: Story) -> str:
        try:
            return str(story.source.relative_to(self.folder.root.parent))
        except ValueError:
            return str(story.source)


def confirmed_by_customer(story: Story) -> bool:
    """True while the customer's own consent holds for the story as it is."""
    consent = story.consent
    return (
        consent is not None and consent.by == "customer" and (consent.content == story.content_hash)
    )


def _keeps_customer_consent(before: Story, after: Story) -> None:
    if confirmed_by_customer(before) and not confirmed_by_customer(after):
        name = before.consent.given_by if before.consent else "The customer"
        raise StaleConsent(
            f"This changes what {name} agreed to. If you save it, the story leaves every "
            "screen until they confirm the new version through their link."
        )
