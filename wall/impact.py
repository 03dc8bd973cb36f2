"""Impact: how many customers are on the walls, how often they were shown, what
is going stale, and what the customers agreed to, for a period and the one before.

Figures come from three places: the index (what is on the walls now, tags,
teams, sites, consent), the audit log (submissions, approvals, rejections and
their reasons), and the daily display counts the heartbeats keep. The web page,
`storywall stats` and the intranet's one line all read the same `Report`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .db import Database
from .index import StoryIndex
from .stories import Story
from .teams import Team

PERIOD_KINDS = ("month", "quarter", "year", "custom")
LONGEST_CUSTOM_DAYS = 3 * 366
SHOWN_LIST = 10  # stories in each of the most and least shown lists


class PeriodError(ValueError):
    """A period that cannot be shown, in words for the person who asked."""


@dataclass(frozen=True)
class Period:
    """Days from `first` to `last`, both included, in the server's local time."""

    kind: str
    first: dt.date
    last: dt.date
    name: str = ""  # how to call it, when not by its kind and days

    @classmethod
    def of(
        cls,
        kind: str,
        today: dt.date,
        first: dt.date | None = None,
        last: dt.date | None = None,
    ) -> Period:
        """This month, quarter or year (the one `today` is in), or custom days."""
        if kind == "month":
            start = today.replace(day=1)
        elif kind == "quarter":
            start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        elif kind == "year":
            start = dt.date(today.year, 1, 1)
        elif kind == "custom":
            if first is None or last is None:
                raise PeriodError("Give the first and the last day of the period.")
            if last < first:
                raise PeriodError("The last day comes before the first.")
            if (last - first).days >= LONGEST_CUSTOM_DAYS:
                raise PeriodError("Choose a period of at most three years.")
            return cls("custom", first, last)
        else:
            raise PeriodError(f"A period is one of {', '.join(PERIOD_KINDS)}.")
        return cls(kind, start, _months_later(start, _MONTHS[kind]) - dt.timedelta(days=1))

    def previous(self) -> Period:
        """The period of the same length just before: last month, quarter, year, or days."""
        if self.kind in _MONTHS:
            start = _months_later(self.first, -_MONTHS[self.kind])
            return Period(self.kind, start, self.first - dt.timedelta(days=1))
        return Period("custom", self.first - (self.last - self.first) - dt.timedelta(days=1),
                      self.first - dt.timedelta(days=1))  # fmt: skip

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def to_date(self, today: dt.date) -> Period:
        """The period before, cut to as many days as this one has had by `today`: this
        quarter so far is compared with the same days of the last, not all of it."""
        before = self.previous()
        if not self.first <= today < self.last:
            return before
        last = min(before.last, before.first + (today - self.first))
        return Period(before.kind, before.first, last, f"{before.label} to {last:%-d %b}")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "month":
            return f"{calendar.month_name[self.first.month]} {self.first.year}"
        if self.kind == "quarter":
            return f"Q{(self.first.month - 1) // 3 + 1} {self.first.year}"
        if self.kind == "year":
            return str(self.first.year)
        return f"{self.first.isoformat()} to {self.last.isoformat()}"

    @property
    def since(self) -> float:
        """The first moment of the period, as a timestamp."""
        return dt.datetime.combine(self.first, dt.time.min).timestamp()

    @property
    def until(self) -> float:
        """The first moment after the period."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min).timestamp()

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first <= day <= self.last

    def months(self) -> list[str]:
        """The months the period touches, YYYY-MM."""
        out, month = [], self.first.replace(day=1)
        while month <= self.last:
            out.append(month.isoformat()[:7])
            month = _months_later(month, 1)
        return out

    def as_query(self) -> dict[str, str]:
        if self.kind == "custom":
            return {"period": "custom", "from": self.first.isoformat(), "to": self.last.isoformat()}
        return {"period": self.kind}


_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _months_later(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Figure:
    """One number on the page, the same number for the period before (None: a snapshot)."""

    key: str
    label: str
    value: float | None
    before: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Table:
    """Rows the page shows and the CSV export holds, under one name."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass
class Report:
    period: Period
    previous: Period
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    empty: bool = False  # nothing on the walls and nothing counted yet
    through: dt.date | None = None  # today, while the period is still under way

    def value(self, key: str) -> float:
        return self.figures[key].value

    def headline(self) -> dict[str, Any]:
        """The figures as plain data, for `storywall stats --json` and scripts."""
        return {
            "period": {"kind": self.period.kind, "label": self.period.label,
                       "first": self.period.first.isoformat(),
                       "last": self.period.last.isoformat()},
            "previous": {"label": self.previous.label, "first": self.previous.first.isoformat(),
                         "last": self.previous.last.isoformat()},
            "figures": {key: {"label": f.label, "value": f.value, "previous": f.before,
                              "unit": f.unit} for key, f in self.figures.items()},
        }  # fmt: skip


