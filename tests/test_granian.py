"""The app under granian, started with the Procfile's ``web:`` line: the qsh of percent-encoded paths
and queries (granian keeps no raw URI), no process secret in the WSGI environ, and no token in any line
granian or the app writes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import requests

from tests.kit.atlassian import AWKWARD_QUERY, Atlassian, Site, install_over_http
from tests.kit.confluence import FakeConfluence
from tests.kit.faulty_app import BUG_PATH, VIEW_BUG_PATH
from tests.kit.processes import REPO, free_port, running
from tests.kit.procfile import migrated_env, procfile_line, web_command, web_env
from tests.kit.token_leaks import QUERY, request_each, site_secrets, token_of

SECRET_KEY = "flask-secret-key-that-must-stay-in-the-process-0123456789"


def served_env(tmp_path: Path, atlassian: Atlassian, port: int, **extra: str) -> dict[str, str]:
    env = migrated_env(tmp_path, atlassian, f"http://127.0.0.1:{port}", APP_SECRET_KEY=SECRET_KEY, **extra)
    return web_env(env, port=port)


def test_the_procfile_serves_with_granian_and_runs_the_worker_and_migrations() -> None:
    web = procfile_line("web")
    assert "granian --interface wsgi --factory" in web and web.endswith(" app:create_app")
    assert "--port ${PORT" in web and "--workers ${WEB_CONCURRENCY" in web
    assert "--blocking-threads ${WEB_THREADS:-2} " in web and "--no-access-log" in web
    assert procfile_line("worker") == "flask --app app worker"
    assert procfile_line("release") == "flask --app app db upgrade"


#: Paths as a client encodes them canonically: only what a path may not hold literally is encoded.
ENCODED_PATHS = [
    "/__echo/caf%C3%A9%20menu",  # UTF-8 and a space
    "/__echo/%E5%AE%AE%E5%B4%8E/%C3%9Cberblick",  # CJK, two segments
    "/__echo/100%25%20sure%3F%23x",  # a literal %, ? and #
    "/__echo/a+b;c=d:e@f!$'()*,~",  # sub-delimiters and unreserved characters stay as they are
]


def test_granian_computes_the_qsh_of_percent_encoded_paths_and_queries(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = served_env(tmp_path, atlassian, port)
    with running(
        web_command(target="tests.kit.served_app:create"),
        env=env,
        probe_url=f"{base_url}/atlassian-connect.json",
    ):
        site = Site(base_url=confluence.base_url)
        install_over_http(base_url, atlassian, confluence, site)
        for path in ENCODED_PATHS:
            url = site.signed_url(path, QUERY + AWKWARD_QUERY)
            response = requests.get(base_url + url, timeout=10)
            assert response.status_code == 200, (path, response.text[:300])
            assert response.json()["raw_path"] == path
            # The same URL with its path or its query changed after signing is refused.
            tampered_path = url.replace("/__echo/", "/__echo/x", 1)
            assert requests.get(base_url + tampered_path, timeout=10).status_code == 401
            assert requests.get(base_url + url.replace("ids=10", "ids=11"), timeout=10).status_code == 401
        # A query whose raw form differs from what urlencode makes: %20 and + both spaces, ~ as %7E.
        raw = "/macros/freshness?spaceKey=DOCS&q=in%20~3+days&t=%7E&cp=%2Fwiki"
        token = site.host_token("GET", raw)
        assert requests.get(f"{base_url}{raw}&jwt={token}", timeout=10).status_code == 200
        # Granian hands the app a decoded path only: an over-encoded character ("%7E" for "~") is
        # rebuilt as "~", so its signature does not hold and it is refused, never accepted wrongly.
        over = site.signed_url("/__echo/%7Eme", QUERY)
        assert requests.get(base_url + over, timeout=10).status_code == 401


def test_no_process_secret_reaches_the_wsgi_environ(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = served_env(tmp_path, atlassian, port, APP_METRICS_TOKEN="metrics-token-" + "m" * 24)
    output = tmp_path / "granian.log"
    with running(
        web_command(target="tests.kit.served_app:create"),
        env=env,
        probe_url=f"{base_url}/atlassian-connect.json",
        output=output,
    ):
        body = requests.get(f"{base_url}/__environ?x=1", timeout=10).json()
    # granian copies the process environment into every request's environ (the control) ...
    assert body["server_passed"] == {
        "APP_SECRET_KEY": True,
        "APP_SECRETS_KEYS": True,
        "APP_DATABASE_URL": True,
    }
    # ... and the app never sees any of it: no APP_* name, no value, not even PATH or HOME.
    seen = body["seen"]
    assert not [name for name in seen if name.startswith("APP_")]
    for name in ("APP_SECRET_KEY", "APP_SECRETS_KEYS", "APP_DATABASE_URL", "APP_METRICS_TOKEN"):
        assert all(env[name] not in value for value in seen.values()), name
    assert "PATH" not in seen and "HOME" not in seen and "WEB_CONCURRENCY" not in seen
    assert seen["QUERY_STRING"] == "x=1" and seen["PATH_INFO"] == "/__environ"
    assert seen["HTTP_HOST"] == f"127.0.0.1:{port}"
    logged = output.read_text(encoding="utf-8", errors="replace")
    assert env["APP_SECRET_KEY"] not in logged and env["APP_SECRETS_KEYS"] not in logged


def serve_and_collect_output(
    tmp_path: Path,
    atlassian: Atlassian,
    confluence: FakeConfluence,
    extra: str = "",
    our_logging: bool = True,
    log_format: str = "text",
) -> tuple[str, dict[str, str]]:
    """Run the web: line (plus ``extra`` options; without its log configuration unless
    ``our_logging``) on the faulty app; make succeeding and failing requests that carry tokens; return
    everything granian and the app wrote, and the secrets that must not be in it."""
    command = web_command(target="tests.kit.faulty_app:create", extra=extra)
    if not our_logging:
        command[-1] = command[-1].replace(" --log-config granian-logging.json", "")
        assert "--log-config" not in command[-1]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = served_env(tmp_path, atlassian, port, APP_LOG_FORMAT=log_format)
    output = tmp_path / "output.log"
    site = Site(base_url=confluence.base_url)
    secrets = site_secrets(site)
    with running(
        command,
        env=env,
        probe_url=f"{base_url}/atlassian-connect.json",
        output=output,
    ):
        install_over_http(base_url, atlassian, confluence, site)
        expected = [
            ("/macros/freshness", "", 200),
            ("/admin/freshness", "", 200),
            ("/macros/freshness", "&star=x", 401),
            ("/no/such/page", "", 404),
            (BUG_PATH, "", 500),  # raises from the WSGI layer, into granian
            (VIEW_BUG_PATH, "", 500),  # raises in a view: the app logs its traceback
        ]
        request_each(base_url, site, QUERY, expected, secrets)
        # A request line granian cannot parse (a DEL in the target).
        url = site.signed_url("/macros/freshness", QUERY)
        secrets["token in a bad request line"] = token_of(url)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET " + url.encode() + b"&bad=\x7f HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.recv(1024)
    return output.read_text(encoding="utf-8", errors="replace"), secrets


def leaks(output: str, secrets: dict[str, str]) -> list[str]:
    return [f"{what} in {line!r}" for line in output.splitlines() for what, v in secrets.items() if v in line]


#: An access-log format with the query string, as someone might configure it.
QUERY_ACCESS_LOG = "--access-log --access-log-fmt '%(method)s %(path)s?%(query_string)s %(status)d'"


def test_granian_own_logging_would_log_the_tokens(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    """The control: granian's own log configuration writes the tokens that an access-log format with
    the query carries, and the message of an exception raised outside the app (which quotes the URI)."""
    output, secrets = serve_and_collect_output(
        tmp_path, atlassian, confluence, extra=QUERY_ACCESS_LOG, our_logging=False
    )
    found = "\n".join(leaks(output, secrets))
    assert "token 0 (/macros/freshness)" in found  # the access line
    assert "RuntimeError: the WSGI layer failed on /__bug?" in found  # granian's traceback of the bug


def test_our_logging_redacts_even_an_access_log_with_the_query(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    output, secrets = serve_and_collect_output(tmp_path, atlassian, confluence, extra=QUERY_ACCESS_LOG)
    assert leaks(output, secrets) == []
    assert "GET /macros/freshness?[redacted] 200" in output


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_line_granian_or_the_app_writes_carries_a_token_or_secret(
    tmp_path: Path,
    atlassian: Atlassian,
    confluence: FakeConfluence,
    log_format: str,
) -> None:
    output, secrets = serve_and_collect_output(tmp_path, atlassian, confluence, log_format=log_format)
    assert leaks(output, secrets) == []
    # ...and the lines were written: granian's, and the app's request line for each request (by
    # path), the failures with their tracebacks, their URIs redacted.
    assert "the WSGI layer failed on /__bug?[redacted]" in output
    assert "the view failed on http://127.0.0.1" in output and "/__view-bug?[redacted]" in output
    if log_format == "text":
        for path, status in [
            ("/macros/freshness", 200),
            ("/admin/freshness", 200),
            ("/macros/freshness", 401),
        ]:
            assert f"app.requests: GET {path} {status} " in output
        assert "[ERROR] Application callable raised an exception" in output
    else:
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line JSON
        routes = {(line["route"], line["status"]) for line in lines if line.get("event") == "request"}
        assert {("/macros/freshness", 200), ("/admin/freshness", 200), ("/macros/freshness", 401)} <= routes
        granian = [line for line in lines if line["logger"].startswith("_granian")]
        assert any("callable raised" in line["msg"] for line in granian)


def test_the_readme_serves_production_with_the_procfile_web_line() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"`{procfile_line('web')}`" in readme
    assert "`gunicorn -c gunicorn.conf.py 'app:create_app()'`" in readme
