"""Settings are parsed once, at start-up, into their types; a bad one stops with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wall import create_app
from wall.settings import SettingsError, load_settings


def test_values_from_the_environment_and_the_file_are_typed(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('page_size = "24"\nsubmit_requires_login = "yes"\n')
    env = {"WALL_INSTANCE_PATH": str(tmp_path), "WALL_SLIDE_MAX_SECONDS": "45"}
    settings = load_settings({}, environ=env)
    assert settings["PAGE_SIZE"] == 24
    assert settings["SUBMIT_REQUIRES_LOGIN"] is True
    assert settings["SLIDE_MAX_SECONDS"] == 45
    assert settings.instance_path == tmp_path


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("WALL_PAGE_SIZE", "lots", "WALL_PAGE_SIZE: must be a whole number from 1 to 500"),
        ("WALL_PAGE_SIZE", "0", "from 1 to 500, not 0"),
        ("WALL_WATCH", "sometimes", "must be one of auto, poll, off"),
        ("WALL_RELOAD_AT", "25:00", "must be a time like 03:30"),
        ("WALL_LOGIN_RATE_LIMIT", "many", "must be a rate like 10/minute"),
        ("WALL_TRUSTED_PROXIES", "10.0.0.0/8, not-an-address", "'not-an-address' is not an"),
        ("WALL_PUBLIC_URL", "wall.example.com", "must be an http(s) URL"),
        ("WALL_SUBMIT_REQUIRES_LOGIN", "perhaps", "must be true or false"),
    ],
)
def test_a_bad_value_names_the_setting_and_what_it_must_be(
    tmp_path: Path, name: str, value: str, words: str
) -> None:
    env = {"WALL_INSTANCE_PATH": str(tmp_path), name: value}
    with pytest.raises(SettingsError, match="bad setting") as refused:
        load_settings({}, environ=env)
    assert words in str(refused.value)


def test_a_bad_value_in_config_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("page_size = -3\n")
    with pytest.raises(SettingsError) as refused:
        load_settings({}, environ={"WALL_INSTANCE_PATH": str(tmp_path)})
    assert f"page_size in {tmp_path / 'config.toml'}" in str(refused.value)


def test_a_config_toml_that_is_not_toml_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("page_size = = 3\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({}, environ={"WALL_INSTANCE_PATH": str(tmp_path)})


def test_slide_bounds_must_be_in_order(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SLIDE_MIN_SECONDS"):
        load_settings({"SLIDE_MIN_SECONDS": 40, "SLIDE_MAX_SECONDS": 10}, environ={})


def test_create_app_with_a_test_config_does_not_read_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WALL_PAGE_SIZE", "not a number")  # would stop a real start
    monkeypatch.setenv("WALL_SITE_NAME", "From the environment")
    app = create_app(
        {
            "STORIES_DIR": str(tmp_path / "stories"),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "WATCH": "off",
        }
    )
    assert app.config["SITE_NAME"] == "Story Wall"
    assert app.config["PAGE_SIZE"] == 48


def test_serve_with_a_bad_setting_stops_at_once_with_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "WALL_INSTANCE_PATH": str(tmp_path / "instance"),
        "WALL_PAGE_SIZE": "lots",
    }
    done = subprocess.run(
        [sys.executable, "-m", "wall", "serve", "--stories", str(tmp_path), "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "WALL_PAGE_SIZE: must be a whole number" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
