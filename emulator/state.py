"""The one object holding a running emulator's state, stored on the Flask app.

Routes reach it through :func:`current`; tests reach it through ``emulator_state(app)``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from emulator.privacy import PersonalData
from emulator.webhooks import WebhookSender

if TYPE_CHECKING:
    from emulator.apps import AppRegistry
    from emulator.faults import Faults
    from emulator.keys import SigningKey
    from emulator.oauth import TokenStore
    from emulator.restrictions import Access
    from emulator.site import Site
    from emulator.stats import Stats

EXTENSION_KEY = "confluence_emulator"


@dataclass
class EmulatorState:
    """Site data plus the mutable parts (installed apps, tokens, faults, counters), each with its own lock."""

    site: Site
    signing_key: SigningKey
    apps: AppRegistry
    tokens: TokenStore
    faults: Faults
    stats: Stats
    cursor_secret: bytes
    access: Access
    http_timeout: float = 10.0
    webhooks: WebhookSender = field(default_factory=WebhookSender)
    personal_data: PersonalData = field(default_factory=PersonalData)
    # Filtered, sorted lists per query (and reader); cleared when restrictions or installed apps change.
    list_cache: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    # Serialises content changes and site moves (readers never take it).
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def origin(self) -> str:
        """The emulator's own origin, e.g. ``http://127.0.0.1:8080``."""
        return self.site.origin


def emulator_state(app: Flask) -> EmulatorState:
    """Return the state of the emulator app ``app`` (for tests and the CLI's in-process use)."""
    state: EmulatorState = app.extensions[EXTENSION_KEY]
    return state


def current() -> EmulatorState:
    """Return the state of the emulator serving the current request."""
    return emulator_state(current_app)
