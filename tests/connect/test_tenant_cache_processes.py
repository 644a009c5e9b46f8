"""The refusal bound of the hot path, with two real app processes sharing one database.

Two servers run the Procfile's ``web:`` line (granian, one worker each) on one database, as two
machines behind a load balancer would. Every lifecycle callback goes to process A; the probes that
matter go to process B, which keeps tenants for ``APP_HOT_CACHE_SECONDS`` (docs/architecture.md, "The
hot path"). The bound under test: once A has committed an uninstall, or a reinstall with a new
secret, B refuses the old state within that many seconds; A, which handled the callback, refuses it
at once; and a new secret is accepted by B at once (one re-read on a signature mismatch).

The probe is ``POST /api/freshness/status`` with a context token: authentication runs first, so 401
means refused and 405 (the route only answers GET) means accepted, and nothing is stored either way.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests

from tests.kit.atlassian import Atlassian, Site, install_over_http, uninstall_over_http
from tests.kit.confluence import FakeConfluence
from tests.kit.processes import free_port, running
from tests.kit.procfile import migrated_env, web_command, web_env

#: What the two processes are configured with (APP_HOT_CACHE_SECONDS).
TTL = 2.0
#: Allowance for scheduling and one HTTP round trip on a busy two-core machine.
SLACK = 0.75
ACCEPTED, REFUSED = 405, 401


@dataclass
class Pair:
    a: str
    b: str


@pytest.fixture
def pair(tmp_path: Path, atlassian: Atlassian) -> Iterator[Pair]:
    port_a, port_b = free_port(), free_port()
    base_url = f"http://127.0.0.1:{port_a}"  # both serve the app whose descriptor A publishes
    env = migrated_env(tmp_path, atlassian, base_url, APP_HOT_CACHE_SECONDS=str(TTL))
    with (
        running(
            web_command(),
            env=web_env(env, port=port_a, workers=1),
            probe_url=f"{base_url}/atlassian-connect.json",
        ),
        running(
            web_command(),
            env=web_env(env, port=port_b, workers=1),
            probe_url=f"http://127.0.0.1:{port_b}/atlassian-connect.json",
        ),
    ):
        yield Pair(base_url, f"http://127.0.0.1:{port_b}")


def probe(url: str, site: Site) -> int:
    token = site.context_token()
    response = requests.post(
        f"{url}/api/freshness/status", headers={"Authorization": f"JWT {token}"}, timeout=10
    )
    assert response.status_code in (ACCEPTED, REFUSED), response.text[:300]
    return response.status_code


def seconds_until_refused(url: str, site: Site, since: float) -> float:
    """Probe every 25 ms until refused; the seconds from ``since`` (bounded by TTL + 5 s)."""
    deadline = since + TTL + 5
    while time.monotonic() < deadline:
        if probe(url, site) == REFUSED:
            return time.monotonic() - since
        time.sleep(0.025)
    raise AssertionError(f"{url} still accepted the old state {TTL + 5} s after the write")


def test_an_uninstall_through_one_process_is_refused_by_the_other_within_the_bound(
    pair: Pair, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    site = Site(base_url=confluence.base_url)
    install_over_http(pair.a, atlassian, confluence, site)
    assert probe(pair.a, site) == ACCEPTED
    assert probe(pair.b, site) == ACCEPTED  # B now keeps the tenant
    warmed = time.monotonic()

    uninstall_over_http(pair.a, atlassian, site)
    committed = time.monotonic()
    assert probe(pair.a, site) == REFUSED  # the process that handled it evicted at once
    # B may still accept the old state, but only within the bound; this first probe shows the kept
    # copy is real (the bound is not vacuous) whenever the machine was quick enough to ask in time.
    first = probe(pair.b, site)
    if time.monotonic() - warmed < TTL - SLACK:
        assert first == ACCEPTED
    waited = seconds_until_refused(pair.b, site, committed)
    assert waited <= TTL + SLACK, f"B accepted an uninstalled tenant {waited:.2f} s after the uninstall"
    assert [probe(pair.b, site) for _ in range(5)] == [REFUSED] * 5


def test_a_reinstall_with_a_new_secret_is_seen_at_once_and_the_old_secret_refused_within_the_bound(
    pair: Pair, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    site = Site(base_url=confluence.base_url)
    assert probe(pair.b, site) == REFUSED  # unknown: refused, and not kept
    install_over_http(pair.a, atlassian, confluence, site)
    assert probe(pair.b, site) == ACCEPTED  # the refusal above was not kept

    # Reinstall with a new secret: B has the old one in hand.
    assert probe(pair.b, site) == ACCEPTED
    renewed = replace(site, shared_secret=secrets.token_urlsafe(32))
    install_over_http(pair.a, atlassian, confluence, renewed)
    committed = time.monotonic()
    assert probe(pair.a, site) == REFUSED  # A evicted on its own install
    assert probe(pair.a, renewed) == ACCEPTED
    # The old secret lingers in B at most the bound...
    waited = seconds_until_refused(pair.b, site, committed)
    assert waited <= TTL + SLACK, f"B accepted a replaced secret {waited:.2f} s after the reinstall"
    assert probe(pair.b, renewed) == ACCEPTED

    # ...while a new secret is accepted at once: B re-reads once when a signature fails against
    # the secret it keeps, rather than refusing until its copy expires.
    assert probe(pair.b, renewed) == ACCEPTED
    warmed = time.monotonic()
    third = replace(site, shared_secret=secrets.token_urlsafe(32))
    install_over_http(pair.a, atlassian, confluence, third)
    assert probe(pair.b, third) == ACCEPTED
    assert time.monotonic() - warmed < TTL, "too slow to tell a re-read from an expiry"
    assert probe(pair.b, renewed) == REFUSED  # the re-read replaced B's copy
