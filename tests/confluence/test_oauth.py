"""Acting as a user: the JWT-bearer grant against the fake, and the token cache."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest

from app.confluence import ClientSettings, ConfluenceClient, TokenCache, client_as_user
from app.confluence.oauth import TokenKey, normalise_scopes
from app.errors import ConfluenceError
from app.tenants.credentials import Credentials
from tests.confluence.fake_confluence import SECRET, FakeConfluence


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> TokenCache:
    return TokenCache(clock=clock)


@pytest.fixture
def made() -> Iterator[list[ConfluenceClient]]:
    clients: list[ConfluenceClient] = []
    yield clients
    for confluence_client in clients:
        confluence_client.close()


def as_user(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    account_id: str = "user-1",
    scopes: tuple[str, ...] = ("read",),
) -> ConfluenceClient:
    made.append(client_as_user(creds, account_id, settings, cache, scopes=scopes))
    return made[-1]


def test_a_user_client_gets_a_token_and_uses_it(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    confluence_client = as_user(made, creds, settings, cache, scopes=("write read",))
    assert [page["id"] for page in confluence_client.iter_space_pages(1)][:2] == ["1000", "1002"]
    assert fake_site.auth_failures == []
    (token_request,) = fake_site.token_requests
    claims = token_request["claims"]
    assert claims["iss"] == "urn:atlassian:connect:clientid:oauth-confluence_client-1"
    assert claims["sub"] == "urn:atlassian:connect:useraccountid:user-1"
    assert claims["tnt"] == fake_site.base_url and claims["tnt"].endswith("/wiki")
    assert claims["aud"] == fake_site.site_url
    assert 0 < claims["exp"] - claims["iat"] <= 60
    assert token_request["scope"] == "READ WRITE"


def test_one_token_serves_many_calls_and_clients(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    for _ in range(3):
        as_user(made, creds, settings, cache, scopes=("READ",)).get_space(1)
    as_user(made, creds, settings, cache, scopes=("read", "READ")).get_space(1)  # same scope set
    assert len(fake_site.token_requests) == 1
    as_user(made, creds, settings, cache, account_id="admin-1").get_space(1)  # another user
    as_user(made, creds, settings, cache, scopes=("READ", "WRITE")).get_space(1)  # other scopes
    assert len(fake_site.token_requests) == 3


def test_a_new_token_is_fetched_shortly_before_expiry(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    clock: Clock,
    fake_site: FakeConfluence,
) -> None:
    fake_site.token_expires_in = 900
    confluence_client = as_user(made, creds, settings, cache)
    confluence_client.get_space(1)
    clock.now += 860  # renewal is due 30 s before expiry, at +870
    confluence_client.get_space(1)
    assert len(fake_site.token_requests) == 1
    clock.now += 11
    confluence_client.get_space(1)
    confluence_client.get_space(1)
    assert len(fake_site.token_requests) == 2
    assert fake_site.auth_failures == []


def test_concurrent_callers_share_one_token_request(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    fake_site.token_delay = 0.2
    clients = [as_user(made, creds, settings, cache) for _ in range(8)]
    start = threading.Barrier(len(clients))
    keys: list[str] = []
    errors: list[BaseException] = []

    def work(confluence_client: ConfluenceClient) -> None:
        start.wait()
        try:
            keys.append(confluence_client.get_space(1)["key"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(confluence_client,)) for confluence_client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == [] and keys == ["ENG"] * 8
    assert len(fake_site.token_requests) == 1


def test_a_refused_grant_is_a_typed_error_without_secrets(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    wrong = dataclasses.replace(creds, shared_secret="not-the-right-secret-but-long-enough-000")
    confluence_client = as_user(made, wrong, settings, cache)
    with pytest.raises(ConfluenceError) as info:
        confluence_client.get_space(1)
    exc = info.value
    assert (exc.method, exc.status, exc.url) == ("POST", 400, f"{fake_site.site_url}/oauth2/token")
    for text in (str(exc), repr(exc), repr(exc.__dict__)):
        assert creds.shared_secret not in text and "eyJ" not in text
    assert fake_site.arrivals == []  # nothing was sent to Confluence without a token


def test_tokens_and_secrets_stay_out_of_reprs(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    confluence_client = as_user(made, creds, settings, cache)
    confluence_client.get_space(1)
    (token,) = fake_site.issued_tokens
    for text in (
        repr(cache),
        repr(confluence_client),
        repr(confluence_client.auth),
        repr(TokenKey.for_user("t", "u", [], SECRET)),
    ):
        assert token not in text and SECRET not in text


def test_a_tenant_without_oauth_client_id_cannot_act_as_a_user(
    creds: Credentials, settings: ClientSettings, cache: TokenCache
) -> None:
    without = dataclasses.replace(creds, oauth_client_id=None)
    with pytest.raises(ValueError, match="ACT_AS_USER"):
        client_as_user(without, "user-1", settings, cache)


def test_scopes_are_normalised() -> None:
    assert normalise_scopes(["read write", "READ", " act_as_user "]) == {"READ", "WRITE", "ACT_AS_USER"}


def test_a_new_secret_misses_the_cache() -> None:
    assert TokenKey.for_user("t", "u", ["READ"], "old") != TokenKey.for_user("t", "u", ["READ"], "new")


def test_a_revoked_token_is_dropped_and_replaced_once(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    confluence_client = as_user(made, creds, settings, cache)
    confluence_client.get_space(1)
    fake_site.issued_tokens.clear()  # Confluence no longer honours the cached token (revoked, rotated)
    assert confluence_client.get_space(1)["id"] is not None
    assert len(fake_site.token_requests) == 2
    assert len(fake_site.auth_failures) == 1  # the one refused attempt, then the fresh token worked


def test_a_token_refused_twice_is_an_unauthorized_error(
    made: list[ConfluenceClient],
    creds: Credentials,
    settings: ClientSettings,
    cache: TokenCache,
    fake_site: FakeConfluence,
) -> None:
    from app.errors import ConfluenceUnauthorizedError

    confluence_client = as_user(made, creds, settings, cache)
    fake_site.refuse_all_bearers = True
    with pytest.raises(ConfluenceUnauthorizedError):
        confluence_client.get_space(1)
    assert len(fake_site.token_requests) == 2  # one retry with a fresh token, not a loop
