"""What the log tests share: the secrets that must never reach a log, and requests that carry them."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import requests

from tests.kit.atlassian import Site

#: A macro query as Confluence signs it (an Atlassian host in ``xdm_e``, the context path).
QUERY: list[tuple[str, str]] = [
    ("pageId", "98310"),
    ("spaceKey", "DOCS"),
    ("xdm_e", "https://acme.atlassian.net"),
    ("cp", "/wiki"),
]


def token_of(url: str) -> str:
    """The ``jwt`` query value of a signed URL."""
    return parse_qs(urlsplit(url).query)["jwt"][0]


def site_secrets(site: Site) -> dict[str, str]:
    """What, of a site, no log line may contain: its shared secret, its clientKey, any ``jwt=``."""
    return {"shared secret": site.shared_secret, "a jwt parameter": "jwt=", "the clientKey": site.client_key}


def request_each(
    base_url: str,
    site: Site,
    query: Sequence[tuple[str, str]],
    expected: Sequence[tuple[str, str, int]],
    secrets: dict[str, str],
) -> None:
    """GET each ``(path, tamper, status)`` signed as ``site`` (``tamper`` appended after signing), check
    the status, and add each request's token to ``secrets``."""
    for number, (path, tamper, status) in enumerate(expected):
        url = site.signed_url(path, list(query))
        secrets[f"token {number} ({path})"] = token_of(url)
        response = requests.get(base_url + url + tamper, timeout=10)
        assert response.status_code == status, (path, response.text[:200])
