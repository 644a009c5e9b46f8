"""The expiring cache (``app/expiring.py``): expiry, the LRU bound, and lock-free reads under threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.expiring import ExpiringCache
from tests.kit.threads import run_interleaved


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_its_ttl_from_when_its_read_began() -> None:
    clock = Clock()
    cache: ExpiringCache[str, int] = ExpiringCache(10, 100, clock)
    cache.put("a", 1, since=95.0)  # read began 5 s ago
    assert cache.get("a") == 1
    clock.now = 104.9
    assert cache.get("a") == 1
    clock.now = 105.0
    assert cache.get("a") is None
    assert len(cache) == 0  # an expired entry found by a read is dropped


def test_the_least_recently_read_entry_goes_first() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(60, 3, Clock())
    for name, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(name, value)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("d", 4)
    assert cache.get("b") is None
    assert [cache.get(name) for name in ("a", "c", "d")] == [1, 3, 4]


def test_a_cache_with_no_ttl_keeps_nothing() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(0, 10, Clock())
    cache.put("a", 1)
    assert cache.get("a") is None


@dataclass(frozen=True)
class SlowKey:
    """A key whose hash and equality run Python code, so a thread can switch in the middle of a lookup."""

    name: str
    n: int


def test_reads_without_a_lock_stay_right_while_other_threads_write() -> None:
    # Writers put, replace and drop entries and readers read them, switching as often as CPython lets
    # them; a read returns None or a value once put for that key, never another key's, and never raises.
    clock = Clock()
    cache: ExpiringCache[SlowKey, tuple[SlowKey, int]] = ExpiringCache(5, 50, clock)
    keys = [SlowKey("k", n) for n in range(80)]  # more keys than room: the LRU bound evicts too
    errors: list[BaseException] = []
    wrong: list[object] = []
    start = threading.Barrier(6)

    def writer(seed: int) -> None:
        start.wait()
        try:
            for i in range(4000):
                key = keys[(i * 7 + seed) % len(keys)]
                if i % 5 == 0:
                    cache.discard([key])
                else:
                    cache.put(key, (key, i))
                if i % 97 == 0:
                    clock.now += 1  # entries expire as the run goes on
        except BaseException as exc:  # pragma: no cover - what the test is looking for
            errors.append(exc)

    def reader(seed: int) -> None:
        start.wait()
        try:
            for i in range(6000):
                key = keys[(i * 13 + seed) % len(keys)]
                found = cache.get(key)
                if found is not None and found[0] != key:
                    wrong.append(found)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    run_interleaved(threads)
    assert errors == []
    assert wrong == []
    assert len(cache) <= 50
