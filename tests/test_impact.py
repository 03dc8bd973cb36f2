"""The impact page, its CSVs and `storywall stats`, over a known history built through
the real paths: stories written and moderated, heartbeats posted by kiosks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from click.testing import CliRunner
from PIL import Image

from wall.cli import main

TODAY = dt.date.today()
# The period asked for: the last three days; the one before: the three days before.
D1, D2, D3 = (TODAY - dt.timedelta(days=n) for n in (2, 1, 0))
EARLIER = TODAY - dt.timedelta(days=4)
PERIOD = {"period": "custom", "from": D1.isoformat(), "to": D3.isoformat()}
CONSENT = {"given_by": "x", "date": (TODAY - dt.timedelta(days=9)).isoformat(),
           "scope": ["hallway", "intranet"]}  # fmt: skip


def at(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hour, minute)).timestamp()


class Clock:
    """The time the database writes down: the test moves it along the simulated days."""

    def __init__(self) -> None:
        self.now = at(EARLIER, 9)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def history(app, admin_client, write_story):
    """Four days of a small wall; returns the signed-in client."""
    wall = app.extensions["storywall"]
    clock = Clock()
    wall.db.clock = clock
    maria = write_story("maria", tags=["dayton"], location="Dayton, Ohio", photo="maria.jpg",
                        photo_alt="Maria", submitted_by="Sam Ortiz")  # fmt: skip
    Image.new("RGB", (60, 80), "gray").save(maria.parent / "maria.jpg")
    write_story("dev", name="Dev Patel", company="Acme", tags=["payroll"], photo=None)
    wall.index.rescan()
    moderation = wall.moderation

    def submit(name: str, kind: str = "story", **front: object) -> str:
        fields = {"name": name, "role": "Buyer", "company": f"{name} Ltd", "kind": kind,
                  "status": "pending", "consent": CONSENT, "submitted_by": "Lee Chan",
                  **front}  # fmt: skip
        return moderation.submit(fields, "Words.", who="Lee Chan").slug

    def approve(slug: str) -> None:
        moderation.approve(slug, wall.index.get(slug).token, "alex")

    def beat(screen: str, shown: dict[str, int]) -> None:
        body = {"screen": screen, "story": None, "playlist": "p", "uptime": 9999, "shown": shown}
        assert admin_client.post("/api/heartbeat", json=body).status_code == 200

    # The period before: one story submitted and approved a day later; one screen.
    ann = submit("Ann Lee")
    clock.now = at(EARLIER, 8)
    beat("lobby", {"maria": 4})
    clock.now = at(EARLIER + dt.timedelta(days=1), 9)
    approve(ann)
    # The period: two stories and a thank-you in; one approved 36 hours on, one rejected.
    clock.now = at(D1, 9)
    ben = submit("Ben Ortiz", tags=["dayton"])
    cat = submit("Cat Moss")
    thanks = submit("Acme buyers", kind="thank-you", to="the night shift")
    for minute, shown in ((0, {"maria": 2}), (1, {"maria": 1, "dev": 1}), (2, {})):
        clock.now = at(D1, 10, minute)
        beat("lobby", shown)
    clock.now = at(D2, 21)
    approve(ben)
    approve(thanks)
    moderation.reject(cat, wall.index.get(cat).token, "alex", "No photo consent")
    clock.now = at(D3, 10)
    beat("cafe", {})
    clock.now = at(D3, 10, 1)
    beat("cafe", {"ben-ortiz": 3})
    return admin_client


def figures_of(html: str) -> dict[str, str]:
    """Each figure's label and value as the page shows them."""
    found = re.findall(r'<dt>(.*?)</dt>\s*<dd><span class="figure-value">(.*?)</span>', html, re.S)
    return {label.replace("&#39;", "'"): value for label, value in found}


