"""The typed calls, against the fake (every request's JWT and qsh checked by atlassian-jwt)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.confluence import ClientSettings, ConfluenceClient
from app.errors import ConfluenceNotFoundError
from tests.confluence.fake_confluence import FakeConfluence


@pytest.fixture(autouse=True)
def _all_signed(fake_site: FakeConfluence) -> Iterator[None]:
    yield
    assert fake_site.auth_failures == []
    assert all("/wiki/wiki" not in arrival.raw_uri for arrival in fake_site.arrivals)


def test_spaces_by_key_and_id(confluence_client: ConfluenceClient, fake_site: FakeConfluence) -> None:
    assert [s["key"] for s in confluence_client.iter_spaces()] == ["ENG", "OPS", "HR"]
    assert [s["key"] for s in confluence_client.iter_spaces(keys=["OPS", "HR"])] == ["OPS", "HR"]
    assert [s["key"] for s in confluence_client.iter_spaces(ids=[1, 3])] == ["ENG", "HR"]
    assert confluence_client.get_space(1)["key"] == "ENG"
    assert "keys=OPS%2CHR" in fake_site.arrivals[1].raw_uri


def test_resolve_space_id(confluence_client: ConfluenceClient) -> None:
    assert confluence_client.resolve_space_id("OPS") == "2"
    with pytest.raises(ConfluenceNotFoundError, match="NOPE") as info:
        confluence_client.resolve_space_id("NOPE")
    assert info.value.method == "GET" and info.value.url is not None


def test_pages_filters_and_single_page(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    assert len(list(confluence_client.iter_pages(space_ids=["2"]))) == 300
    assert len(list(confluence_client.iter_space_pages(1, depth="all", sort="id", status=["current"]))) == 300
    page = confluence_client.get_page(1000, body_format="storage")
    assert page["id"] == "1000"
    assert fake_site.arrivals[-1].raw_uri == "/wiki/api/v2/pages/1000?body-format=storage"


def test_hierarchy_labels_versions_and_blogposts(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    assert len(list(confluence_client.iter_direct_children(1000))) == 5
    assert len(list(confluence_client.iter_descendants(1000, depth=2))) == 7
    assert [label["name"] for label in confluence_client.iter_page_labels(1000)] == ["stale"]
    assert [v["number"] for v in confluence_client.iter_page_versions(1000)] == [3, 2, 1]
    assert len(list(confluence_client.iter_blogposts(space_ids=[1]))) == 30
    assert len(list(confluence_client.iter_space_blogposts(1))) == 30
    assert "/wiki/api/v2/pages/1000/descendants?limit=250&depth=2" in [a.raw_uri for a in fake_site.arrivals]


def test_generic_get_and_iter(confluence_client: ConfluenceClient) -> None:
    assert confluence_client.get("/spaces/1")["key"] == "ENG"
    assert confluence_client.get("/api/v2/spaces/1")["key"] == "ENG"
    assert len(list(confluence_client.iter("/pages", {"limit": "100"}))) == 600


def test_ids_in_paths_cannot_escape_their_segment(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    with pytest.raises(ConfluenceNotFoundError):
        confluence_client.get_page("1000/../../spaces/1")
    assert fake_site.arrivals[-1].raw_uri == "/wiki/api/v2/pages/1000%2F..%2F..%2Fspaces%2F1"


def test_site_admin_check_uses_v1_user_operations(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    assert confluence_client.is_site_admin("admin-1") is True
    assert confluence_client.is_site_admin("user-1") is False
    assert confluence_client.get_user_operations("admin-1") == [
        {"operation": "administer", "targetType": "application"}
    ]
    assert fake_site.arrivals[0].raw_uri == "/wiki/rest/api/user?accountId=admin-1&expand=operations"
    with pytest.raises(ConfluenceNotFoundError):
        confluence_client.is_site_admin("nobody")


def test_settings_from_config() -> None:
    settings = ClientSettings.from_config(
        {"KEY": "my.app", "OAUTH_URL": "http://127.0.0.1:1", "CONFLUENCE_TIMEOUT": 3.5}
    )
    assert (settings.app_key, settings.oauth_url, settings.timeout) == ("my.app", "http://127.0.0.1:1", 3.5)
    assert settings.policy.max_attempts == 5 and settings.policy.max_retry_after == 30.0
