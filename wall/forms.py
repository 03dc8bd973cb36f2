"""The story forms: the staff submission form and the moderator's edit form.

Each reader checks every field against the same rules, cleans what was typed
and reports each problem against its field, in words a person can act on. No
Flask here: the views hand over the form as a mapping.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .frontmatter import normalize_body
from .stories import CREDITS, KINDS, PLACES, QUOTE_MAX_CHARS, SLUG_RE, Story, slugify

SLUG_MAX_CHARS = 60
TEXT_MAX_CHARS = 120
TITLE_MAX_CHARS = 160
ALT_MAX_CHARS = 300
BODY_MAX_CHARS = 20_000
TAGS_MAX = 12
TAG_MAX_CHARS = 40
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
DATE_HINT = "a date like 2026-10-14"


def timestamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now().astimezone()).isoformat(timespec="seconds")


@dataclass
class FormResult:
    """Cleaned values by form field, and an error message by form field."""

    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Reader:
    def __init__(self, form: Mapping[str, Any]) -> None:
        self.form = form
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        value = self.form.get(name, "")
        if isinstance(value, list):
            value = value[0] if value else ""
        return str(value or "")

    def text(
        self, name: str, *, missing: str | None = None, limit: int = TEXT_MAX_CHARS, what: str = ""
    ) -> str:
        value = " ".join(_clean(self.raw(name)).split())
        self.values[name] = value
        if not value and missing:
            self.errors[name] = missing
        elif len(value) > limit:
            self.errors[name] = (
                f"{what or 'This'} is {len(value)} characters; keep it to {limit} or fewer."
            )
        return value

    def date(self, name: str, *, missing: str | None = None) -> dt.date | None:
        raw = self.raw(name).strip()
        self.values[name] = raw
        if not raw:
            if missing:
                self.errors[name] = missing
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError
            value = dt.date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = f"'{raw[:40]}' is not a date we can read; use {DATE_HINT}."
            return None
        self.values[name] = value
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.raw(name) or default
        if value not in options:
            self.errors[name] = f"Choose one of: {', '.join(options)}."
            value = default
        self.values[name] = value
        return value

    def places(self, name: str, *, missing: str | None) -> list[str]:
        raw = self.form.get(name) or []
        chosen = [raw] if isinstance(raw, str) else list(raw)
        unknown = [p for p in chosen if p not in PLACES]
        value = [p for p in PLACES if p in chosen]
        self.values[name] = value
        if unknown:
            self.errors[name] = f"Choose from: {', '.join(PLACES)}."
        elif not value and missing:
            self.errors[name] = missing
        return value

    def tags(self, name: str) -> list[str]:
        raw = _clean(self.raw(name))
        tags = [" ".join(t.split()).casefold().lstrip("#") for t in re.split(r"[,;\n]", raw)]
        value = list(dict.fromkeys(t for t in tags if t))
        self.values[name] = ", ".join(value)
        if len(value) > TAGS_MAX:
            self.errors[name] = f"That is {len(value)} tags; use {TAGS_MAX} or fewer."
        elif any(len(t) > TAG_MAX_CHARS for t in value):
            self.errors[name] = f"Keep each tag to {TAG_MAX_CHARS} characters or fewer."
        return value

    def body(self, name: str, *, missing: str | None = None) -> str:
        value = normalize_body(self.raw(name))
        self.values[name] = value
        if not value.strip() and missing:
            self.errors[name] = missing
        elif len(value) > BODY_MAX_CHARS:
            self.errors[name] = (
                f"The story is {len(value):,} characters; keep it to {BODY_MAX_CHARS:,} or fewer."
            )
        return value

    def result(self) -> FormResult:
        return FormResult(self.values, self.errors)


def _clean(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


def _quote(r: _Reader, missing: str | None) -> str:
    quote = r.text("quote", missing=missing, limit=10_000)
    if len(quote) > QUOTE_MAX_CHARS:
        r.errors["quote"] = (
            f"The quote is {len(quote)} characters; keep it to {QUOTE_MAX_CHARS} or fewer "
            "so it reads in one glance on a TV."
        )
    return quote


def _consent(r: _Reader, today: dt.date, *, required: bool, is_new: bool) -> None:
    given_by = r.text(
        "consent_given_by",
        missing="Enter who gave consent (usually the customer)." if required else None,
        what="The name",
    )
    when = r.date(
        "consent_date",
        missing=f"Enter the date consent was given, as {DATE_HINT}." if required else None,
    )
    scope = r.places(
        "consent_scope",
        missing="Tick at least one place the customer agreed to." if required else None,
    )
    expires = r.date("consent_expires")
    if not required and (given_by or when or scope or r.values["consent_date"]):
        # Consent is optional while editing, but half a record is not a record.
        if not given_by:
            r.errors.setdefault("consent_given_by", "Enter who gave consent.")
        if not r.values["consent_date"]:
            r.errors.setdefault("consent_date", f"Enter when, as {DATE_HINT}.")
        if not scope:
            r.errors.setdefault("consent_scope", "Tick at least one place.")
    if when and when > today:
        r.errors.setdefault("consent_date", "This date is in the future; enter when it was given.")
    if when and expires and expires <= when:
        r.errors.setdefault("consent_expires", "Consent must expire after the day it was given.")
    if is_new and expires and expires < today:
        r.errors.setdefault("consent_expires", "This date has already passed.")


def read_submission(form: Mapping[str, Any], today: dt.date, *, has_photo: bool) -> FormResult:
    """Check the staff submission form; every problem is reported against its field."""
    r = _Reader(form)
    r.text("name", missing="Enter the customer's name.", what="The name")
    r.text("role", missing="Enter their role, for example 'Swing-shift foreman'.", what="The role")
    r.text("company", missing="Enter the company they work for.", what="The company")
    r.text("location", what="The location")
    r.text("title", limit=TITLE_MAX_CHARS, what="The title")
    _quote(r, "Enter one sentence in their words, for the TV.")
    r.body("body", missing="Tell the story: what happened, and what changed for them.")
    r.tags("tags")
    alt = r.text("photo_alt", limit=ALT_MAX_CHARS, what="The description")
    if has_photo and not alt:
        r.errors["photo_alt"] = (
            "Describe the photo for people who cannot see it, for example "
            "'Maria on the foundry floor holding a casting'."
        )
    r.choice("kind", KINDS, "story")
    _consent(r, today, required=True, is_new=True)
    r.text("submitted_by", missing="Enter your name, so the moderator knows who to ask.")
    email = r.text("submitter_email", missing="Enter your email address.", limit=254)
    if email and not EMAIL_RE.match(email):
        r.errors["submitter_email"] = "Enter an email address like sam.ortiz@example.com."
    return r.result()


def submission_front_matter(
    values: Mapping[str, Any], today: dt.date, *, login: str | None = None
) -> dict[str, Any]:
    """The new story's front matter, in the order people read it."""
    consent: dict[str, Any] = {
        "given_by": values["consent_given_by"],
        "date": values["consent_date"],
        "scope": list(values["consent_scope"]),
    }
    if values.get("consent_expires"):
        consent["expires"] = values["consent_expires"]
    front: dict[str, Any] = {
        "name": values["name"],
        "role": values["role"],
        "company": values["company"],
        "location": values.get("location") or None,
        "title": values.get("title") or None,
        "quote": values["quote"],
        "photo_alt": values.get("photo_alt") or None,
        "kind": values.get("kind") or "story",
        "tags": [t.strip() for t in str(values.get("tags") or "").split(",") if t.strip()],
        "date": today,
        "status": "pending",
        "consent": consent,
        "submitted_by": values["submitted_by"],
        "submitter_email": values["submitter_email"],
        "submitter_login": login,
        "submitted_at": timestamp(),
    }
    return {k: v for k, v in front.items() if v not in (None, "")}


