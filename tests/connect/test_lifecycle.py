"""Lifecycle callbacks: signed install, the hijack it prevents, and idempotent events."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.signals import tenant_installed, tenant_uninstalled
from tests.conftest import install, uninstall
from tests.kit.atlassian import Atlassian, Site, generate_rsa_key, qsh
from tests.kit.constants import APP_BASE_URL, APP_KEY
from tests.kit.store import snapshot

MACRO = {"pageId": "1", "spaceKey": "DOCS"}


def post(client: FlaskClient, event: str, body: Any, token: str | None) -> Any:
    headers = {"Authorization": f"JWT {token}"} if token else {}
    return client.post(f"/lifecycle/{event}", json=body, headers=headers)


def hs256_lifecycle_token(site: Site, event: str, secret: str | None = None) -> str:
    return site.host_token("POST", f"/lifecycle/{event}", sub=None, secret=secret)


def test_signed_install_stores_the_tenant(app: Flask, client: FlaskClient, atlassian: Atlassian) -> None:
    site = Site()
    response = install(client, atlassian, site)
    assert response.status_code == 204
    [row] = snapshot(app)
    assert row["client_key"] == site.client_key
    assert row["shared_secret"] == site.shared_secret
    assert row["base_url"] == site.base_url
    assert row["oauth_client_id"] == site.oauth_client_id
    assert row["installation_id"].startswith("ari:cloud:ecosystem::installation/")
    assert row["installed"] is True and row["enabled"] is True


def test_install_emits_the_installed_signal(app: Flask, client: FlaskClient, atlassian: Atlassian) -> None:
    seen: list[str] = []

    def receiver(sender: Flask, tenant: Any) -> None:
        seen.append(tenant.client_key)

    site = Site()
    with tenant_installed.connected_to(receiver):
        assert install(client, atlassian, site).status_code == 204
    assert seen == [site.client_key]


def test_install_key_is_fetched_once_per_kid(client: FlaskClient, atlassian: Atlassian) -> None:
    before = atlassian.key_server.requests.count(atlassian.kid)
    for _ in range(3):
        assert install(client, atlassian, Site()).status_code == 204
    assert atlassian.key_server.requests.count(atlassian.kid) - before <= 1


def test_aud_may_be_a_list_and_may_have_a_trailing_slash(client: FlaskClient, atlassian: Atlassian) -> None:
    site = Site()
    token = atlassian.install_token(site, audience=[APP_BASE_URL + "/"])
    assert post(client, "installed", site.payload("installed", app_key=APP_KEY), token).status_code == 204


# --- Every refused install leaves the store exactly as it was ---------------------------------


def _refused_cases(atlassian: Atlassian, victim: Site) -> dict[str, tuple[dict[str, Any], str | None]]:
    attacker_secret = "attacker-chosen-secret-attacker-chosen"
    hijack = Site(client_key=victim.client_key, base_url=victim.base_url, shared_secret=attacker_secret)
    body = hijack.payload("installed", app_key=APP_KEY)
    other_key = generate_rsa_key()
    now = int(time.time())
    return {
        "unsigned": (body, None),
        "hs256 reinstall signed with the new secret": (body, hs256_lifecycle_token(hijack, "installed")),
        "hs256 reinstall signed with the old secret": (
            body,
            hs256_lifecycle_token(hijack, "installed", secret=victim.shared_secret),
        ),
        "wrong aud": (body, atlassian.install_token(hijack, audience="https://other-app.example")),
        "no aud": (body, atlassian.install_token(hijack, audience=None)),
        "unknown kid": (body, atlassian.install_token(hijack, audience=APP_BASE_URL, kid="no-such-kid")),
        "malformed kid": (body, atlassian.install_token(hijack, audience=APP_BASE_URL, kid="../../etc")),
        "signed by another key than the kid's": (
            body,
            atlassian.install_token(hijack, audience=APP_BASE_URL, key=other_key),
        ),
        "qsh of another URL": (
            body,
            atlassian.install_token(hijack, audience=APP_BASE_URL, url="/lifecycle/uninstalled"),
        ),
        "expired": (
            body,
            atlassian.install_token(hijack, audience=APP_BASE_URL, now=now - 3600, lifetime=60),
        ),
        "iss is not the body clientKey": (
            Site(base_url=victim.base_url, shared_secret=attacker_secret).payload(
                "installed", app_key=APP_KEY
            )
            | {"clientKey": "someone-else"},
            atlassian.install_token(hijack, audience=APP_BASE_URL),
        ),
        "baseUrl host not allowed": (
            hijack.payload("installed", app_key=APP_KEY, baseUrl="https://evil.example.com/wiki"),
            atlassian.install_token(hijack, audience=APP_BASE_URL),
        ),
        "http baseUrl on an Atlassian host": (
            hijack.payload("installed", app_key=APP_KEY, baseUrl="http://acme.atlassian.net/wiki"),
            atlassian.install_token(hijack, audience=APP_BASE_URL),
        ),
        "garbage token": (body, "not.a.jwt"),
    }


CASES = [
    "unsigned",
    "hs256 reinstall signed with the new secret",
    "hs256 reinstall signed with the old secret",
    "wrong aud",
    "no aud",
    "unknown kid",
    "malformed kid",
    "signed by another key than the kid's",
    "qsh of another URL",
    "expired",
    "iss is not the body clientKey",
    "baseUrl host not allowed",
    "http baseUrl on an Atlassian host",
    "garbage token",
]


@pytest.mark.parametrize("case", CASES)
def test_refused_reinstall_changes_nothing(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site, case: str
) -> None:
    before = snapshot(app)
    body, token = _refused_cases(atlassian, installed_site)[case]
    response = post(client, "installed", body, token)
    assert response.status_code in (401, 403), response.get_data(as_text=True)
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"] == f'JWT realm="{APP_KEY}"'
    assert snapshot(app) == before
    # The victim's real secret still works.
    url = installed_site.signed_url("/macros/freshness", MACRO)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    "case", ["unsigned", "hs256 reinstall signed with the new secret", "wrong aud", "expired"]
)
def test_refused_first_install_stores_nothing(
    app: Flask, client: FlaskClient, atlassian: Atlassian, case: str
) -> None:
    body, token = _refused_cases(atlassian, Site())[case]
    assert post(client, "installed", body, token).status_code == 401
    assert snapshot(app) == []


def test_reinstall_with_a_new_secret_replaces_the_old_one(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    old = Site(client_key=installed_site.client_key, shared_secret=installed_site.shared_secret)
    installed_site.shared_secret = "a-brand-new-secret-from-atlassian-0123456789"
    assert install(client, atlassian, installed_site).status_code == 204
    assert client.get(old.signed_url("/macros/freshness", MACRO)).status_code == 401
    assert client.get(installed_site.signed_url("/macros/freshness", MACRO)).status_code == 200
    [row] = snapshot(app)
    assert row["shared_secret"] == installed_site.shared_secret


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ([], "JSON object"),
        ({"eventType": "installed"}, "missing"),
        ({"eventType": "uninstalled"}, "only the 'installed' event"),
    ],
)
def test_bad_payload_is_a_400_and_changes_nothing(
    app: Flask, client: FlaskClient, atlassian: Atlassian, body: Any, message: str
) -> None:
    site = Site()
    token = atlassian.install_token(site, audience=APP_BASE_URL)
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
    response = client.post(
        "/lifecycle/installed",
        headers={"Authorization": f"JWT {token}"},
        content_type="application/json",
        **kwargs,
    )
    assert response.status_code == 400
    assert message in response.get_json()["message"]
    assert snapshot(app) == []


def test_missing_shared_secret_is_a_400(app: Flask, client: FlaskClient, atlassian: Atlassian) -> None:
    site = Site()
    body = site.payload("installed", app_key=APP_KEY)
    del body["sharedSecret"]
    token = atlassian.install_token(site, audience=APP_BASE_URL)
    response = post(client, "installed", body, token)
    assert response.status_code == 400
    assert "sharedSecret" in response.get_json()["message"]
    assert snapshot(app) == []


def test_errors_and_logs_never_contain_the_secret(
    client: FlaskClient, atlassian: Atlassian, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site()
    token = atlassian.install_token(site, audience="https://other-app.example")
    response = post(client, "installed", site.payload("installed", app_key=APP_KEY), token)
    assert response.status_code == 401
    assert site.shared_secret not in response.get_data(as_text=True)
    assert install(client, atlassian, site).status_code == 204
    assert site.shared_secret not in caplog.text
    assert token not in caplog.text


# --- uninstall, enable, disable ----------------------------------------------------------------


def disable(client: FlaskClient, site: Site) -> Any:
    return post(
        client, "disabled", site.payload("disabled", app_key=APP_KEY), hs256_lifecycle_token(site, "disabled")
    )


def test_uninstall_keeps_the_row_and_refuses_the_tenant(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    seen: list[str] = []
    with tenant_uninstalled.connected_to(lambda sender, tenant: seen.append(tenant.client_key)):
        assert uninstall(client, atlassian, installed_site).status_code == 204
    [row] = snapshot(app)
    assert row["installed"] is False and row["uninstalled_at"] is not None
    assert seen == [installed_site.client_key]
    assert client.get(installed_site.signed_url("/macros/freshness", MACRO)).status_code == 401


@pytest.mark.parametrize("order", [("uninstalled", "disabled"), ("disabled", "uninstalled")])
def test_uninstall_and_disable_in_either_order_end_uninstalled(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site, order: tuple[str, str]
) -> None:
    for event in order * 2:  # each twice: idempotent
        response = (
            uninstall(client, atlassian, installed_site)
            if event == "uninstalled"
            else disable(client, installed_site)
        )
        assert response.status_code == 204, (event, response.get_data(as_text=True))
    [row] = snapshot(app)
    assert row["installed"] is False and row["enabled"] is False


def test_uninstall_needs_the_signed_install_token(
    app: Flask, client: FlaskClient, installed_site: Site
) -> None:
    before = snapshot(app)
    token = hs256_lifecycle_token(installed_site, "uninstalled")
    response = post(client, "uninstalled", installed_site.payload("uninstalled", app_key=APP_KEY), token)
    assert response.status_code == 401
    assert snapshot(app) == before


def test_disable_then_enable(app: Flask, client: FlaskClient, installed_site: Site) -> None:
    assert disable(client, installed_site).status_code == 204
    assert snapshot(app)[0]["enabled"] is False
    token = hs256_lifecycle_token(installed_site, "enabled")
    assert (
        post(client, "enabled", installed_site.payload("enabled", app_key=APP_KEY), token).status_code == 204
    )
    assert snapshot(app)[0]["enabled"] is True


@pytest.mark.parametrize("secret", ["wrong-secret-wrong-secret-wrong-secret", None])
def test_enable_with_a_bad_token_changes_nothing(
    app: Flask, client: FlaskClient, installed_site: Site, secret: str | None
) -> None:
    assert disable(client, installed_site).status_code == 204
    before = snapshot(app)
    token = hs256_lifecycle_token(installed_site, "enabled", secret=secret) if secret else None
    response = post(client, "enabled", installed_site.payload("enabled", app_key=APP_KEY), token)
    assert response.status_code == 401
    assert snapshot(app) == before


def test_enable_for_an_unknown_site_is_refused(app: Flask, client: FlaskClient) -> None:
    site = Site()
    response = post(
        client, "enabled", site.payload("enabled", app_key=APP_KEY), hs256_lifecycle_token(site, "enabled")
    )
    assert response.status_code == 401
    assert snapshot(app) == []


def test_lifecycle_urls_refuse_other_methods_only_after_authentication(
    client: FlaskClient, atlassian: Atlassian
) -> None:
    assert client.get("/lifecycle/installed").status_code == 401
    assert client.put("/lifecycle/installed").status_code == 401
    assert client.options("/lifecycle/installed").status_code == 401
    token = atlassian.install_token(Site(), audience=APP_BASE_URL, method="GET")
    response = client.get("/lifecycle/installed", headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 405


def test_install_token_claims_are_checked_with_the_kit_not_with_app_code(atlassian: Atlassian) -> None:
    # Guard against a circular kit: its qsh comes from atlassian-jwt, its signature from PyJWT.
    token = atlassian.install_token(Site(), audience=APP_BASE_URL)
    claims = jwt.decode(token, atlassian.key.public_key(), algorithms=["RS256"], audience=APP_BASE_URL)
    assert claims["qsh"] == qsh("POST", "/lifecycle/installed")
