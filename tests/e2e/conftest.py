"""Fixtures for end-to-end tests: live emulators, the live app and the real install.

The helpers live in ``tests/kit/live_sites.py``; these fixtures only give them pytest lifetimes. Chromium
(``browser``, ``page``) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.kit.database import fresh_database_url
from tests.kit.live_sites import RunningApp, RunningEmulator, install_app, running_app, running_emulator

StartEmulator = Callable[..., RunningEmulator]
StartApp = Callable[..., RunningApp]


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """A factory: ``start_emulator(seed=…, pages=…, site_name=…)`` serves one more emulator.

    Every emulator it started is stopped at teardown.
    """
    with ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(running_emulator(**kwargs))


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[StartApp]:
    """A factory: ``start_app(emulator, database_url=None, overrides=None)`` serves one more app.

    The first app gets ``fresh_database_url(tmp_path)`` (PostgreSQL when TEST_DATABASE_URL is set),
    any further one its own SQLite file, unless ``database_url`` is given.
    """
    with ExitStack() as stack:
        started: list[RunningApp] = []

        def start(
            emulator: RunningEmulator,
            database_url: str | None = None,
            overrides: dict[str, Any] | None = None,
        ) -> RunningApp:
            if database_url is None:
                database_url = (
                    fresh_database_url(tmp_path)
                    if not started
                    else f"sqlite:///{tmp_path / f'app{len(started) + 1}.db'}"
                )
            started.append(stack.enter_context(running_app(database_url, emulator.url, overrides=overrides)))
            return started[-1]

        yield start


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> RunningEmulator:
    """One emulator on a free port (curated content, seed = its port)."""
    return start_emulator()


@pytest.fixture
def live_app(start_app: StartApp, emulator: RunningEmulator) -> RunningApp:
    """The app on a free port and a fresh database, pointed at ``emulator`` (not installed yet)."""
    return start_app(emulator)


@pytest.fixture
def installed(emulator: RunningEmulator, live_app: RunningApp) -> dict[str, Any]:
    """``live_app`` installed into ``emulator`` through the real lifecycle; the emulator's site info."""
    return install_app(emulator, live_app)


# The ``browser`` and ``page`` fixtures (one Chromium for the session) live in ``tests/conftest.py``.
