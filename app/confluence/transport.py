"""Send one logical request to Confluence: explicit timeout, User-Agent, retries, typed errors, events.

Every attempt goes through ``session.request(..., auth=...)``, so requests prepares it afresh and the
auth object signs it again: a retry never reuses a JWT computed for an earlier attempt.
Redirects are not followed: a Connect JWT is bound to one URL by its qsh, and requests would carry
the header to the new URL (or drop it) without re-signing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from app.confluence.errors import error_for_status
from app.confluence.events import ClientEvent, EventHook, process_observers
from app.confluence.retry import (
    RETRY_AFTER_STATUSES,
    TRANSIENT_STATUSES,
    RetryPolicy,
    is_idempotent,
    parse_retry_after,
)
from app.errors import ConfluenceError, ConfluenceRateLimitedError, ConfluenceTransportError

logger = logging.getLogger(__name__)

#: Faults after which the request may not have reached the server, or the answer was lost.
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

Timeout = float | tuple[float, float]


class Transport:
    """Sends requests over one pooled session and applies a :class:`RetryPolicy`.

    :param sleep: how to wait between attempts (tests inject a recorder).
    :param monotonic: the clock for elapsed time and the total budget.
    :param clock: wall-clock epoch seconds, to read ``Retry-After`` HTTP-dates.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: Timeout,
        user_agent: str,
        policy: RetryPolicy | None = None,
        on_event: EventHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.user_agent = user_agent
        self.policy = policy or RetryPolicy()
        self._on_event = on_event
        self._sleep = sleep
        self._monotonic = monotonic
        self._clock = clock
        self._rand = rand

    def send(
        self,
        method: str,
        url: str,
        *,
        auth: requests.auth.AuthBase | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send until success, a non-retryable answer, or the policy's bounds; return a response < 400.

        :param idempotent: overrides the method's own idempotency (e.g. fetching an OAuth token by POST
            has no side effect, so it may be retried).
        :raises ConfluenceError: a typed subclass per status, or ``ConfluenceTransportError``.
        """
        method = method.upper()
        retryable = is_idempotent(method) if idempotent is None else idempotent
        all_headers = {"User-Agent": self.user_agent, "Accept": "application/json", **(headers or {})}
        started = self._monotonic()
        retry = 0
        while True:
            attempt_started = self._monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json,
                    headers=all_headers,
                    auth=auth,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except _TRANSIENT_ERRORS as exc:
                sent_url = _request_url(exc, url)
                self._emit(method, sent_url, None, attempt_started, retry, False, type(exc).__name__)
                error = ConfluenceTransportError(
                    f"Confluence could not be reached for {method} {sent_url} ({type(exc).__name__})",
                    method=method,
                    url=sent_url,
                )
                delay = self.policy.backoff(retry + 1, self._rand)
                if retryable and self._may_retry(retry, started, delay):
                    self._sleep(delay)
                    retry += 1
                    continue
                raise error from exc
            except requests.RequestException as exc:  # invalid URL and the like: retrying cannot help
                sent_url = _request_url(exc, url)
                raise ConfluenceTransportError(
                    f"Request to Confluence failed for {method} {sent_url} ({type(exc).__name__})",
                    method=method,
                    url=sent_url,
                ) from exc

            status = response.status_code
            sent_url = response.request.url or url
            retry_after = (
                parse_retry_after(response.headers.get("Retry-After"), self._clock())
                if status in RETRY_AFTER_STATUSES
                else None
            )
            rate_limited = status == 429 or retry_after is not None
            self._emit(method, sent_url, status, attempt_started, retry, rate_limited, None, retry_after)
            if status < 400:
                return response
            response.close()
            if status != 429 and status not in TRANSIENT_STATUSES:
                raise error_for_status(status, method, sent_url)
            if retry_after is not None and retry_after > self.policy.max_retry_after:
                # Retrying sooner than asked only earns a longer wait (Atlassian's rate-limiting page,
                # cited in retry.py): give up and let the caller decide when to come back.
                raise self._final_error(status, method, sent_url, retry_after)
            delay = retry_after if retry_after is not None else self.policy.backoff(retry + 1, self._rand)
            if retryable and self._may_retry(retry, started, delay):
                self._sleep(delay)
                retry += 1
                continue
            raise self._final_error(status, method, sent_url, retry_after)

    def _may_retry(self, retry: int, started: float, delay: float) -> bool:
        """Whether one more attempt fits both the attempt count and the total time budget."""
        if retry + 1 >= self.policy.max_attempts:
            return False
        return self._monotonic() - started + delay <= self.policy.max_total_seconds

    @staticmethod
    def _final_error(status: int, method: str, url: str, retry_after: float | None) -> ConfluenceError:
        if status == 503 and retry_after is not None:
            # The server said when to come back; keep that for the caller, as for a 429.
            return ConfluenceRateLimitedError(
                f"Confluence answered {status} to {method} {url}",
                retry_after=retry_after,
                method=method,
                url=url,
                status=status,
            )
        return error_for_status(status, method, url, retry_after=retry_after)

    def _emit(
        self,
        method: str,
        url: str,
        status: int | None,
        attempt_started: float,
        retry: int,
        rate_limited: bool,
        error: str | None,
        retry_after: float | None = None,
    ) -> None:
        hooks = process_observers()
        if self._on_event is not None:
            hooks = (self._on_event, *hooks)
        if not hooks:
            return
        event = ClientEvent(
            method=method,
            url=url,
            status=status,
            elapsed=self._monotonic() - attempt_started,
            retry=retry,
            rate_limited=rate_limited,
            error=error,
            retry_after=retry_after,
        )
        for hook in hooks:
            try:
                hook(event)
            except Exception:  # an observer (e.g. a metrics write) must never break the call it observes
                logger.exception("Confluence client event hook failed")


def _request_url(exc: requests.RequestException, fallback: str) -> str:
    request = exc.request
    url = getattr(request, "url", None)
    return url if isinstance(url, str) and url else fallback
