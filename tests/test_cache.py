"""The caches a worker's threads share: bounded, and safe under contention."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from wall.web import intranet, playlists
from wall.web.cache import LRU


@pytest.fixture
def contention() -> Iterator[None]:
    """Switch threads as often as the interpreter can, so races show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def hammer(
    work: Callable[[int], None], threads: int = 16, rounds: int = 300
) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(n: int) -> None:
        start.wait()
        for i in range(rounds):
            try:
                work(n * rounds + i)
            except BaseException as exc:  # collected: the test reports them all
                errors.append(exc)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return errors


def test_the_lru_keeps_its_bound_and_its_values_under_threads(contention) -> None:
    cache: LRU[str] = LRU(8)
    sizes: list[int] = []

    def work(i: int) -> None:
        key = i % 20
        value = cache.get_or_build(key, lambda: f"value {key}")
        assert value == f"value {key}"
        sizes.append(len(cache))

    assert hammer(work) == []
    assert max(sizes) <= 8 and len(cache) == 8


def test_the_lru_drops_the_least_recently_used() -> None:
    cache: LRU[int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the oldest
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert cache.put("c", 4) == 3  # the first one stored wins


def test_playlists_are_cached_safely_by_many_threads(
    app, write_story, contention, monkeypatch
) -> None:
    write_story("maria", tags=["a", "b", "c"])
    app.extensions["storywall"].index.rescan()
    clients = [app.test_client() for _ in range(12)]
    tags = ["a", "b", "c", "a,b", "b,c", "a,c"]

    def work(i: int) -> None:
        response = clients[i % 12].get(f"/api/stories?tags={tags[i % len(tags)]}")
        assert response.status_code == 200, response.status_code
        assert response.get_json()["stories"][0]["slug"] == "maria"

    monkeypatch.setattr(playlists, "KEPT_PER_VERSION", 2)  # far fewer than the screens asking
    assert hammer(work, threads=12, rounds=200) == []


def test_intranet_grids_are_cached_safely_by_many_threads(
    app, write_story, contention, monkeypatch
) -> None:
    for n in range(6):
        write_story(f"story-{n}", name=f"Person {n}", tags=[f"t{n}"])
    app.extensions["storywall"].index.rescan()
    clients = [app.test_client() for _ in range(12)]

    def work(i: int) -> None:
        response = clients[i % 12].get(f"/?tag=t{i % 6}")
        assert response.status_code == 200
        assert f"Person {i % 6}" in response.get_data(as_text=True)

    monkeypatch.setattr(intranet, "_GRID_CACHE_SIZE", 2)
    assert hammer(work, threads=12, rounds=40) == []
