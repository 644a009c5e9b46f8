"""The request line's lean record (``app/observability/web_lines.py``): the same line as a full record,
and only when logging is set up as the app leaves it."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.log_redaction import RedactSecrets
from app.observability import logs, web_lines
from app.observability.web_lines import log_line, sole_web_handler, web_handler

FIELDS = {
    "event": "request",
    "method": "GET",
    "route": "/macros/freshness",
    "status": 200,
    "duration_ms": 1.2,
    "request_id": "abc123",
    "tenant": "0123456789",
}
ARGS = ("GET", "/macros/freshness", 200, 1.234)


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger whose records reach only the app's web handler (see :func:`alone`)."""
    saved = (web_handler.formatter, list(web_handler.filters))
    named = logging.getLogger("test.web_lines")
    named.propagate = False
    named.setLevel(logging.DEBUG)
    yield named
    named.handlers.clear()
    web_handler.formatter, web_handler.filters = saved


def alone(named: logging.Logger) -> logging.Logger:
    """``named`` with the web handler as its only handler: pytest puts its capture handlers on
    loggers that do not propagate when a test starts, and those would (rightly) rule the lean way out."""
    named.handlers[:] = [web_handler]
    return named


def written(named: logging.Logger, level: int = logging.INFO) -> str:
    stream = io.StringIO()
    token = logs.errors_stream.set(stream)
    try:
        log_line(named, level, "%s %s %s %.1fms", ARGS, dict(FIELDS))
    finally:
        logs.errors_stream.reset(token)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])  # DEBUG: health probes' lines
@pytest.mark.parametrize("created", [1_764_000_000.0, 1_764_000_000.9996, 1_764_000_001.25])
def test_the_lean_record_writes_the_line_a_full_record_writes(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch, log_format: str, created: float, level: int
) -> None:
    logs.prepare_handler(web_handler, log_format)
    alone(logger)
    monkeypatch.setattr("time.time", lambda: created)
    assert sole_web_handler(logger, level) is web_handler
    lean = written(logger, level)
    monkeypatch.setattr(web_lines, "sole_web_handler", lambda *_: None)  # the ordinary way
    full = written(logger, level)
    assert lean == full
    assert "GET /macros/freshness 200 1.2ms" in lean and "abc123" in lean and lean.endswith("\n")


def test_anything_but_the_apps_own_set_up_takes_the_ordinary_way(logger: logging.Logger) -> None:
    logs.prepare_handler(web_handler, "text")
    alone(logger)
    assert sole_web_handler(logger, logging.INFO) is web_handler

    other = logging.StreamHandler(io.StringIO())
    logger.addHandler(other)  # a second handler would miss the line
    assert sole_web_handler(logger, logging.INFO) is None
    logger.removeHandler(other)

    child = logging.getLogger("test.web_lines.child")
    child.addFilter(RedactSecrets())  # a logger filter the lean way would skip
    assert sole_web_handler(child, logging.INFO) is None
    child.filters.clear()
    assert sole_web_handler(child, logging.INFO) is web_handler

    logger.propagate = True  # up to the root, where pytest captures: that handler must see it too
    assert sole_web_handler(logger, logging.INFO) is None
    logger.propagate = False

    web_handler.setLevel(logging.WARNING)
    assert sole_web_handler(logger, logging.INFO) is None
    web_handler.setLevel(logging.NOTSET)

    web_handler.setFormatter(logging.Formatter("%(message)s"))
    assert sole_web_handler(logger, logging.INFO) is None
    logs.prepare_handler(web_handler, "json")
    web_handler.addFilter(logging.Filter("test"))
    assert sole_web_handler(logger, logging.INFO) is None
    web_handler.removeFilter(web_handler.filters[-1])
    assert sole_web_handler(logger, logging.INFO) is web_handler

    logs.bind_job("job-1")  # the context filter would add the job id
    try:
        assert sole_web_handler(logger, logging.INFO) is None
        assert '"job_id": "job-1"' in written(logger)
    finally:
        logs.unbind_job()


def test_a_line_with_a_token_in_it_is_redacted_either_way(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The request line never holds a query, but the lean way must not lose the redaction.
    logs.prepare_handler(web_handler, "text")
    alone(logger)
    assert sole_web_handler(logger, logging.INFO) is web_handler
    stream = io.StringIO()
    token = logs.errors_stream.set(stream)
    try:
        args: tuple[Any, ...] = ("GET", "/x?jwt=eyJa.eyJb.c", 200, 1.0)
        log_line(logger, logging.INFO, "%s %s %s %.1fms", args, dict(FIELDS))
    finally:
        logs.errors_stream.reset(token)
    assert "eyJ" not in stream.getvalue() and "[redacted]" in stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_line_that_does_not_name_its_request_gets_the_context_filters_fields(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch, log_format: str
) -> None:
    # The one-pass write leaves the context filter out: only a line that names its request may take it.
    logs.prepare_handler(web_handler, log_format)
    alone(logger)
    monkeypatch.setattr(logs, "_request_fields", lambda: {"request_id": "from-context", "tenant": "t-tag"})
    stream = io.StringIO()
    token = logs.errors_stream.set(stream)
    try:
        log_line(logger, logging.INFO, "refused %s", ("GET",), {"event": "refusal"})
    finally:
        logs.errors_stream.reset(token)
    assert "from-context" in stream.getvalue() and "t-tag" in stream.getvalue()


@pytest.mark.parametrize("formatter", [logs.TextFormatter(), logs.JsonFormatter()], ids=["text", "json"])
@pytest.mark.parametrize(
    "context",
    [{}, {"request_id": "r1"}, {"job_id": "j1", "tenant": "t1"}, {**FIELDS, "route": "/x?jwt=eyJa.eyJb.c"}],
)
def test_a_formatters_line_of_a_records_values_is_its_format_of_the_record(
    formatter: logging.Formatter, context: dict[str, Any]
) -> None:
    for created in (1_764_000_000.0, 1_764_000_000.9996, 1_764_000_061.5):
        record = logging.LogRecord("app.x", logging.WARNING, __file__, 1, "a %s · b", ("ü",), None)
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        for name, value in context.items():
            setattr(record, name, value)
        line_of = formatter.line_of  # type: ignore[attr-defined]
        line = line_of(created, record.msecs, "WARNING", "app.x", record.getMessage(), context)
        assert line == formatter.format(record)
        assert "eyJ" not in line


def test_a_line_for_the_processs_standard_error_goes_out_in_the_next_batch(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under granian every request's wsgi.errors is the process's standard error.
    from app.observability import stderr_batches

    logs.prepare_handler(web_handler, "text")
    alone(logger)
    process_stderr = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", process_stderr)
    monkeypatch.setattr(stderr_batches, "stderr_lines", stderr_batches.BatchedStderr(delay=60))
    token = logs.errors_stream.set(process_stderr)
    try:
        log_line(logger, logging.INFO, "%s %s %s %.1fms", ARGS, dict(FIELDS))
    finally:
        logs.errors_stream.reset(token)
    assert process_stderr.getvalue() == "" and stderr_batches.stderr_lines.pending() == 1
    stderr_batches.stderr_lines.flush()
    assert "GET /macros/freshness 200 1.2ms" in process_stderr.getvalue()
