"""Cursor pagination for Confluence list endpoints: a generator holding one page at a time.

Spec: "Pagination" in https://developer.atlassian.com/cloud/confluence/rest/v2/intro/. The next page's URL
comes from ``Link: <…>; rel="next"`` (else the body's ``_links.next``); it is site-root relative and already
holds ``/wiki``, the cursor and every original parameter, so it is joined to the tenant's *origin* and
followed verbatim - never appended to the baseUrl (``/wiki/wiki``) and never rebuilt. v1 next links lack
``/wiki`` and are joined to the baseUrl.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import requests

from app.confluence.errors import json_body
from app.errors import ConfluenceBadResponseError

#: The largest page every v2 cursor endpoint accepts.
MAX_LIMIT: Final = 250
#: Enough for 2.5 million items at 250 a page; a guard against a server that never stops.
DEFAULT_MAX_PAGES: Final = 10_000

#: How many recent next links are remembered to catch a server that sends one again. A window, not
#: the full history, so memory stays flat however many pages there are; a longer cycle still ends at
#: ``max_pages``.
REPEAT_WINDOW: Final = 64

#: Sends one GET; the second argument is the query for the first page, ``None`` for cursor URLs.
PageFetcher = Callable[[str, Mapping[str, str] | None], requests.Response]


def origin_of(url: str) -> str:
    """Return ``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def next_link(response: requests.Response, body: Mapping[str, Any]) -> str | None:
    """Return the raw next-page link of a list response, or ``None`` on the last page."""
    link = response.links.get("next", {}).get("url")
    if link:
        return str(link)
    links = body.get("_links")
    if isinstance(links, Mapping):
        candidate = links.get("next")
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def resolve_next(link: str, base_url: str) -> str:
    """Return the absolute URL of a next link, refusing one that points at another origin."""
    origin = origin_of(base_url)
    base_path = urlsplit(base_url).path.rstrip("/")
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        absolute = link
    elif not base_path or link == base_path or link.startswith(base_path + "/"):
        absolute = urljoin(origin + "/", link)  # v2: "/wiki/api/v2/…" is relative to the site root
    else:
        absolute = base_url.rstrip("/") + "/" + link.lstrip("/")  # v1: "/rest/api/…" is under baseUrl
    if origin_of(absolute) != origin:
        raise ConfluenceBadResponseError(
            "Confluence sent a next link to another origin", method="GET", url=absolute
        )
    return absolute


@dataclass(frozen=True)
class ResultPage:
    """One page of a list: its items, and the absolute URL of the next page (``None`` on the last)."""

    items: list[dict[str, Any]]
    next_url: str | None


def results_of(body: Any, message: str, **where: Any) -> list[Any]:
    """The ``results`` list of a v2 list answer, or ConfluenceBadResponseError(``message``, ``where``)."""
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise ConfluenceBadResponseError(message, **where)
    return results


def iter_result_pages(
    fetch: PageFetcher,
    url: str,
    params: Mapping[str, str] | None,
    *,
    base_url: str,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[ResultPage]:
    """Yield a cursor-paginated list page by page, requesting the next page only when needed.

    Each page carries the resolved URL of the next one, so a caller can store it and resume later
    with ``iter_result_pages(fetch, page.next_url, None, ...)``: a next link already holds every
    parameter. A bad next link (repeated, another origin) is refused only when it is about to be
    followed, so the items of the page that sent it are still delivered.

    :param fetch: sends one GET (signed, retried) and returns a successful response.
    :param base_url: the tenant baseUrl; next links are resolved against its origin.
    :raises ConfluenceBadResponseError: a body without ``results``, a repeated or foreign next link,
        or more than ``max_pages`` pages.
    """
    page_url = url
    page_params = params
    recent: deque[str] = deque(maxlen=REPEAT_WINDOW)
    for pages in itertools.count():
        if pages >= max_pages:
            raise ConfluenceBadResponseError(
                f"Confluence kept paginating past {max_pages} pages", method="GET", url=page_url
            )
        response = fetch(page_url, page_params)
        body = json_body(response, "GET")
        results = results_of(
            body,
            "Confluence sent a list response without results",
            method="GET",
            url=response.url,
            status=response.status_code,
        )
        link = next_link(response, body)
        # Keep only the items and the link: the response and the rest of the body can go now.
        del response, body
        next_url: str | None = None
        bad_link: ConfluenceBadResponseError | None = None
        if link is not None:
            try:
                next_url = resolve_next(link, base_url)
            except ConfluenceBadResponseError as exc:
                bad_link = exc
            else:
                if next_url in recent:
                    bad_link = ConfluenceBadResponseError(
                        "Confluence sent the same next link twice", method="GET", url=next_url
                    )
                    next_url = None
                else:
                    recent.append(next_url)
        yield ResultPage(results, next_url)
        del results
        if bad_link is not None:
            raise bad_link
        if next_url is None:
            return
        page_url, page_params = next_url, None


def iter_results(
    fetch: PageFetcher,
    url: str,
    params: Mapping[str, str] | None,
    *,
    base_url: str,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """Yield every item of a cursor-paginated list (see :func:`iter_result_pages`)."""
    for page in iter_result_pages(fetch, url, params, base_url=base_url, max_pages=max_pages):
        yield from page.items
