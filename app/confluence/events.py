"""What the client reports about each HTTP attempt, for callers that keep per-tenant health figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientEvent:
    """One HTTP attempt and how it ended.

    ``status`` is ``None`` when no answer arrived (timeout, dropped connection). ``retry`` counts the
    retries before this attempt (0 for the first send). ``rate_limited`` is true for a 429, or a 503
    that carried ``Retry-After``. The URL never holds a credential: tokens travel in headers.
    """

    method: str
    url: str
    status: int | None
    elapsed: float
    retry: int
    rate_limited: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the attempt got a non-error answer (the product's "last successful call")."""
        return self.status is not None and self.status < 400


#: The observer hook a client accepts; it must be quick and must not raise.
EventHook = Callable[[ClientEvent], None]
