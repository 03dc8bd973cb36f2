"""The `storywall` command: serve the wall, check stories, start a new one."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import click

from .files import write_atomic
from .index import StoryIndex
from .settings import load_settings
from .stories import slugify


def _settings(**overrides: object) -> dict[str, object]:
    return load_settings({k: v for k, v in overrides.items() if v is not None})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--instance",
    "instance",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="WALL_INSTANCE_PATH",
    help="Instance folder (SQLite, caches, config.toml). [env: WALL_INSTANCE_PATH]",
)
@click.pass_context
def main(ctx: click.Context, instance: Path | None) -> None:
    """Story Wall: customer stories for hallway TVs and the intranet."""
    ctx.obj = {"INSTANCE_PATH": str(instance) if instance else None}


@main.command()
@click.option(
    "--stories",
    type=click.Path(file_okay=False, path_type=Path),
    help="Stories folder. [env: WALL_STORIES_DIR]",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="WALL_HOST",
    help="Address to listen on. [env: WALL_HOST]",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=int,
    envvar="WALL_PORT",
    help="Port to listen on. [env: WALL_PORT]",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    envvar="WALL_WORKERS",
    help="Worker processes. [env: WALL_WORKERS]",
)
@click.option(
    "--threads",
    default=64,
    show_default=True,
    type=click.IntRange(1, 10000),
    envvar="WALL_THREADS",
    help="Threads per worker; each open kiosk event stream holds one. [env: WALL_THREADS]",
)
@click.pass_obj
def serve(
    obj: dict, stories: Path | None, host: str, port: int, workers: int, threads: int
) -> None:
    """Serve the wall with gunicorn."""
    from .server import serve as run_server

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(**obj, STORIES_DIR=str(stories) if stories else None)
    run_server(settings, host=host, port=port, workers=workers, threads=threads)


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def check(obj: dict, folder: Path | None) -> None:
    """Validate every story in FOLDER (default: the stories folder); exit 1 on any problem."""
    settings = _settings(**obj)
    root = folder or Path(str(settings["STORIES_DIR"]))
    if not root.is_dir():
        raise click.ClickException(f"no stories folder at {root}")
    logging.getLogger("wall").setLevel(logging.ERROR)  # problems are printed below, once
    index = StoryIndex(root)
    index.rescan()
    problems = index.problems()
    for problem in problems:
        click.echo(str(_relative(problem)))
    stories = index.stories()
    today = dt.date.today()
    on_screen = sum(1 for s in stories if s.is_visible("hallway", today))
    click.echo(
        f"{len(stories)} stories, {on_screen} on hallway screens, {len(problems)} problems",
        err=True,
    )
    sys.exit(1 if problems else 0)


def _relative(problem):  # type: ignore[no-untyped-def]
    try:
        path = problem.path.relative_to(Path.cwd())
    except ValueError:
        return problem
    return type(problem)(path, problem.message, problem.line, problem.field)


NEW_STORY = """\
---
name: {name}
role: {role}
company: {company}
location:
title:
quote: {quote}
photo_alt:
kind: story
tags: []
date: {today}
status: pending
# Nothing is shown anywhere until the customer's consent is recorded here:
# consent:
#   given_by: {name}
#   date: {today}
#   scope: [hallway, intranet]
#   expires: {next_year}
submitted_by:
---
Tell the story here, in Markdown: who {first} is, what happened, and what
changed for them.
"""


@main.command()
@click.argument("name")
@click.option("--role", default="Role", help="The customer's job.")
@click.option("--company", default="Company", help="Where they work.")
@click.option(
    "--stories",
    type=click.Path(file_okay=False, path_type=Path),
    help="Stories folder. [env: WALL_STORIES_DIR]",
)
@click.pass_obj
def new(obj: dict, name: str, role: str, company: str, stories: Path | None) -> None:
    """Create a story bundle for NAME, waiting for its text, photo and consent."""
    settings = _settings(**obj, STORIES_DIR=str(stories) if stories else None)
    root = Path(str(settings["STORIES_DIR"]))
    root.mkdir(parents=True, exist_ok=True)
    base = slugify(name)
    for n in range(1, 1000):
        slug = base if n == 1 else f"{base}-{n}"
        folder = root / slug
        try:
            folder.mkdir()  # atomic: never reuses another story's folder
        except FileExistsError:
            continue
        if (root / f"{slug}.md").exists():
            folder.rmdir()
            continue
        break
    else:
        raise click.ClickException(f"too many stories named {base}")
    today = dt.date.today()
    text = NEW_STORY.format(
        name=_yaml_text(name),
        role=_yaml_text(role),
        company=_yaml_text(company),
        quote='""',
        today=today.isoformat(),
        next_year=(today + dt.timedelta(days=365)).isoformat(),
        first=name.split()[0] if name.split() else name,
    )
    write_atomic(folder / "index.md", text.encode("utf-8"))
    click.echo(f"created {folder / 'index.md'}")
    click.echo("next: add a photo beside it, write the story, record consent, then approve it.")


def _yaml_text(value: str) -> str:
    import json

    # A JSON string is a valid YAML scalar, whatever the name contains.
    return json.dumps(" ".join(value.split()), ensure_ascii=False)
