"""The served descriptor: this deployment's baseUrl, the migrations, modules and lifecycle."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.connect.descriptor import load_template, module_urls
from tests.kit.constants import APP_BASE_URL, APP_KEY


def test_descriptor_is_served_with_this_deployments_base_url(client: FlaskClient) -> None:
    response = client.get("/atlassian-connect.json")
    assert response.status_code == 200
    descriptor = response.get_json()
    assert descriptor["baseUrl"] == APP_BASE_URL
    assert descriptor["key"] == APP_KEY
    assert descriptor["authentication"] == {"type": "jwt"}
    assert descriptor["apiMigrations"] == {"signed-install": True, "context-qsh": True, "gdpr": True}
    assert set(descriptor["lifecycle"]) == {"installed", "uninstalled", "enabled", "disabled"}
    assert "READ" in descriptor["scopes"]
    assert len(descriptor["modules"]["dynamicContentMacros"]) == 1
    assert len(descriptor["modules"]["adminPages"]) == 1


def test_every_macro_parameter_appears_in_the_macro_url() -> None:
    # Confluence passes a parameter only if the URL names it
    # (https://developer.atlassian.com/cloud/confluence/modules/macro-input-parameter/).
    macro = load_template()["modules"]["dynamicContentMacros"][0]
    for parameter in macro["parameters"]:
        assert "{" + parameter["identifier"] + "}" in macro["url"]


def test_every_descriptor_url_is_a_route(client: FlaskClient) -> None:
    for url in module_urls(load_template()):
        path = url.split("?", 1)[0]
        assert client.get(path).status_code == 401, path  # exists, and demands a token
