"""The hot path (app/hot_path.py) gives the answer Flask's request cycle gives, byte for byte.

Two apps share one database and one fixed clock: ``hot`` as deployed, ``flask_only`` with
``APP_HOT_PATH=false``. Each request is sent to both; the answers must have the same status, the same
headers (but the request id each makes up) and the same body, and the hot path's counter must show
that it, not Flask, answered the ``hot`` one. Both apps are warmed first (tenant, settings, report,
viewer's rows, rendered page), as a busy process is.
"""

from __future__ import annotations

import io
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import werkzeug.local
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from werkzeug.test import TestResponse

from app import create_app
from app.db import get_engine, get_session
from app.hot_path import HotPath
from app.local_copies import copies
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.confluence import ADMIN_ACCOUNT, USER_ACCOUNT
from tests.kit.database import create_schema
from tests.views.conftest import SCANNING, run_jobs

MACRO = "/macros/freshness"
ADMIN = "/admin/freshness"
PARAMS = {"pageId": "1000001", "spaceKey": "DOCS", "staleDays": "1"}


@dataclass
class Pair:
    hot: FlaskClient
    flask_only: FlaskClient
    site: Site
    now: int


def hot_answers() -> float:
    return sum(
        REGISTRY.get_sample_value("freshness_hot_path_answers_total", {"route": route}) or 0.0
        for route in (MACRO, ADMIN)
    )


@pytest.fixture
def pair(
    app_overrides: dict[str, Any], database_url: str, atlassian: Atlassian, site: Site
) -> Iterator[Pair]:
    create_schema(database_url)
    now = int(time.time())
    # A fixed clock makes every time-dependent byte (scope tokens, "computed … ago") the same in both;
    # a long copy lifetime keeps both apps warm for the whole test.
    settings = {**app_overrides, "CLOCK": lambda: float(now), "HOT_CACHE_SECONDS": 10.0}
    hot, flask_only = create_app(settings), create_app({**settings, "HOT_PATH": False})
    assert _wraps_hot_path(hot)
    assert not _wraps_hot_path(flask_only)
    try:
        hot_client = hot.test_client()
        assert install(hot_client, atlassian, site).status_code == 204
        yield Pair(hot_client, flask_only.test_client(), site, now)
    finally:
        for application in (hot, flask_only):
            get_engine(application).dispose()


def _wraps_hot_path(app: Flask) -> bool:
    layer: Any = app.wsgi_app
    while layer is not None and not isinstance(layer, HotPath):
        layer = getattr(layer, "app", None)  # the environ and proxy layers keep the next in .app
    return layer is not None


def signed(pair: Pair, params: dict[str, str] | None = None, **token: Any) -> str:
    return pair.site.signed_url(MACRO, {**PARAMS, **(params or {})}, now=pair.now, **token)


def warm(pair: Pair, url: str) -> None:
    """Load ``url`` until both apps answer it warm (the first load queues the scan; a worker runs it)."""
    body = pair.hot.get(url).get_data(as_text=True)
    if SCANNING in body:
        assert run_jobs(pair.hot.application) >= 1
    for client in (pair.hot, pair.flask_only):
        for _ in range(2):
            response = client.get(url)
            assert SCANNING not in response.get_data(as_text=True)


def comparable(response: TestResponse, *, keep_request_id: bool = False) -> tuple[int, list[Any], bytes]:
    headers = sorted(
        (name.lower(), value)
        for name, value in response.headers.items()
        if keep_request_id or name.lower() != "x-request-id"
    )
    return response.status_code, headers, response.get_data()


def both(pair: Pair, url: str, *, method: str = "GET", hot: bool = True, **kwargs: Any) -> TestResponse:
    """Send ``url`` to both apps; assert the same answer, and that the hot path answered (``hot``)."""
    before = hot_answers()
    from_hot = pair.hot.open(url, method=method, **kwargs)
    after = hot_answers()
    from_flask = pair.flask_only.open(url, method=method, **kwargs)
    assert hot_answers() == after, "the flask-only app must not answer on the hot path"
    keep = "headers" in kwargs and "X-Request-Id" in kwargs["headers"]
    assert comparable(from_hot, keep_request_id=keep) == comparable(from_flask, keep_request_id=keep)
    assert after - before == (1 if hot else 0), "the hot path did not answer" if hot else "it should not"
    return from_hot