def test_the_page_shows_every_figure_of_the_history(history) -> None:
    html = history.get("/admin/impact", query_string=PERIOD).get_data(as_text=True)
    shown = figures_of(html)
    assert shown["Slide displays"] == "7"  # maria 3, dev 1, ben 3
    assert shown["Screens that showed a story"] == "2"
    assert shown["Stories shown"] == "3"
    # lobby: the gap since the day before is capped at two heartbeats (120 s), then
    # two minutes; cafe: one minute after its first heartbeat.
    assert shown["Screen-hours"] == "0.1"
    assert shown["Stories submitted"] == "2"
    assert shown["Stories approved"] == "1"
    assert shown["Rejected"] == "1"
    assert shown["Median days from submission to first screen"] == "1.5"
    assert shown["Thank-yous received"] == "1"
    assert shown["Thank-yous approved"] == "1"
    # On the walls now: maria, dev, ann, ben; the thank-you.
    assert shown["Stories on hallway screens"] == "4"
    assert shown["Thank-yous on hallway screens"] == "1"
    assert shown["On a wall with a photo"] == "1"  # only maria's file names one
    assert shown["Screens alive now"] == "1"  # cafe, a minute before the simulated now
    assert shown["Customers on a wall"] == "5"
    assert shown["On a wall with consent recorded by staff"] == "5"
    assert "7</span>" in html and "4 in " in html  # displays next to the period before
    assert "No photo consent" in html
    assert "submission to its first approval" in html  # the proxy is said out loud
    assert html.count("<svg") >= 3 and "<script" not in html


def test_every_table_downloads_as_csv_with_the_same_numbers(history) -> None:
    def rows(name: str) -> list[list[str]]:
        response = history.get(f"/admin/impact/{name}.csv", query_string=PERIOD)
        assert response.status_code == 200 and response.mimetype == "text/csv"
        return list(csv.reader(io.StringIO(response.get_data(as_text=True))))

    figures = {row[0]: row[2:4] for row in rows("figures")[1:]}
    assert figures["displays"] == ["7", "4"]
    assert figures["submitted"] == ["2", "1"]
    assert figures["days_to_screen"] == ["1.5", "1.0"]
    # The top and the bottom of what is on the screens now, never a story in both.
    assert rows("most_shown")[1:] == [
        ["ben-ortiz", "Ben Ortiz", "story", "3"],
        ["maria", "Maria Alvarez", "story", "3"],
        ["dev", "Dev Patel", "story", "1"],
    ]
    assert [row[0] for row in rows("least_shown")[1:]] == ["ann-lee", "acme-buyers"]
    assert rows("rejections")[1:] == [["No photo consent", "1"]]
    assert rows("thanks_teams")[1:] == [["the night shift", "1"]]
    by_day = {row[0]: row[1:] for row in rows("displays_by_day")[1:]}
    assert by_day == {D1.isoformat(): ["4", "1"], D3.isoformat(): ["3", "1"]}
    fresh = {(r[0], r[1]): r for r in rows("freshness")[1:]}
    assert fresh[("tag", "dayton")][2] == "2"  # maria and ben
    assert fresh[("site", "Dayton, Ohio")][2] == "1"
    for name in ("pipeline_months", "thanks_months", "least_shown", "expiring"):
        assert rows(name)[0]  # a header at least
    assert history.get("/admin/impact/nothing.csv").status_code == 404


def test_proof_of_play_lists_each_story_screen_and_day(history) -> None:
    text = history.get("/admin/impact/proof-of-play.csv").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(text))) == [
        ["story", "screen", "day", "shown"],
        ["ben-ortiz", "cafe", D3.isoformat(), "3"],
        ["dev", "lobby", D1.isoformat(), "1"],
        ["maria", "lobby", EARLIER.isoformat(), "4"],
        ["maria", "lobby", D1.isoformat(), "3"],
    ]
    one = history.get("/admin/impact/proof-of-play.csv", query_string={**PERIOD, "slug": "maria"})
    assert one.get_data(as_text=True).count("\n") == 2  # the header and D1
    assert "proof-of-play.csv?slug=maria" in history.get("/admin/stories/maria").get_data(
        as_text=True
    )


