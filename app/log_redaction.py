"""Keep Connect tokens out of log lines written by code we do not control (gunicorn's own).

Confluence puts the signed JWT in the query string of every iframe and module URL (``?…&jwt=eyJ…``).
gunicorn writes the raw request URI into its error log ("Error handling request GET /macros/…?…&jwt=…",
"Invalid request from ip=…: Invalid HTTP request line: '…'") and, in its default access-log format, into
every access line. A logged token is a credential for that user until it expires, and its query string
hash shows which page and space were asked for. ``gunicorn.conf.py`` puts :class:`RedactSecrets` on
gunicorn's loggers; the app's own log lines name ``request.path`` only, never the URL or query.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Final

#: What replaces a removed query string or token.
REDACTED: Final = "[redacted]"

# A query string after a path (the URI of a request line, a URL, a repr of either): everything from
# "?" to the next whitespace or quote goes.
_QUERY: Final = re.compile(r"(/[^\s?#\"'<>]*)\?[^\s\"'<>]+")
# A jwt parameter outside a URL we recognised (a body, a header, a mangled request line), with its value.
_JWT_PARAMETER: Final = re.compile(r"jwt(?:=|%3d)[^\s&;\"'<>]*", re.IGNORECASE)
# A JWT on its own (an Authorization header value, a token in an exception message): header.payload.sig
_BARE_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """``text`` with query strings, ``jwt=`` parameters and JWTs replaced by ``[redacted]``."""
    if "?" not in text and "eyJ" not in text and "jwt" not in text.lower():
        return text  # none of the patterns can match: each needs one of these (the usual line)
    text = _QUERY.sub(rf"\1?{REDACTED}", text)
    text = _JWT_PARAMETER.sub(REDACTED, text)
    return _BARE_JWT.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """A filter that rewrites each record's message, traceback and stack with :func:`redact`.

    It formats the message itself (``msg % args``) so that a token passed as an argument is caught, as
    gunicorn does with the request URI and with its access-log atoms. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:  # exc_info=False is allowed too
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