def test_a_warm_macro_load_is_answered_by_the_hot_path_as_flask_answers_it(pair: Pair) -> None:
    warm(pair, signed(pair))
    response = both(pair, signed(pair))
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    assert 'data-scope="' in response.get_data(as_text=True)


def test_head_gives_the_same_headers_and_no_body(pair: Pair) -> None:
    warm(pair, signed(pair))
    url = f"{MACRO}?pageId=1000001&spaceKey=DOCS&staleDays=1"
    head = f"{url}&jwt={pair.site.host_token('HEAD', url, now=pair.now)}"
    response = both(pair, head, method="HEAD")
    assert response.get_data() == b""
    assert int(response.headers["Content-Length"]) > 1000


def test_a_token_in_the_authorization_header(pair: Pair) -> None:
    warm(pair, signed(pair))
    url = f"{MACRO}?pageId=1000001&spaceKey=DOCS&staleDays=1"
    token = pair.site.host_token("GET", url, now=pair.now)
    response = both(pair, url, headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 200


def test_an_incoming_request_id_is_echoed_by_both(pair: Pair) -> None:
    warm(pair, signed(pair))
    response = both(pair, signed(pair), headers={"X-Request-Id": "lb-1234"})
    assert response.headers["X-Request-Id"] == "lb-1234"


def test_another_viewer_and_other_parameters(pair: Pair) -> None:
    url = signed(pair, {"rows": "3", "staleDays": "2"}, sub=USER_ACCOUNT)
    warm(pair, url)
    response = both(pair, signed(pair, {"rows": "3", "staleDays": "2"}, sub=USER_ACCOUNT))
    assert response.status_code == 200


def test_an_anonymous_viewer_gets_the_same_withheld_rows(pair: Pair) -> None:
    warm(pair, signed(pair, sub=None))
    response = both(pair, signed(pair, sub=None))
    assert "Sign in to Confluence" in response.get_data(as_text=True)


def test_a_query_with_plus_signs_and_encoded_text(pair: Pair) -> None:
    params = {"macroId": "a+b c/é", "outputType": "display"}
    warm(pair, signed(pair, params))
    assert both(pair, signed(pair, params)).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        {"qsh": "0" * 64},  # a qsh for another URL
        {"lifetime": -3600},  # expired an hour ago
    ],
    ids=["wrong-qsh", "expired"],
)
def test_refusals_are_the_same_401(pair: Pair, token: dict[str, Any]) -> None:
    warm(pair, signed(pair))
    bad = signed(pair, **token)
    pair.hot.get(bad)  # the first refusal renders its page (through Flask); later ones are hot
    pair.flask_only.get(bad)
    response = both(pair, signed(pair, **token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("JWT realm=")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_missing_token_is_the_same_401(pair: Pair) -> None:
    url = f"{MACRO}?pageId=1000001&spaceKey=DOCS"
    pair.hot.get(url)
    pair.flask_only.get(url)
    assert both(pair, url).status_code == 401


def test_what_the_hot_path_cannot_settle_goes_to_flask_unchanged(pair: Pair) -> None:
    warm(pair, signed(pair))
    # A tenant no process has cached, a bad parameter, a method other than GET/HEAD: Flask answers.
    assert both(pair, signed(pair, {"rows": "many"}), hot=False).status_code == 400
    assert both(pair, signed(pair), method="POST", hot=False).status_code in (401, 405)
    stranger = Site(base_url="https://stranger.atlassian.net/wiki")
    assert both(pair, stranger.signed_url(MACRO, PARAMS), hot=False).status_code == 401
    # A signature that fails against the cached secret: Flask reads the store again.
    assert both(pair, signed(pair, secret="not-the-secret"), hot=False).status_code == 401


def test_a_first_load_and_a_stale_report_go_to_flask(pair: Pair) -> None:
    url = signed(pair, {"spaceKey": "ENG"})
    assert both(pair, url, hot=False).status_code == 200  # nothing cached yet: the scanning page


def test_the_admin_page_for_an_administrator_this_process_knows(pair: Pair) -> None:
    url = pair.site.signed_url(ADMIN, {}, now=pair.now, sub=ADMIN_ACCOUNT)
    for client in (pair.hot, pair.flask_only):  # each process asks Confluence once
        assert client.get(url).status_code == 200
    # Each ask recorded the site's health ("last successful call"), the second one after the first
    # app had kept its copy: both apps read it afresh, so they show one and the same health row.
    for client in (pair.hot, pair.flask_only):
        with client.application.app_context():
            copies(get_session(), "tenant_health").clear()
    response = both(pair, pair.site.signed_url(ADMIN, {"cv": "1.2"}, now=pair.now, sub=ADMIN_ACCOUNT))
    assert response.status_code == 200
    assert 'data-testid="scan-counts"' in response.get_data(as_text=True)


def test_the_admin_page_for_anyone_else_goes_to_flask(pair: Pair) -> None:
    # Not an administrator (Confluence says so), or nobody signed in: Flask refuses, as before.
    url = pair.site.signed_url(ADMIN, {}, now=pair.now, sub=USER_ACCOUNT)
    pair.hot.get(url)
    pair.flask_only.get(url)
    assert (
        both(pair, pair.site.signed_url(ADMIN, {}, now=pair.now, sub=USER_ACCOUNT), hot=False).status_code
        == 403
    )
    assert both(pair, pair.site.signed_url(ADMIN, {}, now=pair.now, sub=None), hot=False).status_code == 403


def test_a_query_with_bytes_that_are_not_utf8_goes_to_flask(pair: Pair) -> None:
    # request.args keeps such bytes percent-encoded where the qsh's parse has U+FFFD: Flask decides.
    warm(pair, signed(pair))
    url = f"{MACRO}?pageId=1000001&spaceKey=DOCS&staleDays=1&macroId=%FF"
    signed_url = f"{url}&jwt={pair.site.host_token('GET', url, now=pair.now)}"
    assert both(pair, signed_url, hot=False).status_code == 200


def test_a_refusal_line_names_its_request_as_flasks_does(pair: Pair) -> None:
    warm(pair, signed(pair))
    bad = signed(pair, qsh="0" * 64)
    pair.hot.get(bad)  # the first refusal renders its page (through Flask); later ones are hot
    pair.flask_only.get(bad)
    lines = {}
    for name, client in (("hot", pair.hot), ("flask", pair.flask_only)):
        stream = io.StringIO()
        before = hot_answers()
        response = client.get(bad, environ_overrides={"wsgi.errors": stream})
        assert response.status_code == 401
        assert hot_answers() - before == (1 if name == "hot" else 0)
        refused = [line for line in stream.getvalue().splitlines() if " refused GET " in line]
        assert len(refused) == 1, stream.getvalue()
        request_id = response.headers["X-Request-Id"]
        assert f"request_id={request_id}" in refused[0]
        lines[name] = refused[0].split(" INFO ", 1)[1].replace(request_id, "ID")
    assert lines["hot"] == lines["flask"]


def test_a_warm_load_looks_nothing_up_through_flasks_proxies(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each current_app.x / g.x costs a LocalProxy descriptor lookup (about 0.7 µs, sixteen of them were
    # a twelfth of a warm macro load); the hot path takes the objects once (app/contexts.py).
    macro = signed(pair)
    admin = pair.site.signed_url(ADMIN, {}, now=pair.now, sub=ADMIN_ACCOUNT)
    warm(pair, macro)
    assert pair.hot.get(admin).status_code == 200  # asks Confluence once; later loads are warm
    lookups: list[str] = []
    real_get = werkzeug.local._ProxyLookup.__get__

    def counting_get(self: Any, instance: object, owner: type | None = None) -> Any:
        if instance is not None:
            lookups.append("".join(traceback.format_stack(limit=3)[:1]))  # where it was looked up
        return real_get(self, instance, owner)

    monkeypatch.setattr(werkzeug.local._ProxyLookup, "__get__", counting_get)
    for url in (signed(pair), pair.site.signed_url(ADMIN, {"cv": "1.3"}, now=pair.now, sub=ADMIN_ACCOUNT)):
        before = hot_answers()
        response = pair.hot.get(url)
        assert response.status_code == 200
        assert hot_answers() - before == 1, "the hot path did not answer"
    assert lookups == [], "\n".join(lookups)
