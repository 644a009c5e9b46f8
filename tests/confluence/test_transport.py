"""Faults on the wire: Retry-After, backoff, bounds, idempotency, typed errors and events."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import requests

from app.confluence import ClientEvent, ClientSettings, ConfluenceClient, client_as_app
from app.confluence.auth import ConnectJWTAuth
from app.confluence.retry import RetryPolicy
from app.confluence.transport import Transport
from app.errors import (
    ConfluenceBadResponseError,
    ConfluenceError,
    ConfluenceForbiddenError,
    ConfluenceNotFoundError,
    ConfluenceRateLimitedError,
    ConfluenceServerError,
    ConfluenceTransportError,
    ConfluenceUnauthorizedError,
)
from tests.confluence.conftest import PAGES, Credentials
from tests.confluence.fake_confluence import SECRET, FakeConfluence, Fault
from tests.kit.constants import APP_KEY
from tests.kit.processes import free_port

QuickClient = Callable[..., ConfluenceClient]


def test_429_and_503_are_retried_no_sooner_than_retry_after(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    fake_site.script(Fault.rate_limited("0.2"), Fault.unavailable("0.1"))
    ids = [page["id"] for page in confluence_client.iter_pages()]
    assert len(ids) == len(set(ids)) == PAGES
    arrivals = fake_site.arrivals
    assert [a.status for a in arrivals[:3]] == [429, 503, 200]
    for earlier, later in itertools.pairwise(arrivals):
        if earlier.retry_after is not None:
            assert later.at - earlier.at >= earlier.retry_after
    assert fake_site.auth_failures == []  # every retry was signed again, for its own URL


def test_rate_limits_in_the_middle_of_pagination_lose_and_repeat_nothing(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    pages = confluence_client.iter_pages()
    first = [next(pages) for _ in range(250)]
    fake_site.script(Fault.rate_limited("0.1"), Fault.dropped(), Fault.unavailable())
    rest = list(pages)
    ids = [page["id"] for page in first + rest]
    assert sorted(ids) == sorted(str(1000 + i) for i in range(PAGES))
    assert [a.status for a in fake_site.arrivals] == [200, 429, 500, 503, 200, 200]  # 500: the dropped one
    assert all("/wiki/wiki" not in a.raw_uri for a in fake_site.arrivals)
    assert fake_site.auth_failures == []


def test_a_dropped_connection_is_retried_for_get(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(Fault.dropped(), Fault.dropped())
    assert client_space_key(quick_client()) == "ENG"
    assert len(fake_site.arrivals) == 3 and len(sleeps) == 2


def client_space_key(confluence: ConfluenceClient) -> str:
    return str(confluence.get_space(1)["key"])


def test_retries_are_bounded_by_attempts_with_growing_backoff(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(*[Fault(500)] * 10)
    with pytest.raises(ConfluenceServerError) as info:
        quick_client(max_attempts=4).get_space(1)
    assert len(fake_site.arrivals) == 4
    assert len(sleeps) == 3
    assert info.value.status == 500 and info.value.method == "GET"
    # equal-jitter exponential backoff: each wait lies in [step/2, step] for steps 0.5, 1, 2
    for wait, step in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert step / 2 <= wait <= step


def test_retries_are_bounded_by_total_time(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(*[Fault(502)] * 10)
    with pytest.raises(ConfluenceServerError):
        quick_client(max_attempts=10, max_total_seconds=0.4).get_space(1)
    # the first backoff is at least 0.25 s, so at most one retry fits in 0.4 s, and never a second
    assert len(fake_site.arrivals) <= 2 and len(sleeps) == len(fake_site.arrivals) - 1
    assert sum(sleeps) <= 0.4


def test_a_post_is_never_retried(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(Fault.unavailable("0.01"))
    with pytest.raises(ConfluenceRateLimitedError):
        quick_client().post("/pages", {"title": "New"})
    fake_site.script(Fault.dropped())
    with pytest.raises(ConfluenceTransportError):
        quick_client().post("/pages", {"title": "New"})
    assert [a.method for a in fake_site.arrivals] == ["POST", "POST"]
    assert sleeps == []


def test_a_retry_after_longer_than_the_clamp_gives_up_without_sending_early(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(Fault.rate_limited("120"))
    with pytest.raises(ConfluenceRateLimitedError) as info:
        quick_client(max_retry_after=30).get_space(1)
    assert info.value.retry_after == 120
    assert info.value.status == 429
    assert len(fake_site.arrivals) == 1 and sleeps == []


def test_a_429_within_the_clamp_waits_exactly_what_was_asked(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(Fault.rate_limited("7"), Fault.rate_limited("3"))
    assert client_space_key(quick_client(max_retry_after=10)) == "ENG"
    assert sleeps == [7.0, 3.0]


def test_rate_limited_error_after_the_last_attempt_carries_retry_after(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    fake_site.script(*[Fault.rate_limited("0.5")] * 3)
    with pytest.raises(ConfluenceRateLimitedError) as info:
        quick_client(max_attempts=3).get_space(1)
    assert info.value.retry_after == 0.5
    assert sleeps == [0.5, 0.5]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ConfluenceError),
        (401, ConfluenceUnauthorizedError),
        (403, ConfluenceForbiddenError),
        (404, ConfluenceNotFoundError),
        (501, ConfluenceServerError),
    ],
)
def test_errors_are_typed_per_status_and_carry_the_request_but_no_credentials(
    quick_client: QuickClient, fake_site: FakeConfluence, status: int, error: type[ConfluenceError]
) -> None:
    fake_site.script(Fault(status))
    with pytest.raises(error) as info:
        quick_client().get("/pages", {"title": "Secret plans"})
    exc = info.value
    assert type(exc) is error
    assert (exc.method, exc.status) == ("GET", status)
    assert exc.url is not None and exc.url.startswith(fake_site.base_url + "/api/v2/pages?title=Secret")
    assert exc.url in str(exc)
    for text in (str(exc), repr(exc), repr(exc.__dict__)):
        assert SECRET not in text and "JWT " not in text and "eyJ" not in text
    assert len(fake_site.arrivals) == 1  # 4xx and 501 are final


def test_a_body_that_is_not_json_is_a_bad_response(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    fake_site.script(Fault(200, body="<html>maintenance</html>"))
    with pytest.raises(ConfluenceBadResponseError) as info:
        confluence_client.get_page(1000)
    assert info.value.status == 200 and info.value.method == "GET"
    assert info.value.url == fake_site.base_url + "/api/v2/pages/1000"


def test_connection_refused_is_a_transport_error(sleeps: list[float]) -> None:
    base = f"http://127.0.0.1:{free_port()}/wiki"  # a port nobody listens on
    with requests.Session() as session:
        transport = Transport(
            session, timeout=1.0, user_agent="t", policy=RetryPolicy(max_attempts=2), sleep=sleeps.append
        )
        auth = ConnectJWTAuth(app_key="k", shared_secret=SECRET, base_url=base)
        with pytest.raises(ConfluenceTransportError) as info:
            ConfluenceClient(base, auth, transport).get_space(1)
    assert info.value.url == f"{base}/api/v2/spaces/1" and info.value.status is None
    assert len(sleeps) == 1 and SECRET not in repr(info.value)


def test_events_report_each_attempt(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence, events: list[ClientEvent]
) -> None:
    fake_site.script(Fault.rate_limited("0.05"))
    confluence_client.get_space(1)
    assert [(e.status, e.retry, e.rate_limited, e.ok) for e in events] == [
        (429, 0, True, False),
        (200, 1, False, True),
    ]
    assert all(e.method == "GET" and e.url.endswith("/wiki/api/v2/spaces/1") for e in events)


def test_event_elapsed_is_the_attempts_own_time(fake_site: FakeConfluence, events: list[ClientEvent]) -> None:
    """Each event times its own attempt: not the wait before it, not the attempts before it."""
    now = [1000.0]
    answer_times = iter([0.3, 0.1])  # how long each answer "takes" on the injected monotonic clock

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def answered(response: requests.Response, *args: object, **kwargs: object) -> None:
        now[0] += next(answer_times)

    fake_site.script(Fault.rate_limited("2"))
    with requests.Session() as session:
        session.hooks["response"].append(answered)
        transport = Transport(
            session,
            timeout=5.0,
            user_agent="t",
            policy=RetryPolicy(max_attempts=2, max_retry_after=5.0),
            on_event=events.append,
            sleep=sleep,
            monotonic=lambda: now[0],
        )
        auth = ConnectJWTAuth(app_key=APP_KEY, shared_secret=SECRET, base_url=fake_site.base_url)
        ConfluenceClient(fake_site.base_url, auth, transport).get_space(1)
    assert [e.status for e in events] == [429, 200]
    assert [e.elapsed for e in events] == [pytest.approx(0.3), pytest.approx(0.1)]
    assert now[0] == pytest.approx(1002.4)  # both answers and the 2 s Retry-After wait


def test_a_failing_event_hook_does_not_break_the_call(creds: Credentials, settings: ClientSettings) -> None:
    def explode(event: ClientEvent) -> None:
        raise RuntimeError("metrics down")

    with client_as_app(creds, settings, on_event=explode) as confluence:
        assert confluence.get_space(1)["key"] == "ENG"


def test_requests_carry_the_app_user_agent(
    confluence_client: ConfluenceClient, fake_site: FakeConfluence
) -> None:
    confluence_client.get_space(1)
    assert fake_site.arrivals[0].user_agent.startswith("confluence-freshness/")
    assert fake_site.arrivals[0].user_agent.endswith("(+python-requests)")
    assert confluence_client.transport.timeout == 5.0


def test_process_wide_observers_see_every_attempt_with_its_retry_after(
    quick_client: QuickClient, fake_site: FakeConfluence, sleeps: list[float]
) -> None:
    """What the metrics hook relies on: every confluence_client reports to it, with Retry-After's value."""
    from app.confluence import events as client_events

    seen: list[ClientEvent] = []
    client_events.observe_every_client(seen.append)
    try:
        fake_site.script(Fault.rate_limited("0.5"), Fault(500))
        assert client_space_key(quick_client()) == "ENG"  # a client built without any on_event hook
    finally:
        client_events._observers.remove(seen.append)
    assert [(e.status, e.retry, e.rate_limited, e.retry_after) for e in seen] == [
        (429, 0, True, 0.5),
        (500, 1, False, None),
        (200, 2, False, None),
    ]
    assert sleeps[0] == 0.5


def test_a_failing_process_observer_breaks_nothing(
    quick_client: QuickClient, fake_site: FakeConfluence
) -> None:
    from app.confluence import events as client_events

    def broken(event: ClientEvent) -> None:
        raise RuntimeError("metrics store full")

    client_events.observe_every_client(broken)
    try:
        assert client_space_key(quick_client()) == "ENG"
    finally:
        client_events._observers.remove(broken)
