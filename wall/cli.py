"""The `storywall` command: serve the wall, check stories, start a new one."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections import Counter
from pathlib import Path

import click

from .core import Wall
from .files import write_atomic
from .folder import BUNDLE_INDEX, StoryFolder
from .settings import Settings, SettingsError, load_settings
from .storage import SlugTaken, claim_slug
from .stories import slugify


def _settings(**overrides: object) -> Settings:
    """Every setting; a bad one stops the command with one line saying which and why."""
    try:
        return load_settings({k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


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
    default=600,
    show_default=True,
    type=click.IntRange(1, 10000),
    envvar="WALL_THREADS",
    help="Threads per worker; each open kiosk event stream holds one. [env: WALL_THREADS]",
)
@click.option(
    "--worker-class",
    type=click.Choice(["gthread", "gevent"]),
    default="gthread",
    show_default=True,
    envvar="WALL_WORKER_CLASS",
    help="gunicorn worker class. gevent needs the gevent package; see docs/deploy.md "
    "for the measurements behind the default. [env: WALL_WORKER_CLASS]",
)
@click.pass_obj
def serve(
    obj: dict,
    stories: Path | None,
    host: str,
    port: int,
    workers: int,
    threads: int,
    worker_class: str,
) -> None:
    """Serve the wall with gunicorn."""
    from .server import serve as run_server

    logging.basicConfig(
        level=logging.INFO,
        format='time="%(asctime)s" level=%(levelname)s logger=%(name)s msg="%(message)s"',
    )
    settings = _settings(**obj, STORIES_DIR=str(stories) if stories else None)
    _open_database(settings).close()  # made when new; an old one stops us here, saying why
    run_server(
        settings, host=host, port=port, workers=workers, threads=threads, worker_class=worker_class
    )


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--consent",
    "list_consent",
    is_flag=True,
    help="Also list, for every story, which consent it has: the customer's own, "
    "recorded by staff, or none.",
)
@click.pass_obj
def check(obj: dict, folder: Path | None, list_consent: bool) -> None:
    """Validate every story in FOLDER (default: the stories folder); exit 1 on any problem."""
    settings = _settings(**obj, STORIES_DIR=str(folder) if folder else None, WATCH="off")
    root = settings.stories_dir
    if not root.is_dir():
        raise click.ClickException(f"no stories folder at {root.absolute()}")
    logging.getLogger("wall").setLevel(logging.ERROR)  # problems are printed below, once
    index = Wall.from_settings(settings).index
    index.rescan()
    problems = index.problems()
    for problem in problems:
        click.echo(str(_relative(problem)))
    stories = index.stories()
    today = dt.date.today()
    if list_consent:
        for story in sorted(stories, key=lambda s: s.slug):
            click.echo(f"{story.slug}: consent {story.consent_kind}")
    on_screen = sum(1 for s in stories if index.is_visible(s, "hallway", today))
    kinds = Counter(s.consent_kind for s in stories)
    by_kind = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    click.echo(
        f"{len(stories)} stories, {on_screen} on hallway screens, {len(problems)} problems; "
        f"consent: {by_kind or 'none'}",
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
    folder = StoryFolder(settings.stories_dir)
    folder.root.mkdir(parents=True, exist_ok=True)
    try:
        slug = claim_slug(folder, slugify(name) or "story")  # never reuses another story's slug
    except SlugTaken as exc:
        raise click.ClickException(exc.message) from None
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
    source = folder.bundle(slug) / BUNDLE_INDEX
    write_atomic(source, text.encode("utf-8"))
    click.echo(f"created {source}")
    click.echo("next: add a photo beside it, write the story, record consent, then approve it.")


def _yaml_text(value: str) -> str:
    import json

    # A JSON string is a valid YAML scalar, whatever the name contains.
    return json.dumps(" ".join(value.split()), ensure_ascii=False)


# -- moderator accounts ----------------------------------------------------------------------

PASSWORD_MIN_CHARS = 12


def _database_target(settings: Settings) -> str | Path:
    from .db import DATABASE_FILE

    return settings["DATABASE_URL"] or Path(str(settings["INSTANCE_PATH"])) / DATABASE_FILE


def _open_database(settings: Settings, *, upgrade: bool = False):  # type: ignore[no-untyped-def]
    """The wall's database; a clear one-line error when it is behind or cannot be reached."""
    from .db import DATABASE_TROUBLE, Database, NeedsUpgrade

    target = _database_target(settings)
    try:
        return Database(target, upgrade=upgrade)
    except NeedsUpgrade as exc:
        raise click.ClickException(str(exc)) from None
    except DATABASE_TROUBLE as exc:
        raise _cannot_open(target, exc) from None