def test_storywall_stats_prints_the_same_figures(history, app) -> None:
    config = app.config
    args = ["--instance", config["INSTANCE_PATH"], "stats", "--stories", config["STORIES_DIR"],
            "--from", D1.isoformat(), "--to", D3.isoformat()]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)["figures"]
    assert figures["displays"]["value"] == 7 and figures["displays"]["previous"] == 4
    assert figures["rejected"]["value"] == 1
    assert figures["days_to_screen"]["value"] == 1.5
    assert figures["hallway_stories"]["value"] == 4
    text = CliRunner().invoke(main, args, catch_exceptions=False).output
    assert re.search(r"Slide displays\s+7\s+\(4 before\)", text)
    table = CliRunner().invoke(main, [*args, "--csv"], catch_exceptions=False).output
    assert "displays,Slide displays,7,4," in table


def test_the_intranet_says_this_quarter_in_one_line(history, app) -> None:
    html = history.get("/").get_data(as_text=True)
    line = re.search(r'<p class="impact-line">(.*?)</p>', html, re.S)
    assert line is not None
    text = " ".join(re.sub(r"<[^>]+>", "", line.group(1)).split())
    quarter_start = dt.date(TODAY.year, 3 * ((TODAY.month - 1) // 3) + 1, 1)
    days = {EARLIER: (4, "lobby"), D1: (4, "lobby"), D3: (3, "cafe")}
    shown = sum(n for day, (n, _) in days.items() if day >= quarter_start)
    screens = len({screen for day, (_, screen) in days.items() if day >= quarter_start})
    assert text == (
        f"This quarter: 4 customer stories and 1 thank-you, shown {shown} times on "
        f"{screens} screen{'s' if screens > 1 else ''}. Share one."
    )
    app.config["IMPACT_LINE"] = False
    assert "impact-line" not in history.get("/").get_data(as_text=True)


def test_with_nothing_yet_the_page_says_how_to_get_there(admin_client) -> None:
    html = admin_client.get("/admin/impact").get_data(as_text=True)
    assert "Nothing to count yet" in html and "/kiosk" in html
    assert "<svg" not in html


def test_the_page_says_which_days_it_counts(admin_client) -> None:
    # A quarter under way is counted to today, next to as many days of the last one.
    html = admin_client.get("/admin/impact", query_string={"period": "quarter"}).get_data(
        as_text=True
    )
    month = 3 * ((TODAY.month - 1) // 3) + 1
    first = dt.date(TODAY.year, month, 1)
    last = dt.date(TODAY.year + (month == 10), (month + 2) % 12 + 1, 1) - dt.timedelta(days=1)
    counted = f"{TODAY.isoformat()} so far" if last > TODAY else last.isoformat()
    assert f"{first.isoformat()} to {counted}, each figure next to" in html
    # Days that have all gone by are counted whole.
    ended = {"period": "custom", "from": "2025-01-01", "to": "2025-01-31"}
    html = admin_client.get("/admin/impact", query_string=ended).get_data(as_text=True)
    assert "2025-01-01 to 2025-01-31, each figure next to" in html


def test_a_period_that_makes_no_sense_is_refused(admin_client) -> None:
    bad = admin_client.get("/admin/impact?period=custom&from=2026-05-01&to=2026-04-01")
    assert bad.status_code == 400
    assert admin_client.get("/admin/impact?period=week").status_code == 400


def test_only_moderators_see_it(client) -> None:
    assert client.get("/admin/impact").status_code in (302, 303)
    assert client.get("/admin/impact/proof-of-play.csv").status_code in (302, 303)


def test_the_customer_sees_how_often_their_story_was_shown(history, app) -> None:
    token = app.extensions["storywall"].consent.make_link("maria", "alex")
    html = history.get(f"/consent/{token}").get_data(as_text=True)
    assert "Shown 7 times on 1 screen so far." in html
