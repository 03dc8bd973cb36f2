"""The wall as one process sees it: the story index, its watcher, the photo cache,
the database, the moderation service that changes stories, and the notifier
that tells people about it.

`Wall.from_settings()` is the one constructor: the web app, `storywall check`,
`photos` and `user` all build the wall the same way.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from .accounts import Accounts
from .consent import ConsentTerms, CustomerConsent
from .db import DATABASE_FILE, Database
from .impact import Impact
from .index import StoryIndex
from .moderation import Moderation
from .notify import Notifier, NotifyConfig
from .parsing import DEFAULT_LIMITS, StoryLimits
from .photos import PhotoCache
from .settings import Settings
from .teams import Team
from .thanks import ThankYous
from .warming import PhotoWarmer
from .watcher import StoryWatcher

log = logging.getLogger(__name__)


class Wall:
    """Everything a worker needs to serve the stories, with no web framework in sight."""

    def __init__(
        self,
        stories_dir: Path,
        instance_dir: Path,
        *,
        watch: str = "auto",
        rescan_every: float = 300.0,
        poll_seconds: float = 1.0,
        max_pixels: int = 50_000_000,
        limits: StoryLimits = DEFAULT_LIMITS,
        customer_only: bool = False,
        consent_terms: ConsentTerms | None = None,
        notify: NotifyConfig | None = None,
        teams: Mapping[str, Team] | None = None,
        thanks_daily_cap: int = 50,
        impact_stale_days: int = 90,
        screen_stale_seconds: float = 180.0,
        database_url: str = "",
    ) -> None:
        # Empty: SQLite in the instance folder, this server's alone.
        self.database_url = database_url
        self.impact_stale_days = impact_stale_days
        self.screen_stale_seconds = screen_stale_seconds
        self.consent_terms = consent_terms or ConsentTerms()
        self.notify_config = notify or NotifyConfig()
        self.teams = dict(teams or {})
        self.thanks_daily_cap = thanks_daily_cap
        self._sending_pid: int | None = None
        self.index = StoryIndex(
            Path(stories_dir).absolute(), limits=limits, customer_only=customer_only
        )
        self.instance_dir = Path(instance_dir)
        self.photos = PhotoCache(Path(instance_dir) / "renditions", max_pixels=max_pixels)
        self.watch = watch
        self.rescan_every = rescan_every
        self.poll_seconds = poll_seconds
        self.watcher: StoryWatcher | None = None
        self._watching_pid: int | None = None
        self._listening: tuple[int, threading.Event] | None = None
        self._loaded_pid: int | None = None
        self._guard = threading.Lock()
        # Whether this process still serves; gunicorn's worker tells us when it stops.
        self.serving: Callable[[], bool] = lambda: not self._stopped
        self._stopped = False

    @classmethod
    def from_settings(cls, settings: Settings | Mapping[str, Any]) -> Wall:
        return cls(
            Path(settings["STORIES_DIR"]),
            Path(settings["INSTANCE_PATH"]),
            watch=str(settings["WATCH"]),
            rescan_every=float(settings["RESCAN_SECONDS"]),
            poll_seconds=float(settings.get("POLL_SECONDS", 1.0)),
            max_pixels=int(settings["MAX_PHOTO_PIXELS"]),
            limits=settings.story_limits if isinstance(settings, Settings) else DEFAULT_LIMITS,
            customer_only=bool(settings.get("CONSENT_CUSTOMER_ONLY")),
            consent_terms=ConsentTerms(
                link_days=int(settings["CONSENT_LINK_DAYS"]),
                default_days=int(settings["CONSENT_DEFAULT_DAYS"]),
                max_days=int(settings["CONSENT_MAX_DAYS"]),
                statement=str(settings["CONSENT_STATEMENT"]).strip(),
                expiring_days=int(settings["CONSENT_EXPIRING_DAYS"]),
            ),
            notify=NotifyConfig.from_settings(settings),
            teams=settings.get("TEAMS") or {},
            thanks_daily_cap=int(settings.get("THANKS_DAILY_CAP", 50)),
            impact_stale_days=int(settings.get("IMPACT_STALE_DAYS", 90)),
            screen_stale_seconds=float(settings.get("SCREEN_STALE_SECONDS", 180)),
            database_url=str(settings.get("DATABASE_URL") or ""),
        )

    @cached_property
    def db(self) -> Database:
        """The wall's database, opened (and, when new, made) on first use: PostgreSQL
        shared by every server, or SQLite in this server's instance folder."""
        return Database(self.database_url or self.instance_dir / DATABASE_FILE)

    def session_secret(self) -> str:
        """The key that signs sessions: made once and kept in the database, so every
        worker and every server of the wall signs alike, and sessions survive restarts."""

        def make() -> str:
            # Where releases before 0.2 kept it: sessions signed with it stay valid.
            old = self.instance_dir / "secret_key"
            return old.read_text().strip() if old.is_file() else secrets.token_hex(32)

        return self.db.shared_secret("session", make)

    @cached_property
    def accounts(self) -> Accounts:
        """Moderator accounts and their sign-ins."""
        return Accounts(self.db)

    @cached_property
    def notifier(self) -> Notifier:
        """Queues a message for everyone who should hear of an event; sends them in a thread."""
        return Notifier(
            self.db,
            self.notify_config,
            teams=self.teams,
            expiring=lambda: self.consent.expiring(),
            expiring_days=self.consent_terms.expiring_days,
        )

    @cached_property
    def moderation(self) -> Moderation:
        """Every change to a story, each as one whole action."""
        moderation = Moderation(self.index, self.db)
        moderation.notifier = self.notifier
        return moderation

    @cached_property
    def consent(self) -> CustomerConsent:
        """Customer links, and every answer given through them."""
        return CustomerConsent(self.index, self.db, self.moderation, self.consent_terms)

    @cached_property
    def thanks(self) -> ThankYous:
        """Thank-yous from customers, with their own consent, to the team they thank."""
        return ThankYous(
            self.index,
            self.db,
            self.moderation,
            self.consent,
            self.teams,
            daily_cap=self.thanks_daily_cap,
        )

    @cached_property
    def impact(self) -> Impact:
        """Figures for the impact page, `storywall stats` and the intranet's line."""
        return Impact(
            self.index,
            self.db,
            teams=self.teams,
            stale_days=self.impact_stale_days,
            expiring=lambda: self.consent.expiring(),
            screen_stale_seconds=self.screen_stale_seconds,
            clock=lambda: self.db.clock(),
        )

    @cached_property
    def warming(self) -> PhotoWarmer:
        """Makes every story photo's renditions in the background, before a screen asks."""
        return PhotoWarmer(self.index, self.photos)

    def load(self, *, save_cache: bool = True) -> None:
        cache = self.instance_dir / "index-cache.pickle"
        self.index.load(cache=cache, save_cache=save_cache)
        self._loaded_pid = os.getpid()

    def ensure_watching(self) -> None:
        """Start the watcher, the notification sender and (on PostgreSQL) the listener
        for other servers' changes in this process, once.

        Threads do not survive fork: a gunicorn worker forked from a preloaded
        master has the master's index but no watcher, so it starts its own and
        rescans to catch what changed since the master read the folder.
        """
        self.ensure_sending()
        self.ensure_listening()
        if self.watch == "off" or self._watching_pid == os.getpid():
            return
        with self._guard:
            if self._watching_pid == os.getpid():
                return
            self.watcher = StoryWatcher(
                self.index,
                poll=self.watch == "poll",
                rescan_every=self.rescan_every,
                poll_interval=self.poll_seconds,
            )
            self.watcher.start()
            if self._loaded_pid != os.getpid():
                # A forked worker catches up with the disk, comparing stats: only
                # what changed since the master read it is read again. Watching
                # first, a change made meanwhile is seen by one or the other.
                self.index.catch_up()
            self.warming.start()
            self._watching_pid = os.getpid()
            log.info("watching %s (%s)", self.index.root, self.watcher.mode)

    def ensure_sending(self) -> None:
        """Start this process's notification sender, once; none when nothing is configured."""
        if not self.notify_config.configured or self._sending_pid == os.getpid():
            return
        with self._guard:
            if self._sending_pid == os.getpid():
                return
            self.notifier.start_sender()
            self._sending_pid = os.getpid()

    def ensure_listening(self) -> None:
        """With PostgreSQL, hear the stories other servers changed and re-read them at once.

        A shared stories folder on a network share tells no server what another
        wrote (inotify sees only local writes), so a polling watcher would leave
        a withdrawal on screen until its next poll. One thread per process.
        """
        if not self.db.is_postgres or self.watch == "off":
            return
        with self._guard:
            if self._listening is not None and self._listening[0] == os.getpid():
                return
            stop = threading.Event()
            self._listening = (os.getpid(), stop)
        threading.Thread(
            target=self.db.listen_for_stories,
            args=(self.index.refresh, self.index.rescan, stop),
            name="storywall-listen",
            daemon=True,
        ).start()

    def catch_up(self) -> None:
        """Apply any change this process's watcher has noticed but not applied yet."""
        watcher = self.watcher
        if watcher is not None and self._watching_pid == os.getpid():
            watcher.catch_up()

    def stop(self) -> None:
        self._stopped = True
        if self.watcher is not None and self._watching_pid == os.getpid():
            self.watcher.stop()
            self.warming.stop()
        self._watching_pid = None
        if self._sending_pid == os.getpid():
            self.notifier.stop_sender()
        self._sending_pid = None
        if self._listening is not None and self._listening[0] == os.getpid():
            self._listening[1].set()
        self._listening = None
