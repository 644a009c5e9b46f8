"""The state behind Atlassian's personal data reporting API (the route is in ``emulator.rest_privacy``).

https://developer.atlassian.com/cloud/confluence/user-privacy-developer-guide/ (the same text for Jira and
Forge): an app that stores personal data reports the account ids it holds with the time it last fetched
their data, ``POST /app/report-accounts/`` with ``{"accounts": [{"accountId", "updatedAt"}]}``, at most 90
accounts a request. The answer lists the accounts that need action, ``{"accounts": [{"accountId",
"status": "closed" | "updated"}]}`` with 200, or is an empty 204; both carry ``Cycle-Period``, the period
(seconds) the app should wait before reporting an account again (7 days by default). A rate-limited call is
429 with ``Retry-After``. The guide's two test accounts answer as it says: one active, one closed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final

from emulator.people import DELETED_ACCOUNT_ID

MAX_ACCOUNTS: Final = 90
CYCLE_PERIOD_SECONDS: Final = 7 * 24 * 3600
#: The guide's test accounts: "Active: 5be24ad8b1653240376955d2", "Closed: 5be24ba3f91c106033269289".
TEST_ACTIVE_ACCOUNT: Final = "5be24ad8b1653240376955d2"
TEST_CLOSED_ACCOUNT: Final = "5be24ba3f91c106033269289"
CALL_LOG_LIMIT: Final = 1000


@dataclass(frozen=True)
class AccountChange:
    """An account was ``closed`` or its personal data ``updated`` at ``since`` (epoch seconds)."""

    status: str
    since: float


class PersonalData:
    """Which accounts were closed or updated, injected 429s, and every report an app made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[str, AccountChange] = {
            DELETED_ACCOUNT_ID: AccountChange("closed", 0.0),
            TEST_CLOSED_ACCOUNT: AccountChange("closed", 0.0),
        }
        self._faults_left = 0
        self._retry_after = 1
        self._calls: list[dict[str, Any]] = []

    def mark(self, account_id: str, status: str, since: float) -> AccountChange:
        """Record that an account was closed or updated (a closed account stays closed)."""
        with self._lock:
            change = AccountChange(status, since)
            self._changes[account_id] = change
            return change

    def change(self, account_id: str) -> AccountChange | None:
        """The latest change recorded for an account, if any."""
        with self._lock:
            return self._changes.get(account_id)

    def set_faults(self, count: int, retry_after: int) -> dict[str, int]:
        """Make the next ``count`` calls answer 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self._faults_left, self._retry_after = count, retry_after
            return {"count": count, "retryAfter": retry_after}

    def faults(self) -> dict[str, int]:
        """The 429s still to come."""
        with self._lock:
            return {"count": self._faults_left, "retryAfter": self._retry_after}

    def take_fault(self) -> int | None:
        """The Retry-After of an injected 429 for this call, or None."""
        with self._lock:
            if self._faults_left <= 0:
                return None
            self._faults_left -= 1
            return self._retry_after

    def answer(self, accounts: list[tuple[str, float]]) -> list[dict[str, str]]:
        """The accounts that need action: closed ones, and ones updated after the reported ``updatedAt``."""
        found: list[dict[str, str]] = []
        seen: set[str] = set()
        with self._lock:
            for account_id, updated_at in accounts:
                change = self._changes.get(account_id)
                if account_id in seen or change is None:
                    continue
                if change.status == "closed" or change.since > updated_at:
                    found.append({"accountId": account_id, "status": change.status})
                    seen.add(account_id)
        return found

    def record(self, call: dict[str, Any]) -> None:
        """Keep a call for ``GET /_emulator/personal-data/calls``."""
        with self._lock:
            self._calls.append(call)
            del self._calls[:-CALL_LOG_LIMIT]

    def calls(self) -> list[dict[str, Any]]:
        """Every call, oldest first."""
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        """Forget the calls made so far."""
        with self._lock:
            self._calls.clear()
