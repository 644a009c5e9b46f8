"""Per-request counts added up in each request thread and handed to prometheus_client in batches.

In prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, which the ``Procfile``'s
``web:`` line sets) every ``inc`` takes the library's lock, asks the kernel for the process id (to
notice a fork) and writes the value into the process's memory-mapped file. A request made four of
them (its counter, the latency histogram's sum and bucket, the hot path's counter): side by side
under granian on one core, about 8 % of a warm iframe load's requests per second.

So in that mode a request's counts are added to its thread's own tally (a dictionary under the
thread's own lock, which nothing else takes but the flusher) and one thread (``flush_soon``) hands
every tally to prometheus_client :data:`DELAY` seconds after the first count of a batch: one ``inc``
per series and bucket per batch instead of four per request. A scrape of this process hands its
own tallies over first, so what it reports of this process is exact; another process's counts reach
the shared files within :data:`DELAY`. What is tallied is handed over at exit (``atexit``, and
``flush_soon``'s finalizer in a granian worker); a process killed outright loses at most the last
:data:`DELAY` of counts. A forked child starts with no tallies.

The histogram's batch is handed to its sum and to each bucket's value directly (``_sum``,
``_buckets``): prometheus_client has no call that observes many values at once. Those attributes are
checked on each new series before it is counted (:func:`histogram_parts_present`); without them every
observation goes through ``observe``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Hashable
from typing import Any, Final

from app.observability.flush_soon import FlushSoon

#: Seconds from a batch's first count until it is handed to prometheus_client.
DELAY: Final = 0.05


class _Tally:
    """One thread's counts since its last hand-over."""

    __slots__ = ("counts", "lock", "sums")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[Hashable, list[int]] = {}  # a series -> its count per bucket (or [n])
        self.sums: dict[Hashable, float] = {}


#: Applies one series' batch: (series key, counts per bucket, sum of the observed values).
Apply = Callable[[Hashable, list[int], float], None]


class BatchedCounts:
    """Counts and observations tallied per thread, applied in batches by :attr:`apply`."""

    def __init__(self, apply: Apply, delay: float = DELAY) -> None:
        self.apply = apply
        self.delay = delay
        self._reset()

    def _reset(self) -> None:
        self._local = threading.local()
        self._tallies: list[_Tally] = []
        self._registering = threading.Lock()
        self._handing_over = threading.Lock()
        self._soon = FlushSoon(self.flush, lambda: self.delay, "request-counts")

    def count(self, key: Hashable, bucket: int = 0, buckets: int = 1, amount: float = 0.0) -> None:
        """Add one to ``key``'s ``bucket`` (of ``buckets``) and ``amount`` to its sum."""
        tally: _Tally | None = getattr(self._local, "tally", None)
        if tally is None:
            tally = self._new_tally()
        with tally.lock:
            counts = tally.counts.get(key)
            if counts is None:
                counts = tally.counts[key] = [0] * buckets
                tally.sums[key] = 0.0
            counts[bucket] += 1
            tally.sums[key] += amount
        self._soon.poke()

    def flush(self) -> None:
        """Hand every thread's tally over now."""
        with self._handing_over:
            for tally in list(self._tallies):
                with tally.lock:
                    counts, sums = tally.counts, tally.sums
                    if not counts:
                        continue
                    tally.counts, tally.sums = {}, {}
                for key, per_bucket in counts.items():
                    self.apply(key, per_bucket, sums[key])

    def pending(self) -> int:
        """Counts tallied and not handed over yet."""
        return sum(sum(counts) for tally in list(self._tallies) for counts in list(tally.counts.values()))

    def _new_tally(self) -> _Tally:
        tally = _Tally()
        with self._registering:
            self._tallies.append(tally)
        self._local.tally = tally
        return tally

    def after_fork_in_child(self) -> None:
        """The parent's tallies, locks and thread are not the child's (``os.register_at_fork``)."""
        self._reset()


def bucket_of(upper_bounds: list[float] | tuple[float, ...], value: float) -> int:
    """The index of the first of a histogram's ``upper_bounds`` (ending with +Inf) that ``value``
    is at most, as prometheus_client's ``observe`` finds it."""
    return bisect.bisect_left(upper_bounds, value)


def histogram_parts_present(child: Any, upper_bounds: tuple[float, ...]) -> bool:
    """Whether a histogram's labelled child has what :func:`apply_to_histogram` writes to: a value
    per bucket of ``upper_bounds`` (+Inf last), and one for the sum."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    return (
        isinstance(bounds, list)
        and list(bounds) == list(upper_bounds)
        and isinstance(buckets, list)
        and len(buckets) == len(bounds)
        and all(hasattr(value, "inc") for value in buckets)
        and hasattr(getattr(child, "_sum", None), "inc")
    )


def apply_to_histogram(child: Any, per_bucket: list[int], total: float) -> None:
    """Add a batch of observations (their count per bucket, their sum) to a histogram's child."""
    child._sum.inc(total)
    for value, count in zip(child._buckets, per_bucket, strict=True):
        if count:
            value.inc(count)
