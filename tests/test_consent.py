"""The customer's consent, without Flask: links, answers, evidence, stale consent, expiry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import story_text
from wall.consent import (
    Choices,
    ConsentTerms,
    Corrections,
    CustomerConsent,
    LinkExpired,
    LinkNotFound,
    StoryRemoved,
    token_hash,
)
from wall.db import Database
from wall.index import StoryIndex
from wall.moderation import Moderation, StaleConsent
from wall.parsing import load_story

pytestmark = pytest.mark.both_engines

TODAY = dt.date.today()
WHO = {"address": "198.51.100.7", "user_agent": "Phone browser"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wall(stories: Path, db_target, clock: Clock):  # type: ignore[no-untyped-def]
    index = StoryIndex(stories)
    db = Database(db_target)
    moderation = Moderation(index, db)
    terms = ConsentTerms(link_days=30, default_days=365, max_days=730, statement="I agree, v1.")
    consent = CustomerConsent(index, db, moderation, terms, clock=clock)
    yield index, db, moderation, consent
    db.close()


@pytest.fixture
def maria(stories: Path, wall) -> Path:  # type: ignore[no-untyped-def]
    (stories / "maria").mkdir()
    path = stories / "maria" / "index.md"
    path.write_text(story_text(status="pending"))
    wall[0].rescan()
    return path


def choices(**overrides: object) -> Choices:
    values: dict[str, object] = {
        "places": ("hallway", "intranet"),
        "until": TODAY + dt.timedelta(days=200),
        "credit": "full",
        "photo": True,
    }
    values.update(overrides)
    return Choices(**values)  # type: ignore[arg-type]


def approve(wall, slug: str = "maria") -> None:  # type: ignore[no-untyped-def]
    index, _, moderation, _ = wall
    moderation.approve(slug, index.get(slug).token, "alex")


# -- links ------------------------------------------------------------------------------------


def test_a_link_is_long_random_and_only_its_hash_is_kept(wall, maria) -> None:
    _, db, _, consent = wall
    token = consent.make_link("maria", "alex")
    assert len(token) >= 22  # 24 random bytes: 192 bits
    for table in ("consent_links", "audit"):
        assert all(token not in str(value) for row in db.query(f"SELECT * FROM {table}")
                   for value in row.values())  # fmt: skip
    if db.path is not None:  # SQLite: not in the file's bytes either
        assert token.encode() not in db.path.read_bytes()
    assert db.consent_link(token_hash(token))["slug"] == "maria"
    assert consent.make_link("maria", "alex") != token


def test_a_new_link_stops_the_old_one_and_revoking_stops_it(wall, maria) -> None:
    _, _, _, consent = wall
    first = consent.make_link("maria", "alex")
    second = consent.make_link("maria", "alex")
    with pytest.raises(LinkNotFound):
        consent.visit(first)
    assert consent.visit(second).story.slug == "maria"
    assert consent.revoke("maria", "alex")
    with pytest.raises(LinkNotFound):
        consent.visit(second)


@pytest.mark.parametrize("token", ["", "short", "x" * 200, "../../etc/passwd", "a" * 32])
def test_wrong_tokens_find_nothing(wall, maria, token: str) -> None:
    with pytest.raises(LinkNotFound):
        wall[3].visit(token)


def test_the_link_state_follows_the_customer(wall, maria, clock: Clock) -> None:
    _, _, _, consent = wall
    token = consent.make_link("maria", "alex")
    assert consent.link_state("maria")["state"] == "not opened"
    consent.visit(token)
    assert consent.link_state("maria")["state"] == "opened"
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    assert consent.link_state("maria")["state"] == "consented"
    clock.now += 31 * 86400
    assert consent.link_state("maria")["state"] == "consented"  # not "expired": it was used


def test_an_unused_link_expires_for_consent(wall, stories: Path, clock: Clock) -> None:
    index, _, _, consent = wall
    (stories / "dev.md").write_text(story_text(name="Dev Patel", consent=None))
    index.rescan()
    token = consent.make_link("dev", "alex")
    clock.now += 31 * 86400
    assert consent.link_state("dev")["state"] == "expired"
    with pytest.raises(LinkExpired):
        consent.visit(token)


def test_after_the_window_the_link_still_takes_a_story_down(wall, maria, clock: Clock) -> None:
    index, _, _, consent = wall
    token = consent.make_link("maria", "alex")
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    clock.now += 60 * 86400
    visit = consent.visit(token)
    assert not visit.may_consent and visit.may_withdraw
    with pytest.raises(Exception, match="can no longer be used"):
        consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    consent.withdraw(token, **WHO)
    assert index.get("maria").consent.withdrawn == TODAY


def test_a_deleted_story_is_reported_as_removed(wall, maria) -> None:
    index, _, moderation, consent = wall
    token = consent.make_link("maria", "alex")
    moderation.delete("maria", index.get("maria").token, "alex")
    with pytest.raises(StoryRemoved):
        consent.visit(token)


# -- consent, bound to exactly what was seen ------------------------------------------------------


def test_consent_records_the_statement_content_and_choices(wall, maria) -> None:
    index, db, _, consent = wall
    token = consent.make_link("maria", "alex")
    chosen = choices(places=("intranet",), credit="short", photo=False)
    story = consent.consent(token, chosen, Corrections(), "Maria Alvarez", **WHO)
    assert story.credit_lines[0] == "Maria A."
    c = story.consent
    assert (c.by, c.credit, c.photo, c.scope, c.statement) == (
        "customer",
        "short",
        False,
        {"intranet"},
        1,
    )
    assert c.content == story.content_hash and c.content.startswith("sha256:")
    record = db.last_consent_record("maria")
    assert record["content_hash"] == c.content
    assert record["statement_version"] == 1 and record["statement_text"] == "I agree, v1."
    assert record["signature"] == "Maria Alvarez"
    assert (record["address"], record["user_agent"]) == (WHO["address"], WHO["user_agent"])
    assert json.loads(record["content"])["name"] == "Maria A."
    assert json.loads(record["choices"]) == {
        "places": ["intranet"],
        "until": chosen.until.isoformat(),
        "credit": "short",
        "photo": False,
    }
    assert [r["action"] for r in db.audit_log("maria")][:1] == ["customer consented"]
    # The file carries the summary, so it lives with the story in git.
    text = maria.read_text()
    assert "  by: customer\n" in text and f"  content: {c.content}\n" in text
    # Still pending: the customer's consent is not a moderator's approval.
    assert not index.is_visible(index.get("maria"), "intranet")


def test_a_new_statement_text_makes_a_new_version(wall, maria, stories: Path) -> None:
    index, db, moderation, consent = wall
    token = consent.make_link("maria", "alex")
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    changed = CustomerConsent(
        index, db, moderation, ConsentTerms(statement="I agree, v2."), clock=consent.clock
    )
    changed.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    assert index.get("maria").consent.statement == 2
    assert db.statement_version("I agree, v1.") == 1


def test_corrections_go_back_to_moderation_with_before_and_after(wall, maria) -> None:
    index, db, _, consent = wall
    approve(wall)
    token = consent.make_link("maria", "alex")
    corrected = Corrections(quote="My crew goes home on time now.", suggestion="Say line 4.")
    story = consent.consent(token, choices(), corrected, "Maria Alvarez", **WHO)
    assert story.status == "pending" and story.quote == "My crew goes home on time now."
    changes = json.loads(db.last_consent_record("maria")["changes"])
    assert changes == {
        "fields": [
            {
                "field": "quote",
                "before": "When your part runs late, my crew goes home late.",
                "after": "My crew goes home on time now.",
            }
        ],
        "suggestion": "Say line 4.",
    }
    assert consent.link_state("maria")["state"] == "changes suggested"
    approve(wall)
    story = index.get("maria")
    # Consent was given for the corrected text: it holds once approved.
    assert index.is_visible(story, "hallway") and story.consent.content == story.content_hash


def test_renewal_without_changes_needs_no_moderator(wall, maria) -> None:
    index, _, _, consent = wall
    approve(wall)
    token = consent.make_link("maria", "alex")
    later = TODAY + dt.timedelta(days=500)
    story = consent.consent(token, choices(until=later), Corrections(), "Maria Alvarez", **WHO)
    assert story.status == "approved" and story.consent.expires == later
    assert index.is_visible(story, "hallway")


def test_a_moderator_edit_to_what_the_customer_sees_makes_consent_stale(wall, maria) -> None:
    index, _, moderation, consent = wall
    token = consent.make_link("maria", "alex")
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    approve(wall)
    assert index.is_visible(index.get("maria"), "hallway")
    story = index.get("maria")
    from wall.forms import edit_values

    values = {**edit_values(story), "quote": "Edited by a moderator."}
    with pytest.raises(StaleConsent, match="Maria Alvarez agreed to"):
        moderation.edit("maria", story.token, "alex", values)
    assert index.is_visible(index.get("maria"), "hallway")  # nothing written
    moderation.edit("maria", story.token, "alex", values, stale_ok=True)
    story = index.get("maria")
    assert "changed since the customer consented" in index.hidden_reason(story, "hallway")
    visit = consent.visit(token)
    assert ("Words on the screen", "When your part runs late, my crew goes home late.",
            "Edited by a moderator.") in visit.changed_since  # fmt: skip
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    assert index.is_visible(index.get("maria"), "hallway")


def test_changes_the_customer_cannot_see_keep_their_consent(wall, maria) -> None:
    index, _, moderation, consent = wall
    token = consent.make_link("maria", "alex")
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    approve(wall)
    story = index.get("maria")
    from wall.forms import edit_values

    values = {**edit_values(story), "tags": "dayton, ohio", "publish": TODAY}
    moderation.edit("maria", story.token, "alex", values)
    assert index.is_visible(index.get("maria"), "hallway")
    moderation.feature("maria", index.get("maria").token, "alex")
    assert index.is_visible(index.get("maria"), "hallway")


def test_a_replaced_photo_makes_consent_stale(wall, stories: Path) -> None:
    index, _, _, consent = wall
    (stories / "dev").mkdir()
    (stories / "dev" / "face.jpg").write_bytes(b"one picture")
    (stories / "dev" / "index.md").write_text(story_text(name="Dev Patel", photo="face.jpg"))
    index.rescan()
    token = consent.make_link("dev", "alex")
    consent.consent(token, choices(), Corrections(), "Dev Patel", **WHO)
    assert index.is_visible(index.get("dev"), "hallway")
    (stories / "dev" / "face.jpg").write_bytes(b"another picture")
    index.refresh(["dev"])
    assert not index.is_visible(index.get("dev"), "hallway")


def test_decline_and_withdraw_take_it_off_everywhere(wall, maria) -> None:
    index, db, _, consent = wall
    approve(wall)
    token = consent.make_link("maria", "alex")
    consent.withdraw(token, **WHO)
    story = index.get("maria")
    assert story.consent.withdrawn == TODAY
    assert not index.is_visible(story, "hallway") and not index.is_visible(story, "intranet")
    assert db.last_consent_record("maria", "withdrew") is not None
    assert consent.withdraw(token, **WHO).consent.withdrawn == TODAY  # a second click: no change
    assert [r["action"] for r in db.audit_log("maria")].count("customer withdrew") == 1


def test_declining_a_story_with_staff_consent_hides_it(wall, maria) -> None:
    index, db, _, consent = wall
    approve(wall)
    token = consent.make_link("maria", "alex")
    consent.decline(token, **WHO)
    assert not index.is_visible(index.get("maria"), "hallway")
    assert consent.link_state("maria")["state"] == "declined"
    assert db.last_consent_record("maria", "declined")["address"] == WHO["address"]


def test_staff_consent_stops_counting_when_the_operator_says_so(stories: Path, maria) -> None:
    story, _ = load_story(maria)
    assert story is not None
    approved = story.__class__(**{**story.__dict__, "status": "approved"})
    assert approved.is_visible("hallway", TODAY)
    assert not approved.is_visible("hallway", TODAY, customer_only=True)
    assert "recorded by staff" in approved.hidden_reason("hallway", TODAY, customer_only=True)


def test_consent_ends_at_the_start_of_the_day_after_its_last_day(wall, maria) -> None:
    index, _, _, consent = wall
    approve(wall)
    token = consent.make_link("maria", "alex")
    last = TODAY + dt.timedelta(days=3)
    consent.consent(token, choices(until=last), Corrections(), "Maria Alvarez", **WHO)
    story = index.get("maria")
    assert story.is_visible("hallway", last)
    assert not story.is_visible("hallway", last + dt.timedelta(days=1))


def test_expiring_soon_lists_consent_ending_within_the_window(wall, stories: Path) -> None:
    index, _, _, consent = wall
    for slug, days in (("soon", 10), ("later", 90), ("today", 0)):
        expires = (TODAY + dt.timedelta(days=days)).isoformat()
        given = {"given_by": "X", "date": "2026-01-01", "scope": ["hallway"], "expires": expires}
        (stories / f"{slug}.md").write_text(story_text(consent=given))
    index.rescan()
    assert [s.slug for s in consent.expiring()] == ["today", "soon"]


def test_evidence_keeps_every_answer_and_survives_a_rename(wall, maria) -> None:
    index, _, moderation, consent = wall
    token = consent.make_link("maria", "alex")
    consent.suggest(token, Corrections(role="Plant manager"), **WHO)
    consent.consent(token, choices(), Corrections(), "Maria Alvarez", **WHO)
    story = index.get("maria")
    from wall.forms import edit_values

    moderation.edit("maria", story.token, "alex", {**edit_values(story), "slug": "maria-a"})
    evidence = consent.evidence("maria-a")
    assert [r["event"] for r in evidence["records"]] == ["suggested changes", "consented"]
    assert evidence["story"]["consent_in_file"]["by"] == "customer"
    assert consent.visit(token).story.slug == "maria-a"  # the link follows the story
