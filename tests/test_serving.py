"""The documented commands: migrate with ``flask db upgrade``, serve with the Procfile's ``web:`` line
(granian), gunicorn or ``flask run``, then install over real HTTP with a signed install and load module
routes with product-signed URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.kit.atlassian import AWKWARD_QUERY, Atlassian, Site, install_over_http
from tests.kit.confluence import FakeConfluence
from tests.kit.processes import BIN, flask, free_port, running
from tests.kit.procfile import migrated_env, web_command, web_env

AWKWARD = [
    ("pageId", "98310"),
    ("spaceKey", "DOCS"),
    ("xdm_e", "https://acme.atlassian.net"),
    ("cp", "/wiki"),
    *AWKWARD_QUERY,
]


@pytest.mark.parametrize("server", ["flask run", "gunicorn", "granian"])
def test_commands_serve_a_signed_install_and_signed_module_urls(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence, server: str
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = migrated_env(tmp_path, atlassian, base_url)
    if server == "flask run":
        command = [str(BIN / "flask"), "--app", "app", "run", "--port", str(port)]
    elif server == "gunicorn":
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "app:create_app()"]
    else:  # production: the Procfile's web: line
        command, env = web_command(), web_env(env, port=port)
    with running(command, env=env, probe_url=f"{base_url}/atlassian-connect.json"):
        descriptor = requests.get(f"{base_url}/atlassian-connect.json", timeout=5).json()
        assert descriptor["baseUrl"] == base_url

        site = Site(base_url=confluence.base_url)
        install_over_http(base_url, atlassian, confluence, site)

        for module in ("/macros/freshness", "/admin/freshness"):
            page = requests.get(base_url + site.signed_url(module, AWKWARD), timeout=10)
            assert page.status_code == 200, page.text
            assert "Content freshness" in page.text
            tampered = requests.get(base_url + site.signed_url(module, AWKWARD) + "&star=x", timeout=10)
            assert tampered.status_code == 401

        listed = flask("tenants", "list", env=env)
        assert site.client_key in listed.stdout and site.shared_secret not in listed.stdout