EDIT_FIELDS = {
    # form field: front-matter key
    "name": "name",
    "role": "role",
    "company": "company",
    "location": "location",
    "title": "title",
    "quote": "quote",
    "photo_alt": "photo_alt",
    "kind": "kind",
    "tags": "tags",
    "date": "date",
    "publish": "publish",
    "expires": "expires",
    "submitted_by": "submitted_by",
    "consent_given_by": "consent.given_by",
    "consent_date": "consent.date",
    "consent_scope": "consent.scope",
    "consent_expires": "consent.expires",
    "consent_withdrawn": "consent.withdrawn",
}


def read_dates(form: Mapping[str, Any]) -> FormResult:
    """A story's publish and expiry days, as set from its moderation page."""
    r = _Reader(form)
    publish = r.date("publish")
    expires = r.date("expires")
    if publish and expires and expires < publish:
        r.errors["expires"] = "The story must expire on or after its publish date."
    return r.result()


def edit_values(story: Story) -> dict[str, Any]:
    """The edit form's starting values, from the story as the parser read it."""
    consent = story.consent
    return {
        "slug": story.slug,
        "name": story.name,
        "role": story.role,
        "company": story.company,
        "location": story.location,
        "title": story.title,
        "quote": story.quote,
        "photo_alt": story.photo_alt,
        "kind": story.kind,
        "tags": ", ".join(story.tags),
        "date": story.date,
        "publish": story.publish,
        "expires": story.expires,
        "submitted_by": story.submitted_by,
        "consent_given_by": consent.given_by if consent else "",
        "consent_date": consent.date if consent else None,
        "consent_scope": sorted(consent.scope) if consent else [],
        "consent_expires": consent.expires if consent else None,
        "consent_withdrawn": consent.withdrawn if consent else None,
        "body": story.body,
    }