def _cannot_open(target: object, error: BaseException) -> click.ClickException:
    """One line on why the database cannot be opened: the driver's words, never the URL
    (it may hold a password)."""
    cause = getattr(error, "orig", None) or error
    where = target if isinstance(target, Path) else "WALL_DATABASE_URL"
    return click.ClickException(f"cannot open the database ({where}): {cause}")


def _instance(obj: dict) -> Path:
    return Path(str(_settings(**obj)["INSTANCE_PATH"]))  # absolute: load_settings makes it so


def _database(obj: dict):  # type: ignore[no-untyped-def]
    """The wall's database, created (with its folder) if need be: for commands that write."""
    return _open_database(_settings(**obj))


def _existing_database(obj: dict, *, read_only: bool = True):  # type: ignore[no-untyped-def]
    """The instance's database if there is one, else None; never creates either.

    A command run from the wrong folder must say so, not leave an empty
    instance folder there and report that nothing exists.
    """
    from .db import DATABASE_FILE, DATABASE_TROUBLE, Database, NeedsUpgrade

    settings = _settings(**obj)
    try:
        if settings["DATABASE_URL"]:
            return Database.existing(settings["DATABASE_URL"], read_only=read_only)
    except FileNotFoundError:
        return None
    except (NeedsUpgrade, *DATABASE_TROUBLE) as exc:
        raise click.ClickException(f"cannot use the database: {exc}") from None
    instance = _instance(obj)
    if not instance.is_dir():
        raise click.ClickException(
            f"no instance folder at {instance}; set --instance or WALL_INSTANCE_PATH"
        )
    try:
        return Database.existing(instance / DATABASE_FILE, read_only=read_only)
    except FileNotFoundError:
        return None


def _check_user_name(name: str) -> str:
    from .accounts import USER_NAME_RE

    if not USER_NAME_RE.match(name):
        raise click.BadParameter(
            "use letters, digits and . _ @ + - (up to 64), starting with a letter or digit",
            param_hint="NAME",
        )
    return name


def _ask_password() -> str:
    password = click.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password", err=True
    )
    if len(password) < PASSWORD_MIN_CHARS:
        raise click.ClickException(
            f"use at least {PASSWORD_MIN_CHARS} characters; a short sentence works well"
        )
    return password


@main.group()
def user() -> None:
    """Moderator accounts: who may approve, edit and delete stories at /admin."""


@user.command("add")
@click.argument("name")
@click.option(
    "--reset", is_flag=True, help="Set a new password for an existing account (signs it out)."
)
@click.option(
    "--sso",
    is_flag=True,
    help="No password: the account signs in only through the single sign-on header.",
)
@click.option(
    "--email",
    help="Where this moderator's notifications go; they choose which at /admin/settings.",
)
@click.pass_obj
def user_add(obj: dict, name: str, reset: bool, sso: bool, email: str | None) -> None:
    """Create the moderator account NAME; asks for its password twice."""
    from werkzeug.security import generate_password_hash

    from .teams import EMAIL_RE

    _check_user_name(name)
    if email is not None and email.strip() and not EMAIL_RE.match(email.strip()):
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="--email")
    instance = _instance(obj)
    new_instance = not instance.is_dir()
    db = _database(obj)
    try:
        exists = db.get_user(name) is not None
        if exists and email is not None and not reset and not sso:
            db.set_user_email(name, email.strip())
            click.echo(f"notifications for {name} go to {email.strip() or 'nobody'}")
            return
        if exists and not reset:
            raise click.ClickException(
                f"{name} already exists; `storywall user add {name} --reset` sets a new password"
            )
        if reset and not exists:
            raise click.ClickException(f"there is no moderator called {name}")
        # '!' is never the result of a hash: no password can match it.
        password_hash = "!sso" if sso else generate_password_hash(_ask_password())
        if reset:
            db.set_password(name, password_hash)
            click.echo(f"new password for {name}; their sessions are signed out")
        else:
            db.add_user(name, password_hash)
            click.echo(
                f"added moderator {name} in {instance}" + (" (single sign-on only)" if sso else "")
            )
        if email is not None:
            db.set_user_email(name, email.strip())
        if new_instance:
            click.echo(f"(created the instance folder {instance})", err=True)
    finally:
        db.close()  # checkpoints the database now: a command leaves nothing to write later


