"""``app.log_redaction``: what gunicorn.conf.py applies to every gunicorn log record."""

from __future__ import annotations

import logging

import pytest

from app.log_redaction import RedactSecrets, redact

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"Error handling request GET /macros/freshness?pageId=1&jwt={TOKEN}",
            "Error handling request GET /macros/freshness?[redacted]",
        ),
        (
            f"Invalid HTTP request line: 'GET /a?x=\\x7f&jwt={TOKEN} HTTP/1.1'",
            "Invalid HTTP request line: 'GET /a?[redacted] HTTP/1.1'",
        ),
        (f'"GET /a?jwt={TOKEN} HTTP/1.1" 200', '"GET /a?[redacted] HTTP/1.1" 200'),
        (
            f"failed on https://acme.example/wiki/x?jwt={TOKEN}.",
            "failed on https://acme.example/wiki/x?[redacted]",
        ),
        # A request line split at a space, and a body: the jwt parameter goes with its value.
        (f"Invalid HTTP Version: '&jwt={TOKEN} HTTP/1.1'", "Invalid HTTP Version: '&[redacted] HTTP/1.1'"),
        ("form jwt%3Dabc.def&x=1", "form [redacted]&x=1"),
        # Any case: the cheap "could anything match" check before the patterns must not skip these.
        ("form JWT=abc.def&x=1", "form [redacted]&x=1"),
        ("form Jwt%3dabc", "form [redacted]"),
        (f"token {TOKEN} in a message", "token [redacted] in a message"),
        (f"Authorization: JWT {TOKEN}", "Authorization: JWT [redacted]"),
        # Lines without secrets stay as they are.
        ("refused GET /macros/freshness: token expired", "refused GET /macros/freshness: token expired"),
        ("is it stale? yes", "is it stale? yes"),
        ("Booting worker with pid: 42", "Booting worker with pid: 42"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def record(msg: str, args: object = None, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_filter_redacts_arguments_as_gunicorn_passes_them() -> None:
    error = record("Error handling request %s %s", ("GET", f"/m?jwt={TOKEN}"))
    access = record('"%(m)s %(r)s"', {"m": "GET", "r": f"GET /m?jwt={TOKEN} HTTP/1.1"})
    for each in (error, access):
        assert RedactSecrets().filter(each) is True  # never drops a line
    assert error.getMessage() == "Error handling request GET /m?[redacted]"
    assert access.getMessage() == '"GET GET /m?[redacted] HTTP/1.1"'


def test_the_filter_redacts_the_traceback_and_stack() -> None:
    try:
        raise RuntimeError(f"failed on /m?jwt={TOKEN}")
    except RuntimeError as error:
        entry = record("Error handling request", exc=error)
    entry.stack_info = f"Stack (most recent call last):\n  url = '/m?jwt={TOKEN}'"
    RedactSecrets().filter(entry)
    text = logging.Formatter().format(entry)
    assert "RuntimeError: failed on /m?[redacted]" in text
    assert "url = '/m?[redacted]'" in text
    assert TOKEN not in text and "jwt=" not in text


def test_a_clean_record_is_left_alone() -> None:
    entry = record("Booting worker with pid: %s", (42,))
    RedactSecrets().filter(entry)
    assert (entry.msg, entry.args) == ("Booting worker with pid: %s", (42,))


def test_a_record_logged_with_exc_info_false_passes() -> None:
    """``log.warning(..., exc_info=False)`` leaves ``record.exc_info`` False, not None (runner.py does it)."""
    logger = logging.getLogger("tests.redaction.exc_info")
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, entry: logging.LogRecord) -> None:
            captured.append(entry)

    handler = Keep()
    handler.addFilter(RedactSecrets())
    logger.addHandler(handler)
    try:
        logger.warning("scan failed on /m?jwt=%s", TOKEN, exc_info=False)
    finally:
        logger.removeHandler(handler)
    assert [entry.getMessage() for entry in captured] == ["scan failed on /m?[redacted]"]