def read_edit(form: Mapping[str, Any], story: Story, today: dt.date) -> FormResult:
    """Check the moderator's edit form against the same rules as a submission."""
    r = _Reader(form)
    slug = r.text("slug", missing="Enter the link name.", limit=SLUG_MAX_CHARS).casefold()
    r.values["slug"] = slug
    if slug and not SLUG_RE.match(slug):
        r.errors["slug"] = (
            "Use lowercase letters, digits and hyphens, for example "
            f"'{slugify(slug) or story.slug}'."
        )
    r.text("name", missing="Enter the customer's name.", what="The name")
    r.text("role", missing="Enter their role.", what="The role")
    r.text("company", missing="Enter the company they work for.", what="The company")
    r.text("location", what="The location")
    r.text("title", limit=TITLE_MAX_CHARS, what="The title")
    _quote(r, None)
    r.body("body")
    r.tags("tags")
    r.text("photo_alt", limit=ALT_MAX_CHARS, what="The description")
    r.choice("kind", KINDS, story.kind)
    r.date("date")
    publish = r.date("publish")
    expires = r.date("expires")
    if publish and expires and expires < publish:
        r.errors.setdefault("expires", "The story must expire on or after its publish date.")
    r.text("submitted_by", what="The name")
    _consent(r, today, required=story.consent is not None, is_new=False)
    r.date("consent_withdrawn")
    return r.result()


def edit_changes(story: Story, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the front-matter keys whose value the moderator changed."""
    before = edit_values(story)
    changes: dict[str, Any] = {}
    for field_name, key in EDIT_FIELDS.items():
        old, new = before[field_name], values.get(field_name)
        if field_name == "tags":
            old_tags = list(story.tags)
            new_tags = [t.strip() for t in str(new or "").split(",") if t.strip()]
            if new_tags != old_tags:
                changes[key] = new_tags
            continue
        if (old or None) != (new or None):
            changes[key] = new if new not in ("", []) else None
    if story.consent is None and not any(k.startswith("consent.") for k in changes):
        return changes
    if story.consent is None:
        # A new consent record: write it as one block, in the usual order.
        for key in ("consent.given_by", "consent.date", "consent.scope"):
            changes.setdefault(key, values.get(EDIT_KEYS[key]))
    return changes


EDIT_KEYS = {key: field_name for field_name, key in EDIT_FIELDS.items()}


# -- merging an edit with a change made on disk meanwhile ---------------------------------

MERGED_FIELDS = (*EDIT_FIELDS, "body")


def _comparable(field: str, value: Any) -> str:
    """One field's value as text, so a form's and a file's versions can be compared."""
    if value is None or value == "" or value == []:
        return ""
    if field == "body":
        return normalize_body(str(value)).rstrip()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)


def form_value(field: str, value: Any) -> Any:
    """A story's value as the edit form holds it (text, or a list for the places)."""
    if field == "consent_scope":
        return sorted(value or [])
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def edit_base(story: Story) -> str:
    """What the edit form started from, carried in the form to merge with later changes."""
    values = edit_values(story)
    return json.dumps({f: _comparable(f, values[f]) for f in MERGED_FIELDS})


