"""Names every test agrees on: our app's key (the descriptor ``key``, the ``iss`` of our tokens) and the
public base URL the app is configured with in tests (the ``aud`` of signed installs)."""

from __future__ import annotations

from typing import Final

APP_KEY: Final = "com.example.confluence-freshness"
APP_BASE_URL: Final = "https://app.example.test"
