"""How `storywall serve` configures gunicorn (the real server is in test_serve.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from gunicorn.config import Config
from gunicorn.workers.gthread import ThreadWorker

from wall.server import gunicorn_options


def config(**options: object) -> Config:
    cfg = Config()
    for key, value in options.items():
        cfg.set(key, value)
    return cfg


@pytest.mark.parametrize("threads", [1, 16, 600, 10000])
def test_gthread_workers_have_room_for_keep_alive_connections(threads: int) -> None:
    options = gunicorn_options(
        host="127.0.0.1", port=8000, workers=2, threads=threads, worker_class="gthread"
    )
    cfg = config(**options)
    log = mock.Mock()
    ThreadWorker.check_config(cfg, log)
    log.warning.assert_not_called()  # "No keepalived connections can be handled"
    assert cfg.keepalive > 0 and cfg.worker_connections > cfg.threads


def test_gevent_workers_take_as_many_connections_as_threads() -> None:
    options = gunicorn_options(
        host="127.0.0.1", port=8000, workers=2, threads=600, worker_class="gevent"
    )
    assert options["worker_connections"] == 600
