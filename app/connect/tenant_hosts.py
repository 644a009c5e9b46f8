"""Which tenant base URLs we accept: Atlassian hosts by pattern, plain http only on loopback."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from app.config import LOOPBACK_HOSTS


def host_allowed(base_url: str, patterns: Iterable[str]) -> bool:
    """True if ``base_url``'s host matches a pattern and its scheme is https (http for loopback)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if not host or not any(fnmatchcase(host, pattern.lower()) for pattern in patterns):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
