"""Structured logs: one line per request with its id, route, status, duration and tenant tag; the job id
in a worker's lines; never a token, a secret or a clientKey.

gunicorn's and the worker's real output in JSON is checked in ``tests/test_gunicorn_logs.py`` and
``test_processes.py``.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.db import get_engine
from app.jobs.queue import get_queue, run_pending
from app.observability import logs
from tests.kit.atlassian import Site
from tests.kit.database import create_schema
from tests.kit.threads import run_interleaved

MACRO = "/macros/freshness"
PARAMS = {"pageId": "1000001", "spaceKey": "DOCS", "xdm_e": "http://127.0.0.1", "cp": "/wiki", "lic": "none"}


@pytest.fixture
def app(app_overrides: dict[str, Any], database_url: str) -> Iterator[Flask]:
    create_schema(database_url)
    application = create_app({**app_overrides, "LOG_FORMAT": "json"})
    yield application
    get_engine(application).dispose()
    application.extensions["health_engine"].dispose()


def get(client: FlaskClient, url: str, **headers: str) -> tuple[Any, list[dict[str, Any]]]:
    """GET ``url``; return the response and the JSON lines the app logged while answering it."""
    stream = io.StringIO()
    response = client.get(url, headers=headers, environ_overrides={"wsgi.errors": stream})
    return response, [json.loads(line) for line in stream.getvalue().splitlines()]


def request_line(lines: list[dict[str, Any]]) -> dict[str, Any]:
    found = [line for line in lines if line.get("event") == "request"]
    assert len(found) == 1, lines
    return found[0]


def test_one_json_line_per_request_with_route_status_duration_id_and_tenant_tag(
    client: FlaskClient, installed_site: Site
) -> None:
    response, lines = get(client, installed_site.signed_url(MACRO, {**PARAMS, "pageId": "4242"}))
    assert response.status_code == 200
    line = request_line(lines)
    assert line["route"] == MACRO and line["method"] == "GET" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert response.headers["X-Request-Id"] == line["request_id"]
    assert line["tenant"] == logs.tenant_tag(installed_site.client_key)
    assert re.fullmatch(r"[0-9a-f]{10}", line["tenant"])
    assert line["level"] == "info" and line["logger"] == "app.requests" and "ts" in line
    text = json.dumps(lines)
    for leak in (installed_site.client_key, installed_site.shared_secret, "jwt=", "4242", "eyJ"):
        assert leak not in text, leak


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("lb-7f3a9c2e-0001", True),
        ("0123456789abcdef0123456789abcdef", True),
        ("a" * 65, False),  # too long
        ("has space", False),
        ("eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln", False),  # a token is not a request id
        ("<script>", False),
        ("", False),
    ],
)
def test_a_sane_incoming_request_id_is_kept_and_anything_else_replaced(
    client: FlaskClient, incoming: str, kept: bool
) -> None:
    response, lines = get(client, "/healthz", **{"X-Request-Id": incoming})
    returned = response.headers["X-Request-Id"]
    assert (returned == incoming) is kept
    if not kept:
        assert re.fullmatch(r"[0-9a-f]{32}", returned)
    assert all(line.get("request_id") == returned for line in lines)


def test_refusals_and_their_lines_carry_the_request_id_and_no_token(
    client: FlaskClient, installed_site: Site
) -> None:
    url = installed_site.signed_url(MACRO, PARAMS) + "&tampered=1"
    token = url.split("jwt=", 1)[1].split("&", 1)[0]
    response, lines = get(client, url, **{"X-Request-Id": "probe-1"})
    assert response.status_code == 401
    assert len(lines) == 2 and {line["request_id"] for line in lines} == {"probe-1"}
    assert "refused GET /macros/freshness" in lines[0]["msg"]
    assert token not in json.dumps(lines) and "jwt=" not in json.dumps(lines)


def test_every_line_of_a_scan_job_names_the_job_and_the_tenant_by_tag(
    client: FlaskClient, installed_site: Site
) -> None:
    assert client.get(installed_site.signed_url(MACRO, PARAMS)).status_code == 200
    queue = get_queue(client.application)
    task_ids = [task.id for task in queue.pending()]
    assert len(task_ids) == 1
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logs.prepare_handler(handler, "json")
    logging.getLogger("app").addHandler(handler)
    try:
        assert run_pending(queue) == 1
    finally:
        logging.getLogger("app").removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any("scan job" in line["msg"] for line in lines), lines
    assert all(line.get("job_id") == task_ids[0] for line in lines), lines
    assert all(line.get("tenant") == logs.tenant_tag(installed_site.client_key) for line in lines), lines
    assert installed_site.client_key not in stream.getvalue()
    # and after the job, this thread's lines no longer name it
    probe = logging.LogRecord("x", logging.INFO, __file__, 1, "after", None, None)
    logs.ContextFilter().filter(probe)
    assert not hasattr(probe, "job_id")


def test_text_is_the_default_and_reads_like_a_sentence(
    app_overrides: dict[str, Any], database_url: str
) -> None:
    create_schema(database_url)
    app = create_app(app_overrides)
    stream = io.StringIO()
    response = app.test_client().get(
        "/no/such/page?jwt=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
        headers={"X-Request-Id": "rid-1"},
        environ_overrides={"wsgi.errors": stream},
    )
    assert response.status_code == 404
    line = stream.getvalue().strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d [\d:,]+ INFO app\.requests: GET unmatched 404 [\d.]+ms \[request_id=rid-1\]", line
    ), line
    get_engine(app).dispose()
    app.extensions["health_engine"].dispose()


def test_tags_are_stable_per_key_and_differ_between_deployments() -> None:
    logs.configure_tenant_tags("deployment-one")
    first = logs.tenant_tag("client-key-1")
    assert first == logs.tenant_tag("client-key-1") and first != logs.tenant_tag("client-key-2")
    logs.configure_tenant_tags("deployment-two")
    assert logs.tenant_tag("client-key-1") != first


def test_the_json_formatter_redacts_whatever_a_field_holds() -> None:
    record = logging.LogRecord(
        "app", logging.ERROR, __file__, 1, "failed on %s", ("/macros/x?jwt=abc.def.ghi&a=1",), None
    )
    record.route = "/macros/x?jwt=eyJabc.eyJdef.sig"
    line = logs.JsonFormatter().format(record)
    assert "jwt=" not in line and "eyJ" not in line
    assert json.loads(line)["msg"] == "failed on /macros/x?[redacted]"


def test_an_operator_can_compute_a_sites_tag(app: Flask, client: FlaskClient, installed_site: Site) -> None:
    """``flask tenants tag CLIENT_KEY`` prints the tag the site's lines carry."""
    _, lines = get(client, installed_site.signed_url(MACRO, PARAMS))
    result = app.test_cli_runner().invoke(args=["tenants", "tag", installed_site.client_key])
    assert result.exit_code == 0 and result.output.strip() == request_line(lines)["tenant"]


