"""examples/hello_connect, a second app on the framework: installs into the emulator and renders."""

from __future__ import annotations

import re
import tempfile
from html import unescape

import requests
from flask import Flask

from app.db import get_engine
from examples.hello_connect import create_app
from tests.kit.database import create_schema
from tests.kit.live_sites import HTTP_TIMEOUT, app_config, running_emulator, serve_on_free_port

MODULE = re.compile(r'<iframe class="ap-iframe" src="([^"]+)"[^>]*?data-ap-module-key="page-count"')


def test_hello_connect_installs_and_counts_the_pages_of_a_space() -> None:
    with running_emulator(pages=700) as emulator, tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/hello.db"
        create_schema(database)

        def build(port: int) -> Flask:
            config = app_config(f"http://127.0.0.1:{port}", emulator.url, database, f"{tmp}/jobs.db")
            config["KEY"] = "com.example.hello-connect"
            return create_app(config)

        app, server = serve_on_free_port(build)
        try:
            installed = requests.post(
                f"{emulator.url}/_emulator/apps",
                json={"descriptorUrl": f"{server.url}/atlassian-connect.json"},
                timeout=HTTP_TIMEOUT,
            )
            assert installed.status_code == 201, installed.text
            home = requests.get(emulator.space_home_url("DOCS"), timeout=HTTP_TIMEOUT).text
            match = MODULE.search(home)
            assert match, "the emulator frames the example's macro on the space's home page"
            page = requests.get(unescape(match.group(1)), timeout=HTTP_TIMEOUT)
            assert page.status_code == 200, page.text
            site = emulator.state.site
            space = site.space_by_key("DOCS")
            assert space is not None
            # v2 lists a space's current and archived pages by default (the spec's status default).
            listed = sum(
                1 for i in site.pages_by_space[space.id] if site.content[i].status in ("current", "archived")
            )
            count = re.search(r'data-testid="count">(\d+)<', page.text)
            assert count and int(count.group(1)) == listed > 250  # more than one page of results
            unsigned = requests.get(f"{server.url}/macros/page-count?spaceKey=DOCS", timeout=HTTP_TIMEOUT)
            assert unsigned.status_code == 401  # the framework's inbound JWT check guards it
        finally:
            server.stop()
            get_engine(app).dispose()