@user.command("list")
@click.pass_obj
def user_list(obj: dict) -> None:
    """List the moderator accounts."""
    db = _existing_database(obj)
    rows = db.users() if db is not None else []
    if db is not None:
        db.close()
    if not rows:
        click.echo(
            f"no moderators yet in {_instance(obj)}; add one with `storywall user add NAME`",
            err=True,
        )
    for row in rows:
        created = dt.datetime.fromtimestamp(row["created_at"]).strftime("%Y-%m-%d")
        session = (
            "signed in since "
            + dt.datetime.fromtimestamp(row["last_login"]).strftime("%Y-%m-%d %H:%M")
            if row["last_login"]
            else "not signed in"
        )
        kind = "single sign-on" if row["password_hash"].startswith("!") else "password"
        click.echo(f"{row['name']}\t{kind}\tadded {created}\t{session}")


@user.command("remove")
@click.argument("name")
@click.pass_obj
def user_remove(obj: dict, name: str) -> None:
    """Remove the moderator account NAME and sign it out everywhere."""
    db = _existing_database(obj, read_only=False)
    removed = db is not None and db.remove_user(name)
    if db is not None:
        db.close()
    if not removed:
        raise click.ClickException(f"there is no moderator called {name}")
    click.echo(f"removed moderator {name}")


# -- the database's schema ---------------------------------------------------------------------


def _database_as_it_is(settings: Settings):  # type: ignore[no-untyped-def]
    """The database, neither made nor checked against this release; None if there is none."""
    from .db import DATABASE_TROUBLE, Database

    target = _database_target(settings)
    try:
        return Database(target, mode="rw")
    except FileNotFoundError:
        return None
    except DATABASE_TROUBLE as exc:
        raise _cannot_open(target, exc) from None


@main.group()
def db() -> None:
    """See and upgrade the database's schema (SQLite, or WALL_DATABASE_URL)."""


@db.command("status")
@click.pass_obj
def db_status(obj: dict) -> None:
    """Say which schema revision the database is at; exit 1 when it needs an upgrade."""
    database = _database_as_it_is(_settings(**obj))
    if database is None:
        raise click.ClickException("no database yet: `storywall serve` makes one")
    status = database.status()
    database.close()
    click.echo(f"database:  {status['database']} ({status['engine']})")
    click.echo(f"revision:  {status['revision'] or 'none (made before 0.2)'}")
    click.echo(f"needed:    {status['head']}")
    if not status["up_to_date"]:
        click.echo("run `storywall db upgrade` (back the database up first)")
        sys.exit(1)
    click.echo("up to date")


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: dict) -> None:
    """Bring the database's schema up to this release, keeping every row."""
    settings = _settings(**obj)
    database = _database_as_it_is(settings)
    if database is None:  # nothing to upgrade: made new, at this release's revision
        database = _open_database(settings)
        click.echo(f"made a new database at {database.where}, revision {database.revision()}")
        database.close()
        return
    before, after = database.upgrade()
    database.close()
    if before == after:
        click.echo(f"{database.where} is up to date (revision {after})")
    else:
        click.echo(f"upgraded {database.where} from {before or 'before 0.2'} to revision {after}")


# -- notifications ---------------------------------------------------------------------------


