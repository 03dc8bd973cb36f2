"""The storywall command: check, new, and settings from the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from wall.cli import main
from wall.index import StoryIndex
from wall.settings import SETTINGS, load_settings


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_check_passes_a_clean_folder(stories, write_story) -> None:
    write_story("maria")
    result = run("check", str(stories))
    assert result.exit_code == 0
    assert "1 stories, 1 on hallway screens, 0 problems" in result.output
    assert "consent: 1 recorded by staff" in result.output


def test_check_says_which_consent_each_story_has(stories, write_story) -> None:
    write_story("maria")
    write_story("dev", name="Dev Patel", consent=None)
    result = run("check", "--consent", str(stories))
    assert "dev: consent none\n" in result.output
    assert "maria: consent recorded by staff\n" in result.output
    assert "consent: 1 none, 1 recorded by staff" in result.output


def test_check_names_each_bad_file_with_line_and_field(stories, write_story) -> None:
    write_story("maria")
    write_story("dev", single=True, date="2026-02-30")
    (stories / "broken.md").write_text("---\nname: Maria\nrole: [DBA\n---\n")
    result = run("check", str(stories))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{stories}/dev.md:7: date: must be a date like 2026-10-14, not '2026-02-30'" in lines
    assert any(line.startswith(f"{stories}/broken.md:") and "YAML" in line for line in lines)


def test_check_uses_the_stories_folder_from_the_environment(stories, write_story) -> None:
    (stories / "broken.md").write_text("no front matter")
    result = run("check", env={"WALL_STORIES_DIR": str(stories)})
    assert result.exit_code == 1 and "broken.md:1: no front matter" in result.output


def test_check_reads_the_instance_config(tmp_path, stories) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.toml").write_text(f'stories_dir = "{stories}"\n')
    (stories / "broken.md").write_text("")
    result = run("--instance", str(instance), "check")
    assert result.exit_code == 1 and "broken.md:1: the file is empty" in result.output
    result = run("check", env={"WALL_INSTANCE_PATH": str(instance)})
    assert result.exit_code == 1


def test_check_refuses_a_missing_folder(tmp_path) -> None:
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "no stories folder" in result.output


def test_new_scaffolds_a_valid_pending_bundle(stories) -> None:
    result = run("new", "María Alvarez", "--stories", str(stories))
    assert result.exit_code == 0
    path = stories / "maria-alvarez" / "index.md"
    assert path.exists()
    index = StoryIndex(stories)
    index.load()
    story = index.get("maria-alvarez")
    assert story is not None and story.name == "María Alvarez"
    assert index.problems() == []
    assert story.status == "pending" and story.consent is None  # nothing shows until consented
    assert run("check", str(stories)).exit_code == 0


def test_new_never_reuses_a_slug(stories) -> None:
    run("new", "Maria Alvarez", "--stories", str(stories))
    run("new", "Maria Alvarez", "--stories", str(stories))
    assert (stories / "maria-alvarez-2" / "index.md").exists()


def test_new_survives_yaml_special_characters(stories) -> None:
    run("new", 'Ren "#1": O\'Neil', "--stories", str(stories))
    index = StoryIndex(stories)
    index.load()
    assert [s.name for s in index.stories()] == ['Ren "#1": O\'Neil']


def test_settings_layering(tmp_path) -> None:
    (tmp_path / "config.toml").write_text('site_name = "From file"\nslide_min_seconds = 5\n')
    env = {"WALL_INSTANCE_PATH": str(tmp_path), "WALL_SLIDE_MIN_SECONDS": "6"}
    settings = load_settings({}, environ=env)
    assert settings["SITE_NAME"] == "From file"
    assert settings["SLIDE_MIN_SECONDS"] == 6  # the environment wins over the file
    assert load_settings({"SLIDE_MIN_SECONDS": 7}, environ=env)["SLIDE_MIN_SECONDS"] == 7


def test_every_setting_is_in_the_readme() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing, f"settings missing from the README table: {missing}"


def test_python_dash_m_wall_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wall", "--help"], capture_output=True, text=True, check=True
    )
    assert "serve" in result.stdout and "check" in result.stdout


def test_a_database_that_does_not_answer_is_named_in_one_line(tmp_path: Path) -> None:
    from tests.support import free_port

    # Nobody listens on this port: as a PostgreSQL server that is down or mistyped.
    url = f"postgresql://wall:hunter2secret@127.0.0.1:{free_port()}/wall"
    env = {"WALL_INSTANCE_PATH": str(tmp_path / "instance"), "WALL_DATABASE_URL": url}
    for command in (("db", "status"), ("db", "upgrade"), ("serve", "--port", "1")):
        result = CliRunner().invoke(main, list(command), env=env)
        assert result.exit_code == 1, (command, result.output)
        assert "cannot open the database (WALL_DATABASE_URL): connection failed" in result.output
        assert "hunter2secret" not in result.output  # the password is never echoed
        assert "Traceback" not in result.output and "sqlalche.me" not in result.output
