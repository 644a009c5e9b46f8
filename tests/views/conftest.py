"""Fixtures for view tests: the shared emulator_control reset around each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask

from app.jobs.queue import get_queue, run_pending
from tests.kit.confluence import FakeConfluence, scan_list_calls

#: What only the macro's "first scan in progress" page contains.
SCANNING = 'class="freshness scanning"'


def run_jobs(app: Flask) -> int:
    """Run every due job of the app's queue in this thread, as a worker would; return how many ran."""
    return run_pending(get_queue(app))


class EmulatorControl:
    """Faults and call counts of the session's emulator."""

    def __init__(self, confluence: FakeConfluence) -> None:
        self.origin = confluence.origin
        self.http = requests.Session()

    def faults(self, **settings: Any) -> None:
        response = self.http.post(f"{self.origin}/_emulator/faults", json=settings, timeout=5)
        response.raise_for_status()

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(f"{self.origin}/_emulator/stats", timeout=5).json()
        return body

    def list_calls(self) -> int:
        return scan_list_calls(self.origin, self.http)

    def reset(self) -> None:
        self.faults(fault429Rate=0.0, fault5xxRate=0.0, latencyMs=0, retryAfter=1)
        self.http.post(f"{self.origin}/_emulator/stats/reset", timeout=5).raise_for_status()


@pytest.fixture
def emulator_control(confluence: FakeConfluence) -> Iterator[EmulatorControl]:
    control = EmulatorControl(confluence)
    control.reset()
    yield control
    control.reset()
    control.http.close()
