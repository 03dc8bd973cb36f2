"""Named hallway screens: what each shows, and what bad settings fall back to."""

from __future__ import annotations

import pytest

from wall.screens import INTERVAL_BOUNDS, parse_hours, parse_interval, resolve_screen
from wall.stories import KINDS

SCREENS = {
    "lobby": {"tags": ["Manufacturing", "dayton"], "interval": 12, "orientation": "portrait"},
    "cafe": {"kinds": ["thank-you", "poster"], "hours": "07:00-19:00", "group": "ground"},
    "door": {"group": "ground"},
    "atrium": {"group": "ground", "interval": "soon", "orientation": "sideways"},
    "broken": "not a table",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12.0),
        ("12.5", 12.5),
        (20, 20.0),
        ("1", INTERVAL_BOUNDS[0]),  # too fast to read: the shortest allowed
        ("1e9", INTERVAL_BOUNDS[1]),  # huge: the longest allowed
        ("0", None),
        ("-5", None),
        ("nan", None),
        ("inf", INTERVAL_BOUNDS[1]),
        ("-inf", None),
        ("soon", None),
        ("", None),
        (None, None),
        (True, None),
        ("9" * 400, INTERVAL_BOUNDS[1]),
    ],
)
def test_parse_interval(raw: object, expected: float | None) -> None:
    assert parse_interval(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07:00-19:00", ("07:00", "19:00")),
        (" 7:30 - 18:05 ", ("07:30", "18:05")),
        ("22:00-06:00", ("22:00", "06:00")),  # overnight
        ("07:00-07:00", None),
        ("25:00-19:00", None),
        ("07:60-19:00", None),
        ("seven to seven", None),
        (None, None),
        (["07:00", "19:00"], None),
    ],
)
def test_parse_hours(raw: object, expected: tuple[str, str] | None) -> None:
    assert parse_hours(raw) == expected


def test_a_named_screen_reads_its_config() -> None:
    screen = resolve_screen(SCREENS, "lobby")
    assert screen.known and screen.name == "lobby" and screen.notes == ()
    assert screen.tags == ("manufacturing", "dayton")
    assert screen.interval == 12.0 and screen.orientation == "portrait"
    assert screen.kinds == KINDS and screen.hours is None and screen.group is None


def test_query_overrides_win_over_the_config() -> None:
    screen = resolve_screen(SCREENS, "lobby", tags="Payroll, payroll,,", interval="30")
    assert screen.tags == ("payroll",) and screen.interval == 30.0


def test_tags_and_interval_work_without_a_screen() -> None:
    screen = resolve_screen(SCREENS, "", tags="a,b", interval="5", hours="08:00-17:00")
    assert not screen.known and screen.notes == ()
    assert screen.tags == ("a", "b") and screen.interval == 5.0
    assert screen.hours == ("08:00", "17:00")


def test_an_unknown_screen_shows_everything_and_says_so() -> None:
    screen = resolve_screen(SCREENS, "lobyy")
    assert not screen.known and screen.tags == () and screen.interval is None
    assert any("no screen called 'lobyy'" in note for note in screen.notes)


def test_a_screen_that_is_not_a_table_is_unknown() -> None:
    screen = resolve_screen(SCREENS, "broken")
    assert not screen.known and screen.notes


def test_a_bad_screen_name_is_ignored() -> None:
    screen = resolve_screen(SCREENS, '"><script>')
    assert screen.name == "" and not screen.known
    assert any("screen name ignored" in note for note in screen.notes)


@pytest.mark.parametrize("bad", ["0", "-3", "NaN", "soon", "-inf"])
def test_a_bad_interval_falls_back_and_says_so(bad: str) -> None:
    screen = resolve_screen(SCREENS, "lobby", interval=bad)
    assert screen.interval == 12.0  # the screen's own
    assert any(bad in note for note in screen.notes)
    assert resolve_screen({}, interval=bad).interval is None  # each story's own time


def test_a_huge_interval_is_capped() -> None:
    assert resolve_screen({}, interval="86400").interval == INTERVAL_BOUNDS[1]


def test_bad_config_values_fall_back_and_say_so() -> None:
    screen = resolve_screen(SCREENS, "atrium")
    assert screen.interval is None and screen.orientation == "auto"
    assert any("'soon'" in note for note in screen.notes)
    assert any("'sideways'" in note for note in screen.notes)


def test_kinds_are_limited_to_known_ones() -> None:
    assert resolve_screen(SCREENS, "cafe").kinds == ("thank-you",)


def test_bad_hours_are_ignored_and_said() -> None:
    screen = resolve_screen(SCREENS, "cafe", hours="all day")
    assert screen.hours is None
    assert any("all day" in note for note in screen.notes)
    assert resolve_screen(SCREENS, "cafe").hours == ("07:00", "19:00")


def test_screens_of_a_group_know_their_place_in_it() -> None:
    places = {name: resolve_screen(SCREENS, name) for name in ("atrium", "cafe", "door")}
    assert {s.group for s in places.values()} == {"ground"}
    assert [places[n].group_index for n in ("atrium", "cafe", "door")] == [0, 1, 2]
    assert all(s.group_size == 3 for s in places.values())
    assert resolve_screen(SCREENS, "lobby").group_size == 1


def test_screens_as_json_round_trip() -> None:
    data = resolve_screen(SCREENS, "cafe").as_json()
    assert data["hours"] == ["07:00", "19:00"] and data["group"] == "ground"
    assert data["kinds"] == ["thank-you"] and data["known"] is True


# -- how every screen looks: the deployment's theme ---------------------------------


def test_without_a_theme_the_kiosk_gets_an_empty_stylesheet(client) -> None:
    response = client.get("/kiosk/theme/theme.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "kiosk/theme/theme.css" in client.get("/kiosk").get_data(as_text=True)


def test_a_theme_and_its_files_come_from_the_instance_folder(client, instance) -> None:
    theme = instance / "kiosk-theme"
    theme.mkdir(parents=True)
    (theme / "theme.css").write_text(":root { --wall-bg: #000; }")
    (theme / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (instance / "config.toml").write_text("secret = 1\n")
    with client.get("/kiosk/theme/theme.css") as response:
        assert b"--wall-bg" in response.data
    with client.get("/kiosk/theme/logo.svg") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    for escape in ["../config.toml", "..%2fconfig.toml", "/etc/passwd", "../secret_key"]:
        response = client.get(f"/kiosk/theme/{escape}", follow_redirects=True)
        assert response.status_code == 404, escape


def test_a_screen_knows_the_teams_on_its_floor() -> None:
    from wall.teams import parse_teams

    teams = parse_teams(
        {
            "night": {"name": "the night shift", "screens": ["lobby"]},
            "atrium-team": {"name": "Atrium", "group": "ground"},
        }
    )
    assert resolve_screen(SCREENS, "lobby", teams=teams).teams == ("night",)
    assert resolve_screen(SCREENS, "atrium", teams=teams).teams == ("atrium-team",)
    assert resolve_screen(SCREENS, "lobby").teams == ()
    assert resolve_screen(SCREENS, "lobby", teams=teams).as_json()["teams"] == ["night"]
