"""No token, shared secret or ``jwt=`` in any log line when the app runs under gunicorn with
``gunicorn.conf.py``: access log, error log (gunicorn's and the app's) and the process's own output.

Connect puts the user's signed token in the query string of every module URL. gunicorn writes the raw
URI into its default access-log format, into "Error handling request GET <uri>" when a request fails in
the WSGI stack, and into "Invalid request from ip=…" when it cannot parse one. The same requests run
once against gunicorn's defaults, where the token must show up (else this test would prove nothing),
and once with our configuration, where no line may carry it.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from tests.kit.atlassian import Atlassian, Site, install_over_http
from tests.kit.confluence import FakeConfluence
from tests.kit.faulty_app import BUG_PATH, VIEW_BUG_PATH
from tests.kit.processes import BIN, REPO, free_port, running
from tests.kit.procfile import migrated_env
from tests.kit.token_leaks import QUERY, request_each, site_secrets, token_of

CONFIG = REPO / "gunicorn.conf.py"


@dataclass
class Logs:
    lines: list[tuple[str, str]]  # (where, line)
    secrets: dict[str, str]  # what, value

    def text(self, where: str) -> str:
        return "\n".join(line for source, line in self.lines if source == where)

    def leaks(self) -> list[str]:
        found = []
        for source, line in self.lines:
            for what, value in self.secrets.items():
                if value in line:
                    found.append(f"{source}: {what} in {line!r}")
        return found


def raw_request(port: int, request_line: bytes) -> bytes:
    """Send one request line as bytes (``requests`` would refuse or re-encode it); return the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return sock.recv(1024).split(b"\r\n", 1)[0]


def serve_and_collect_logs(
    tmp_path: Path,
    atlassian: Atlassian,
    confluence: FakeConfluence,
    config: Path,
    extra_env: dict[str, str] | None = None,
) -> Logs:
    """Run gunicorn (2 workers, access and error logs on) with ``config``; make succeeding and failing
    requests that carry tokens; return every line it logged and the secrets that must not be in them."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = migrated_env(tmp_path, atlassian, base_url, **(extra_env or {}))
    access_log, error_log, output = tmp_path / "access.log", tmp_path / "error.log", tmp_path / "output.log"
    command = [
        str(BIN / "gunicorn"),
        *("-c", str(config)),
        *("--bind", f"127.0.0.1:{port}", "--workers", "2"),
        *("--access-logfile", str(access_log), "--error-logfile", str(error_log)),
        "tests.kit.faulty_app:create()",
    ]
    site = Site(base_url=confluence.base_url)
    secrets = site_secrets(site)
    with running(command, env=env, probe_url=f"{base_url}/atlassian-connect.json", output=output):
        secrets["the install token"] = install_over_http(base_url, atlassian, confluence, site)

        expected = [
            ("/macros/freshness", "", 200),  # succeeding requests
            ("/admin/freshness", "", 200),
            ("/atlassian-connect.json", "", 200),
            ("/macros/freshness", "&star=x", 401),  # a token for another query: the app refuses it
            ("/no/such/page", "", 404),
            (BUG_PATH, "", 500),  # an unhandled exception, logged by gunicorn with the URI
            (VIEW_BUG_PATH, "", 500),  # a bug in a view, logged by the app with its traceback
        ]
        request_each(base_url, site, QUERY, expected, secrets)

        # A request gunicorn cannot parse (a DEL in the target): it logs the whole request line.
        url = site.signed_url("/macros/freshness", QUERY)
        secrets["token in a bad request line"] = token_of(url)
        status_line = raw_request(port, b"GET " + url.encode() + b"&bad=\x7f HTTP/1.1")
        assert status_line.startswith(b"HTTP/1.1 400"), status_line

    lines = [
        (where, line)
        for where, path in (("access log", access_log), ("error log", error_log), ("output", output))
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    return Logs(lines, secrets)


def test_gunicorn_defaults_would_log_the_tokens(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    """The control: without our configuration the same requests put tokens in every log."""
    empty = tmp_path / "empty.conf.py"
    empty.write_text("", encoding="utf-8")
    logs = serve_and_collect_logs(tmp_path, atlassian, confluence, empty)
    leaks = "\n".join(logs.leaks())
    assert "access log: token 0" in leaks  # the request line in the default access format
    assert "error log: token 5" in leaks and "Error handling request GET /__bug?" in leaks
    assert "error log: token in a bad request line" in leaks and "Invalid request from ip=" in leaks
    # The app's own lines are redacted by the app itself (app/observability), whatever gunicorn's
    # configuration: the view's traceback is logged, its URI without the token.
    assert "error log: token 6" not in leaks
    assert "RuntimeError: the view failed on http://127.0.0.1" in logs.text("error log")


def test_no_log_line_carries_a_token_or_secret(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    logs = serve_and_collect_logs(tmp_path, atlassian, confluence, CONFIG)
    assert logs.leaks() == []
    # ...and the logs were written: every request is in the access log, by path, and both failures
    # are in the error log, their URIs redacted.
    access = logs.text("access log")
    for path, status in [("/macros/freshness", 200), ("/admin/freshness", 200), ("/macros/freshness", 401)]:
        assert f'"GET {path} HTTP/1.1" {status} ' in access
    assert f'"GET {BUG_PATH} HTTP/1.1" 500 ' in access
    errors = logs.text("error log")
    assert f"Error handling request GET {BUG_PATH}?[redacted]" in errors
    assert "RuntimeError: the WSGI layer failed on /__bug?[redacted]" in errors
    assert "Invalid request from ip=127.0.0.1: Invalid HTTP request line:" in errors
    assert f"unhandled error on GET {VIEW_BUG_PATH}" in errors  # the app's own line, with its traceback
    assert f"{VIEW_BUG_PATH}?[redacted]" in errors.split(f"unhandled error on GET {VIEW_BUG_PATH}", 1)[1]


def test_json_logs_carry_no_token_and_every_line_is_one_object(
    tmp_path: Path, atlassian: Atlassian, confluence: FakeConfluence
) -> None:
    """APP_LOG_FORMAT=json: gunicorn's lines and the app's are JSON objects, a request line per request
    (tenant by tag, never the clientKey), and still no token, secret or jwt= anywhere."""
    logs = serve_and_collect_logs(tmp_path, atlassian, confluence, CONFIG, {"APP_LOG_FORMAT": "json"})
    assert logs.leaks() == []
    parsed = [(where, json.loads(line)) for where, line in logs.lines if where != "output" or line.strip()]
    requests_logged = [line for _, line in parsed if line.get("event") == "request"]
    routes = {(line["route"], line["status"]) for line in requests_logged}
    assert {("/macros/freshness", 200), ("/macros/freshness", 401), ("unmatched", 404)} <= routes
    assert ("/__view-bug", 500) in routes
    tagged = [
        line for line in requests_logged if line["route"] == "/macros/freshness" and line["status"] == 200
    ]
    assert tagged and all(re.fullmatch(r"[0-9a-f]{10}", line["tenant"]) for line in tagged)
    assert all(re.fullmatch(r"[0-9a-f]{32}", line["request_id"]) for line in requests_logged)
    errors = [line for where, line in parsed if where == "error log"]
    assert any("Error handling request GET /__bug?[redacted]" in line["msg"] for line in errors)
    assert any(
        line["msg"].startswith("unhandled error on GET /__view-bug") and "exc" in line for line in errors
    )


def test_the_readme_serves_production_with_this_configuration() -> None:
    assert "`gunicorn -c gunicorn.conf.py 'app:create_app()'`" in (REPO / "README.md").read_text(
        encoding="utf-8"
    )
