"""Cursor pagination against the fake: completeness, link handling and the guards."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
import requests

from app.confluence import ConfluenceClient
from app.confluence.pagination import iter_results, resolve_next
from app.errors import ConfluenceBadResponseError
from tests.confluence.conftest import PAGES
from tests.confluence.fake_confluence import FakeConfluence


def test_every_page_arrives_exactly_once_with_signed_cursor_urls(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    ids = [page["id"] for page in confluence_client.iter_pages()]
    assert sorted(ids) == sorted(str(1000 + i) for i in range(PAGES))
    assert len(ids) == len(set(ids))
    assert len(fake_site.arrivals) == math.ceil(PAGES / 250)
    assert fake_site.auth_failures == []


def test_next_links_are_followed_verbatim_and_never_double_wiki(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    ids = [page["id"] for page in confluence_client.iter_pages(space_ids=["1", "2"], status=["current"])]
    assert len(ids) == PAGES
    first, *rest = [arrival.raw_uri for arrival in fake_site.arrivals]
    assert first.startswith("/wiki/api/v2/pages?")
    assert "space-id=1%2C2" in first and "limit=250" in first
    for uri in rest:
        # the server put the cursor first; the client must not move it or add parameters again
        assert uri.startswith("/wiki/api/v2/pages?cursor=")
        assert uri.count("limit=") == 1 and uri.count("space-id=") == 1
    assert all("/wiki/wiki" not in arrival.raw_uri for arrival in fake_site.arrivals)
    assert fake_site.auth_failures == []


def test_body_links_are_used_when_there_is_no_link_header(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    fake_site.bodies_only = True
    assert len(list(confluence_client.iter_pages())) == PAGES
    assert len(fake_site.arrivals) == 3


def test_pagination_is_lazy(confluence_client: ConfluenceClient, fake_site: FakeConfluence) -> None:
    pages = confluence_client.iter_pages()
    assert fake_site.arrivals == []
    next(pages)
    assert len(fake_site.arrivals) == 1
    for _ in range(249):
        next(pages)
    assert len(fake_site.arrivals) == 1  # the second page is asked for only when needed
    next(pages)
    assert len(fake_site.arrivals) == 2
    pages.close()


def test_the_same_next_link_twice_fails_clearly(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    fake_site.repeat_next = True
    with pytest.raises(ConfluenceBadResponseError, match="same next link twice") as info:
        list(confluence_client.iter_pages())
    assert info.value.url is not None and "/wiki/api/v2/pages?cursor=" in info.value.url
    assert len(fake_site.arrivals) == 2


def test_page_count_is_bounded(confluence_client: ConfluenceClient, fake_site: FakeConfluence) -> None:
    confluence_client.max_pages = 2
    with pytest.raises(ConfluenceBadResponseError, match="past 2 pages"):
        list(confluence_client.iter_pages())
    assert len(fake_site.arrivals) == 2


class _Canned:
    """A fetcher answering with prepared bodies and headers, for link edge cases."""

    def __init__(self, *answers: tuple[str, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.urls: list[str] = []

    def __call__(self, url: str, params: Mapping[str, str] | None) -> requests.Response:
        body, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code = 200
        response._content = body.encode()
        response.headers.update(headers)
        response.url = url
        self.urls.append(url)
        return response


def test_a_next_link_to_another_origin_is_refused() -> None:
    fetch = _Canned(('{"results": [1], "_links": {"next": "https://evil.example/wiki/api/v2/pages"}}', {}))
    with pytest.raises(ConfluenceBadResponseError, match="another origin"):
        list(
            iter_results(
                fetch,
                "https://fake_site.example/wiki/api/v2/pages",
                None,
                base_url="https://fake_site.example/wiki",
            )
        )


def test_a_body_without_results_is_refused() -> None:
    fetch = _Canned(('{"values": []}', {}))
    with pytest.raises(ConfluenceBadResponseError, match="without results"):
        list(
            iter_results(
                fetch,
                "https://fake_site.example/wiki/api/v2/pages",
                None,
                base_url="https://fake_site.example/wiki",
            )
        )


def test_link_header_wins_over_body_and_cursor_position_is_kept() -> None:
    link = (
        '</wiki/api/v2/pages?cursor=eyJ9=&limit=2&sort=id>; rel="next", <https://s.example/wiki>; rel="base"'
    )
    fetch = _Canned(
        ('{"results": [1, 2], "_links": {"next": "/wiki/api/v2/ignored"}}', {"Link": link}),
        ('{"results": [3], "_links": {"base": "https://s.example/wiki"}}', {}),
    )
    assert list(
        iter_results(
            fetch, "https://s.example/wiki/api/v2/pages", {"limit": "2"}, base_url="https://s.example/wiki"
        )
    ) == [1, 2, 3]
    assert fetch.urls[1] == "https://s.example/wiki/api/v2/pages?cursor=eyJ9=&limit=2&sort=id"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/wiki/api/v2/pages?cursor=a", "https://s.example:8443/wiki/api/v2/pages?cursor=a"),
        ("/rest/api/search?cql=x&cursor=b", "https://s.example:8443/wiki/rest/api/search?cql=x&cursor=b"),
        ("https://s.example:8443/wiki/api/v2/x", "https://s.example:8443/wiki/api/v2/x"),
    ],
)
def test_resolve_next_joins_v2_links_to_the_origin_and_v1_links_to_the_base(link: str, expected: str) -> None:
    assert resolve_next(link, "https://s.example:8443/wiki") == expected


def test_resolve_next_refuses_another_port() -> None:
    with pytest.raises(ConfluenceBadResponseError):
        resolve_next("https://s.example:9999/wiki/api/v2/x", "https://s.example:8443/wiki")


def test_a_cycle_through_several_links_is_caught() -> None:
    base = "https://s.example/wiki"
    fetch = _Canned(
        ('{"results": [1], "_links": {"next": "/wiki/api/v2/pages?cursor=b"}}', {}),
        ('{"results": [2], "_links": {"next": "/wiki/api/v2/pages?cursor=c"}}', {}),
        ('{"results": [3], "_links": {"next": "/wiki/api/v2/pages?cursor=b"}}', {}),
    )
    items: list[int] = []
    with pytest.raises(ConfluenceBadResponseError, match="same next link twice"):
        items.extend(iter_results(fetch, f"{base}/api/v2/pages", None, base_url=base))
    assert items == [1, 2, 3]  # every page that arrived is delivered; nothing is fetched twice
    assert len(fetch.urls) == 3
