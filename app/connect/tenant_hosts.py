"""Which tenant base URLs we accept: Atlassian hosts by pattern, plain http only on loopback."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Final
from urllib.parse import urlsplit

#: Hosts for which plain ``http`` tenant base URLs are accepted (the local emulator).
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def host_allowed(base_url: str, patterns: Iterable[str]) -> bool:
    """True if ``base_url``'s host matches a pattern and its scheme is https (http for loopback)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if not host or not any(fnmatchcase(host, pattern.lower()) for pattern in patterns):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
