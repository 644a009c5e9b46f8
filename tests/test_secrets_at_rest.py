"""Shared secrets sealed at rest: what the database holds, rotation, and a missing key."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.db import get_engine
from app.secrets_at_rest import PREFIX, SecretBox, SecretsUnavailableError, configure, parse_keys
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site

MACRO = {"spaceKey": "DOCS"}


def raw_secrets(app: Flask) -> list[str]:
    with get_engine(app).connect() as conn:
        return [row[0] for row in conn.execute(sa.text("SELECT shared_secret FROM tenant"))]


@pytest.fixture
def keyed_app(app_overrides: dict[str, Any], app: Flask) -> Any:
    """Apps on the same database, built with the keys a test asks for."""
    made: list[Flask] = []

    def make(*keys: str) -> Flask:
        application = create_app({**app_overrides, "SECRETS_KEYS": ",".join(keys)})
        made.append(application)
        return application

    yield make
    for application in made:
        get_engine(application).dispose()
    configure([])  # leave this process's box as an app without keys sets it


def test_box_round_trip_and_plaintext_passthrough() -> None:
    key = Fernet.generate_key().decode()
    box = SecretBox([key])
    sealed = box.seal("s3cret")
    assert sealed.startswith(PREFIX) and "s3cret" not in sealed
    assert box.open(sealed) == "s3cret"
    assert box.open("legacy-plain") == "legacy-plain"
    assert SecretBox().seal("x") == "x"


def test_rotation_opens_old_and_seals_new() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = SecretBox([old]).seal("s")
    rotated = SecretBox([new, old]).reseal(sealed_old)
    assert SecretBox([new]).open(rotated) == "s"
    with pytest.raises(SecretsUnavailableError):
        SecretBox([old]).open(rotated)


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="Fernet key"):
        parse_keys("not-a-key")
    assert parse_keys(" , ") == []


def test_with_keys_the_database_holds_no_secret_and_the_app_works(
    keyed_app: Any, atlassian: Atlassian, site: Site
) -> None:
    app = keyed_app(Fernet.generate_key().decode())
    client = app.test_client()
    assert install(client, atlassian, site).status_code == 204
    [stored] = raw_secrets(app)
    assert stored.startswith(PREFIX) and site.shared_secret not in stored
    assert client.get(site.signed_url("/macros/freshness", MACRO)).status_code == 200


def test_seal_secrets_seals_old_rows_and_rotates(
    app: Flask, client: FlaskClient, keyed_app: Any, atlassian: Atlassian, site: Site
) -> None:
    assert install(client, atlassian, site).status_code == 204  # no keys: stored as given
    assert raw_secrets(app) == [site.shared_secret]
    first = Fernet.generate_key().decode()
    keyed = keyed_app(first)
    result = keyed.test_cli_runner().invoke(args=["tenants", "seal-secrets"])
    assert result.exit_code == 0 and "1 tenant" in result.output
    [sealed] = raw_secrets(keyed)
    assert SecretBox([first]).open(sealed) == site.shared_secret
    second = Fernet.generate_key().decode()
    rotated_app = keyed_app(second, first)
    assert rotated_app.test_cli_runner().invoke(args=["tenants", "seal-secrets"]).exit_code == 0
    [rotated] = raw_secrets(rotated_app)
    assert SecretBox([second]).open(rotated) == site.shared_secret
    assert rotated_app.test_client().get(site.signed_url("/macros/freshness", MACRO)).status_code == 200


def test_seal_secrets_without_keys_says_what_to_do(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["tenants", "seal-secrets"])
    assert result.exit_code != 0 and "APP_SECRETS_KEYS" in result.output


def test_sealed_rows_without_the_key_are_a_503_not_a_500(
    keyed_app: Any, atlassian: Atlassian, site: Site
) -> None:
    sealed_app = keyed_app(Fernet.generate_key().decode())
    assert install(sealed_app.test_client(), atlassian, site).status_code == 204
    keyless = keyed_app()
    response = keyless.test_client().get(site.signed_url("/macros/freshness", MACRO))
    assert response.status_code == 503
    assert site.shared_secret not in response.get_data(as_text=True)