@dataclass
class EditMerge:
    """A moderator's edit merged with what changed on disk since their form opened."""

    values: dict[str, Any]  # what the form shows next: theirs where only the disk changed
    conflicts: dict[str, tuple[Any, Any]]  # field: (yours, on disk now), both changed
    from_disk: list[str]  # fields taken from the disk, which only the disk changed
    differences: list[tuple[str, Any, Any]]  # field, yours, on disk now: every difference


def merge_edit(base_json: str, mine: Mapping[str, Any], disk: Story) -> EditMerge:
    """Keep what only one side changed; name the fields both changed, for a person to choose.

    Without a readable base (an old form), every difference counts as a conflict:
    nothing on disk is overwritten by a value the moderator did not see.
    """
    try:
        base = json.loads(base_json or "{}")
    except ValueError:
        base = {}
    if not isinstance(base, dict):
        base = {}
    theirs = edit_values(disk)
    values = dict(mine)
    conflicts: dict[str, tuple[Any, Any]] = {}
    from_disk: list[str] = []
    differences: list[tuple[str, Any, Any]] = []
    for field in MERGED_FIELDS:
        m, t = _comparable(field, mine.get(field)), _comparable(field, theirs[field])
        if m == t:
            continue
        yours, on_disk = form_value(field, mine.get(field)), form_value(field, theirs[field])
        differences.append((field, yours, on_disk))
        b = base.get(field)
        if b == m:  # only the disk changed it
            values[field] = on_disk
            from_disk.append(field)
        elif b != t:  # both changed it, differently (or no base to tell)
            conflicts[field] = (yours, on_disk)
    return EditMerge(values, conflicts, from_disk, differences)


CHOOSE = "Choose which version to keep."


def apply_choices(form: Mapping[str, Any], disk: Story) -> tuple[dict[str, Any], dict[str, str]]:
    """The edit form with each conflicted field set to the version the moderator chose.

    The form lists the conflicted fields in `conflicts`; each has a choice
    `resolve_<field>`: "yours" keeps the form's value, "disk" takes the file's.
    A field left unchosen is an error, never a silent pick.
    """
    values = dict(form)
    errors: dict[str, str] = {}
    theirs = edit_values(disk)
    for field in str(form.get("conflicts") or "").split(","):
        if field not in MERGED_FIELDS:
            continue
        choice = form.get(f"resolve_{field}")
        if choice == "disk":
            values[field] = form_value(field, theirs[field])
        elif choice != "yours":
            errors[field] = CHOOSE
    return values, errors


# -- the customer's answer on their own page ---------------------------------------------------

SIGNATURE_MAX_CHARS = 120
SUGGESTION_MAX_CHARS = 5_000
PHOTO_CHOICES = ("show", "hide")


def read_customer_answer(
    form: Mapping[str, Any],
    *,
    today: dt.date,
    latest: dt.date,
    credit: str,
    photo: bool,
    signing: bool,
) -> FormResult:
    """Check the customer's choices, corrections and signature; each problem by its field.

    Corrections left empty (or unchanged) leave the story as it is.
    """
    r = _Reader(form)
    r.places("places", missing="Tick at least one place, or choose “No” at the end of the page.")
    until = r.date("until", missing=f"Choose until when, as {DATE_HINT}.")
    if until is not None and until <= today:
        r.errors["until"] = "Choose a day after today."
    elif until is not None and until > latest:
        r.errors["until"] = (
            f"The longest we may ask for is until {latest.isoformat()}; choose that day "
            "or an earlier one. You can agree again later."
        )
    r.choice("credit", CREDITS, credit)
    r.choice("photo", PHOTO_CHOICES, "show" if photo else "hide")
    r.text("name", what="Your name")
    r.text("role", what="Your role")
    _quote(r, None)
    suggestion = r.body("suggestion")
    if len(suggestion) > SUGGESTION_MAX_CHARS:
        r.errors["suggestion"] = (
            f"That is {len(suggestion):,} characters; keep it to {SUGGESTION_MAX_CHARS:,} or fewer."
        )
    r.text(
        "signature",
        missing="Type your name to sign." if signing else None,
        limit=SIGNATURE_MAX_CHARS,
        what="Your name",
    )
    return r.result()