@main.command()
@click.option(
    "--stories",
    type=click.Path(file_okay=False, path_type=Path),
    help="Stories folder. [env: WALL_STORIES_DIR]",
)
@click.option(
    "--period",
    type=click.Choice(["month", "quarter", "year"]),
    default="quarter",
    show_default=True,
    help="This month, quarter or year, next to the one before.",
)
@click.option("--from", "first", help="First day of a custom period, YYYY-MM-DD (with --to).")
@click.option("--to", "last", help="Last day of a custom period, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON, for scripts.")
@click.option("--csv", "as_csv", is_flag=True, help="Every figure as CSV rows, for spreadsheets.")
@click.pass_obj
def stats(
    obj: dict,
    stories: Path | None,
    period: str,
    first: str | None,
    last: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Print the impact figures: on the walls, shown, submitted, consent."""
    import csv
    import json

    from .impact import PeriodError

    if _existing_database(obj) is None:
        raise click.ClickException(
            f"no database in {_instance(obj)} yet: start the wall, and the figures "
            "come with the first heartbeats"
        )
    settings = _settings(**obj, STORIES_DIR=str(stories) if stories else None)
    wall = Wall.from_settings(settings)
    wall.index.load()
    # Old days fold into months here too, for a wall whose screens were off today.
    wall.db.fold_display_days(int(settings["IMPACT_RETENTION_DAYS"]))
    try:
        chosen = wall.impact.period("custom" if first or last else period, first or "", last or "")
    except PeriodError as exc:
        raise click.ClickException(str(exc)) from None
    report = wall.impact.report(chosen)
    wall.db.close()
    if as_json:
        click.echo(json.dumps(report.headline(), indent=2, ensure_ascii=False))
        return
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["figure", "label", chosen.label, report.previous.label, "unit"])
        for key, figure in report.figures.items():
            out.writerow([key, figure.label, _plain(figure.value), _plain(figure.before),
                          figure.unit])  # fmt: skip
        return
    click.echo(f"{chosen.label} ({chosen.first} to {chosen.last}), next to {report.previous.label}")
    width = max(len(f.label) for f in report.figures.values())
    for figure in report.figures.values():
        before = "" if figure.before is None else f"  ({_plain(figure.before)} before)"
        unit = f" {figure.unit}" if figure.unit else ""
        value = _plain(figure.value) or "none"
        click.echo(f"  {figure.label:<{width}}  {value:>8}{unit}{before}")


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else f"{value:.0f}"


@main.group()
def notify() -> None:
    """Notifications by email and webhook (SMTP_* and WEBHOOK_* settings)."""


@notify.command("test")
@click.option("--to", "to", help="Send the test email to this address.")
@click.pass_obj
def notify_test(obj: dict, to: str | None) -> None:
    """Send a test email and a test webhook now, and say what went wrong if one fails."""
    from .notify import Notifier, NotifyConfig

    settings = _settings(**obj)
    config = NotifyConfig.from_settings(settings)
    if not config.configured:
        raise click.ClickException(
            "notifications are off: set SMTP_HOST and SMTP_FROM for email, and WEBHOOK_URLS "
            "and WEBHOOK_SECRET for webhooks (see docs/notifications.md)"
        )
    # No database: a test is sent directly, never queued, and leaves nothing behind.
    notifier = Notifier(None, config)
    failed = 0
    for channel, target, error in notifier.send_test(to):
        if error is None:
            click.echo(f"{channel} to {target}: sent")
        else:
            failed += 1
            click.echo(f"{channel} to {target}: failed: {error}")
    if not config.email_on:
        click.echo("email: off (no SMTP_HOST)", err=True)
    if not config.webhooks_on:
        click.echo("webhooks: off (no WEBHOOK_URLS)", err=True)
    sys.exit(1 if failed else 0)


# -- photos ----------------------------------------------------------------------------------


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    help="Photos worked on at once. [default: the number of CPU cores]",
)
@click.pass_obj
def photos(obj: dict, folder: Path | None, jobs: int | None) -> None:
    """Make every rendition of every story photo in FOLDER (default: the stories folder).

    Run it after adding many photos, so that no screen waits for the first
    rendition. Problem photos are listed as `path: message`; exit 1 if any.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .photos import PhotoError

    settings = _settings(**obj, STORIES_DIR=str(folder) if folder else None, WATCH="off")
    root = settings.stories_dir
    if not root.is_dir():
        raise click.ClickException(f"no stories folder at {root.absolute()}")
    logging.getLogger("wall").setLevel(logging.ERROR)  # problems are printed below, once
    wall = Wall.from_settings(settings)
    wall.load()
    missing = [p for p in wall.index.problems() if p.field == "photo"]
    sources = sorted({s.photo for s in wall.index.stories() if s.photo is not None})

    def prepare(source: Path) -> str | None:
        try:
            wall.photos.prepare(source)
        except (PhotoError, OSError) as exc:
            return f"{_shown(source)}: {exc}"
        return None

    # Pillow lets go of the GIL while it decodes, shrinks and encodes: threads use every core.
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        failed = [message for message in pool.map(prepare, sources) if message]
    for problem in missing:
        click.echo(str(_relative(problem)))
    for message in failed:
        click.echo(message)
    problems = len(missing) + len(failed)
    click.echo(
        f"{len(sources)} photos, {wall.photos.made} renditions made, {problems} problems",
        err=True,
    )
    sys.exit(1 if problems else 0)


def _shown(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