# What the audit log calls the steps of the pipeline.
SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"


class Impact:
    """Works out every figure of the impact page for a period and the one before it."""

    def __init__(
        self,
        index: StoryIndex,
        db: Database,
        *,
        teams: Mapping[str, Team] | None = None,
        stale_days: int = 90,
        expiring: Callable[[], list[Story]] = list,
        screen_stale_seconds: float = 180.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index = index
        self.db = db
        self.teams = dict(teams or {})
        self.stale_days = stale_days
        self.expiring = expiring
        self.screen_stale_seconds = screen_stale_seconds
        self.clock = clock

    def period(self, kind: str = "quarter", first: str = "", last: str = "") -> Period:
        """A period from what a form or command line gives; PeriodError says what is wrong."""
        try:
            start = dt.date.fromisoformat(first) if first else None
            end = dt.date.fromisoformat(last) if last else None
        except ValueError:
            raise PeriodError("Write days as YYYY-MM-DD.") from None
        return Period.of(kind or "quarter", self.index.today(), start, end)

    # -- the report --------------------------------------------------------------------

    def report(self, period: Period) -> Report:
        today = self.index.today()
        previous = period.to_date(today)
        under_way = period.first <= today < period.last
        report = Report(period, previous, through=today if under_way else None)
        stories = self.index.stories()
        self._on_the_walls(report, stories)
        self._shown(report, stories)
        self._pipeline(report, stories)
        self._people(report, stories)
        self._freshness(report, stories)
        self._consent(report, stories)
        # Nothing to show yet: the page explains what it will show instead.
        report.empty = not stories and not self.db.first_display_day()
        return report

    def line(self) -> dict[str, int]:
        """This quarter in four numbers, for the intranet's one line."""
        period = Period.of("quarter", self.index.today())
        stories = self.index.stories()
        live = [s for s in stories if self.index.visible_anywhere(s)]
        return {
            "stories": sum(1 for s in live if s.kind == "story"),
            "thanks": sum(1 for s in live if s.kind == "thank-you"),
            "shown": sum(int(r["shown"]) for r in self._per_story(period)),
            "screens": self.db.screens_showing(*_days(period)),
        }

    def proof_of_play(self, slug: str | None = None, period: Period | None = None) -> list[dict]:
        """Where and how often stories were shown: slug, screen, day, shown. Without a
        period, everything still kept; a month past retention is one row, `day` YYYY-MM."""
        first, last = _days(period) if period else ("0000-00-00", "9999-99-99")
        return [dict(row) for row in self.db.proof_of_play(first, last, slug)]

    # -- the sections ------------------------------------------------------------------

    def _on_the_walls(self, report: Report, stories: list[Story]) -> None:
        hallway = [s for s in stories if self.index.is_visible(s, "hallway")]
        intranet = [s for s in stories if self.index.is_visible(s, "intranet")]
        live = [s for s in stories if self.index.visible_anywhere(s)]
        alive = self.clock() - self.screen_stale_seconds
        now = {
            "hallway_stories": ("Stories on hallway screens", _kind(hallway, "story")),
            "hallway_thanks": ("Thank-yous on hallway screens", _kind(hallway, "thank-you")),
            "intranet_stories": ("Stories on the intranet", _kind(intranet, "story")),
            "intranet_thanks": ("Thank-yous on the intranet", _kind(intranet, "thank-you")),
            "with_photo": ("On a wall with a photo", sum(1 for s in live if s.photo)),
            "screens_alive": ("Screens alive now", len(self.db.screens_heard_since(alive))),
        }
        for key, (label, value) in now.items():
            report.figures[key] = Figure(key, label, value)

    def _per_story(self, period: Period) -> list[Any]:
        return self.db.displays_per_story(*_days(period))

    def _shown(self, report: Report, stories: list[Story]) -> None:
        this, before = report.period, report.previous
        per_story = {r["slug"]: int(r["shown"]) for r in self._per_story(this)}
        earlier = self._per_story(before)
        hours = self.db.screen_seconds(*_days(this)) / 3600
        hours_before = self.db.screen_seconds(*_days(before)) / 3600
        figures = [
            Figure("displays", "Slide displays", sum(per_story.values()),
                   sum(int(r["shown"]) for r in earlier)),
            Figure("screen_hours", "Screen-hours", round(hours, 1), round(hours_before, 1), "h"),
            Figure("screens_showing", "Screens that showed a story",
                   self.db.screens_showing(*_days(this)),
                   self.db.screens_showing(*_days(before))),
            Figure("stories_shown", "Stories shown", len(per_story), len(earlier)),
        ]  # fmt: skip
        for figure in figures:
            report.figures[figure.key] = figure
        by_day = self.db.displays_per_day(*_days(this))
        report.tables["displays_by_day"] = Table(
            "displays_by_day", "Slide displays per day", ("day", "displays", "screens"),
            [(r["day"], int(r["shown"]), int(r["screens"])) for r in by_day],
        )  # fmt: skip
        # Most and least shown among what is on hallway screens now: a story that
        # newer ones crowd out shows up at the bottom with few or none.
        on_screens = [s for s in stories if self.index.is_visible(s, "hallway")]
        ranked = sorted(on_screens, key=lambda s: (-per_story.get(s.slug, 0), s.slug))
        rows = [(s.slug, s.name, s.kind, per_story.get(s.slug, 0)) for s in ranked]
        columns = ("slug", "name", "kind", "displays")
        # The top and the bottom of the list, never the same story in both.
        top = min(SHOWN_LIST, (len(rows) + 1) // 2)
        bottom = min(SHOWN_LIST, len(rows) - top)
        report.tables["most_shown"] = Table("most_shown", "Most shown", columns, rows[:top])
        least = rows[len(rows) - bottom :][::-1]
        report.tables["least_shown"] = Table("least_shown", "Least shown", columns, least)

    def _pipeline(self, report: Report, stories: list[Story]) -> None:
        this, before = report.period, report.previous
        kinds = {s.slug: s.kind for s in stories}
        events = self.db.audit_events((SUBMITTED, APPROVED, REJECTED), until=this.until)
        submitted_at: dict[str, float] = {}
        first_approval: dict[str, float] = {}
        for e in events:
            if e["action"] == SUBMITTED:
                submitted_at.setdefault(e["slug"], e["at"])
            elif e["action"] == APPROVED:
                first_approval.setdefault(e["slug"], e["at"])

        def count(period: Period, action: str, kind: str | None = None) -> int:
            return sum(
                1
                for e in events
                if e["action"] == action
                and period.since <= e["at"] < period.until
                and (kind is None or kinds.get(e["slug"], "story") == kind)
            )

        def waits(period: Period) -> float | None:
            days = [
                (at - submitted_at[slug]) / 86400
                for slug, at in first_approval.items()
                if period.since <= at < period.until and slug in submitted_at
            ]
            return round(statistics.median(days), 1) if days else None

        wait, wait_before = waits(this), waits(before)
        figures = [
            Figure("submitted", "Stories submitted", count(this, SUBMITTED, "story"),
                   count(before, SUBMITTED, "story")),
            Figure("approved", "Stories approved", count(this, APPROVED, "story"),
                   count(before, APPROVED, "story")),
            Figure("rejected", "Rejected", count(this, REJECTED), count(before, REJECTED)),
            Figure("days_to_screen", "Median days from submission to first screen",
                   wait, wait_before, "days"),
            Figure("thanks_received", "Thank-yous received", count(this, SUBMITTED, "thank-you"),
                   count(before, SUBMITTED, "thank-you")),
            Figure("thanks_approved", "Thank-yous approved", count(this, APPROVED, "thank-you"),
                   count(before, APPROVED, "thank-you")),
        ]  # fmt: skip
        for figure in figures:
            report.figures[figure.key] = figure

        months: dict[str, Counter[str]] = {m: Counter() for m in this.months()}
        live = {s.slug for s in stories if self.index.visible_anywhere(s)}
        for e in events:
            if not this.since <= e["at"] < this.until:
                continue
            month = dt.date.fromtimestamp(e["at"]).isoformat()[:7]
            kind = kinds.get(e["slug"], "story")
            first = e["action"] != APPROVED or first_approval.get(e["slug"]) == e["at"]
            if first:
                months[month][f"{kind} {e['action']}"] += 1
            if e["action"] == APPROVED and first and e["slug"] in live:
                months[month][f"{kind} published"] += 1
        report.tables["pipeline_months"] = Table(
            "pipeline_months", "Stories per month",
            ("month", "submitted", "approved", "rejected", "on a wall now"),
            [(m, c["story submitted"], c["story approved"], c["story rejected"],
              c["story published"]) for m, c in months.items()],
        )  # fmt: skip
        report.tables["thanks_months"] = Table(
            "thanks_months", "Thank-yous per month",
            ("month", "received", "approved", "on a wall now"),
            [(m, c["thank-you submitted"], c["thank-you approved"], c["thank-you published"])
             for m, c in months.items()],
        )  # fmt: skip
        reasons = Counter(
            " ".join(str(e["detail"] or "no reason given").split())
            for e in events
            if e["action"] == REJECTED and this.since <= e["at"] < this.until
        )
        report.tables["rejections"] = Table(
            "rejections", "Rejections and their reasons", ("reason", "rejected"),
            sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        )  # fmt: skip
        to_teams: Counter[str] = Counter()
        for e in events:
            story = self.index.get(e["slug"]) if e["slug"] else None
            if (
                e["action"] == SUBMITTED
                and this.since <= e["at"] < this.until
                and story is not None
                and story.kind == "thank-you"
            ):
                team = self.teams.get(story.to)
                to_teams[team.name if team else (story.to or "no team named")] += 1
        report.tables["thanks_teams"] = Table(
            "thanks_teams", "Thank-yous received, by team", ("team", "thank-yous"),
            sorted(to_teams.items(), key=lambda item: (-item[1], item[0])),
        )  # fmt: skip

    def _people(self, report: Report, stories: list[Story]) -> None:
        this, before = report.period, report.previous

        def sharers(period: Period) -> int:
            return len(
                {
                    _person(s.submitted_by)
                    for s in stories
                    if s.kind == "story" and s.submitted_by and _shared_on(s) in period
                }
            )

        live = [s for s in stories if self.index.visible_anywhere(s)]
        report.figures["staff_sharing"] = Figure(
            "staff_sharing", "Staff who shared a story", sharers(this), sharers(before)
        )
        report.figures["customers"] = Figure(
            "customers", "Customers on a wall", len({(s.name, s.company) for s in live})
        )
        report.figures["companies"] = Figure(
            "companies", "Companies on a wall", len({s.company.casefold() for s in live})
        )

    def _freshness(self, report: Report, stories: list[Story]) -> None:
        today = self.index.today()
        live = [s for s in stories if self.index.visible_anywhere(s)]
        groups: dict[tuple[str, str], list[Story]] = defaultdict(list)
        for story in live:
            for tag in story.tags:
                groups[("tag", tag)].append(story)
            if story.location:
                groups[("site", story.location)].append(story)
        for team in self.teams.values():
            mine = [s for s in live if (s.kind == "thank-you" and s.to == team.key)
                    or set(team.tags) & set(s.tags)]  # fmt: skip
            groups[("team", team.name)] = mine
        rows = []
        for (what, name), mine in groups.items():
            days = [d for d in (_shared_on(s) for s in mine) if d is not None]
            newest = max(days) if days else None
            age = (today - newest).days if newest else None
            stale = age is None or age > self.stale_days
            rows.append((what, name, len(mine), newest.isoformat() if newest else "", age,
                         "stale" if stale else ""))  # fmt: skip
        rows.sort(key=lambda r: (r[5] != "stale", -(r[4] or 10**6), r[0], r[1]))
        report.tables["freshness"] = Table(
            "freshness", "Freshness by tag, team and site",
            ("kind", "name", "on a wall", "newest", "days old", "flag"), rows,
        )  # fmt: skip
        report.figures["stale_groups"] = Figure(
            "stale_groups", f"Tags, teams and sites with nothing new in {self.stale_days} days",
            sum(1 for r in rows if r[5]),
        )  # fmt: skip

    def _consent(self, report: Report, stories: list[Story]) -> None:
        this, before = report.period, report.previous
        expiring = self.expiring()
        report.tables["expiring"] = Table(
            "expiring", "Consent expiring soon", ("slug", "name", "expires"),
            [(s.slug, s.name, s.consent.expires.isoformat() if s.consent and s.consent.expires
              else "") for s in expiring],
        )  # fmt: skip

        def withdrawn(period: Period) -> int:
            return sum(1 for s in stories if s.consent and s.consent.withdrawn in period)

        live = [s for s in stories if self.index.visible_anywhere(s)]
        kinds = Counter(s.consent_kind for s in live)
        figures = [
            Figure("consent_expiring", "Consent expiring soon", len(expiring)),
            Figure("consent_withdrawn", "Consent withdrawn", withdrawn(this), withdrawn(before)),
            Figure("consent_customer", "On a wall with the customer's own consent",
                   kinds["given by the customer"]),
            Figure("consent_staff", "On a wall with consent recorded by staff",
                   kinds["recorded by staff"]),
        ]  # fmt: skip
        for figure in figures:
            report.figures[figure.key] = figure


def _days(period: Period) -> tuple[str, str]:
    return period.first.isoformat(), period.last.isoformat()


def _kind(stories: Sequence[Story], kind: str) -> int:
    return sum(1 for s in stories if s.kind == kind)


def _person(submitted_by: str) -> str:
    # "Sam Ortiz, Field Service" and "sam ortiz" are one person.
    return " ".join(submitted_by.split(",")[0].split()).casefold()


def _shared_on(story: Story) -> dt.date | None:
    """The day a story was shared: when it was submitted, else its own date."""
    submitted = story.meta.get("submitted_at")
    if submitted:
        try:
            return dt.datetime.fromisoformat(str(submitted)).date()
        except ValueError:
            pass
    return story.date