def test_new_request_ids_are_unique_and_a_forked_child_draws_its_own() -> None:
    import os

    from app.observability.logs import request_id_from

    ids = {request_id_from(None) for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a server's forked worker would hand out first
        os.close(read)
        os.write(write, request_id_from(None).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent_next = request_id_from(None)
    assert child[:20] != parent_next[:20] and child not in ids


def test_the_text_time_is_what_the_standard_formatter_writes() -> None:
    # The seconds are formatted once per second: each line must still show its own time.
    ours, standard = logs.TextFormatter(), logging.Formatter()
    for created in (1_764_000_000.0, 1_764_000_000.999, 1_764_000_001.0, 1_764_000_001.5, 1_764_000_000.25):
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "x", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.formatTime(record) == standard.formatTime(record)


LINES = 1500


def test_lines_from_many_threads_never_interleave(tmp_path: Any) -> None:
    # The web handler takes no lock (app/observability/__init__.py): each line is one write call.
    from app.observability import WsgiErrorsHandler

    handler = WsgiErrorsHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.interleave")
    logger.propagate = False
    logger.addHandler(handler)
    path = tmp_path / "lines.log"
    with open(path, "w", encoding="utf-8") as stream:
        start = threading.Barrier(8)

        def write(worker: int) -> None:
            logs.errors_stream.set(stream)  # as the hot path sets it, in this thread's own context
            start.wait()
            for i in range(LINES):
                logger.warning("%s", f"worker {worker} line {i} " + "x" * 300)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        try:
            run_interleaved(threads)
        finally:
            logger.removeHandler(handler)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 * LINES
    assert all(re.fullmatch(r"worker \d line \d+ x{300}", line) for line in lines)
