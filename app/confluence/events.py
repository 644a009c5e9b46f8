"""What the client reports about each HTTP attempt, for callers that keep per-tenant health figures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientEvent:
    """One HTTP attempt and how it ended.

    ``status`` is ``None`` when no answer arrived (timeout, dropped connection). ``retry`` counts the
    retries before this attempt (0 for the first send). ``rate_limited`` is true for a 429, or a 503
    that carried ``Retry-After``, whose value is ``retry_after``. The URL never holds a credential:
    tokens travel in headers.
    """

    method: str
    url: str
    status: int | None
    elapsed: float
    retry: int
    rate_limited: bool
    error: str | None = None
    #: Seconds the answer's ``Retry-After`` asked us to wait (429 or 503), if it said.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the attempt got a non-error answer (the product's "last successful call")."""
        return self.status is not None and self.status < 400


#: The observer hook a client accepts; it must be quick and must not raise.
EventHook = Callable[[ClientEvent], None]

_observers: list[EventHook] = []
_observers_lock = threading.Lock()


def observe_every_client(hook: EventHook) -> None:
    """Register ``hook`` for the attempts of every client in this process (process-wide metrics).

    A client's own ``on_event`` hook (per-tenant health) still gets its events; registering the same
    hook twice has no effect.
    """
    with _observers_lock:
        if hook not in _observers:
            _observers.append(hook)


def process_observers() -> tuple[EventHook, ...]:
    """The hooks registered with :func:`observe_every_client`."""
    with _observers_lock:
        return tuple(_observers)
