"""Response headers set in one place for every response (errors and the descriptor included).

Atlassian's security requirements for cloud apps (see docs/security.md): HSTS for at least a year,
no caching of dynamic responses (``no-cache, no-store``), a Referrer-Policy, ``nosniff``, and no
``X-Frame-Options`` (Confluence must frame us); ``frame-ancestors`` in the CSP names the verified
tenant's own origins, and nobody before a token verified.

``Referrer-Policy: no-referrer``: our iframe URLs carry the Connect JWT in ``?jwt=``. With
``strict-origin-when-cross-origin`` the browser would still send that full URL as ``Referer`` on
*same-origin* requests (our CSS, JS and ``/api`` calls), so the token would land in the proxy's access
log. ``no-referrer`` sends nothing anywhere, and nothing in the app reads ``Referer``.

The hook never raises: a failure while computing the tenant's origins (say, a broken database
session during a 500) yields ``frame-ancestors 'none'``, never a response without these headers.
"""

from __future__ import annotations

import functools
from typing import Final
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

HSTS: Final = "max-age=31536000; includeSubDomains"
NO_STORE: Final = "no-cache, no-store"
REFERRER_POLICY: Final = "no-referrer"
STATIC_CACHE: Final = "public, max-age=3600"


def _origin(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    return _origin_of(url)


@functools.lru_cache(maxsize=4096)
def _origin_of(url: str) -> str | None:
    # Pure, and the same few URLs (each tenant's base and display URL, all.js) come on every response.
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def frame_ancestors() -> str:
    """Return the CSP ``frame-ancestors`` source list for this request.

    Only a tenant that *verified* (``g.tenant``, set by ``require_jwt``) may frame us: its ``baseUrl``
    and ``displayUrl`` origins (custom domains live in ``displayUrl``). Before verification, and on
    any failure reading the tenant, nobody may frame the response.
    """
    tenant = g.get("tenant")
    if tenant is None:
        return "'none'"
    try:
        candidates = (tenant.base_url, tenant.display_url)
    except Exception:  # a broken session while answering an error: fail closed
        current_app.logger.warning("could not read the tenant's origins; frame-ancestors 'none'")
        return "'none'"
    return frame_ancestors_of(*candidates)


@functools.lru_cache(maxsize=4096)
def frame_ancestors_of(base_url: object, display_url: object) -> str:
    """The ``frame-ancestors`` sources for a verified tenant with these URLs ("'none'" if neither is
    a web origin)."""
    origins = {o for o in map(_origin, (base_url, display_url)) if o}
    return " ".join(sorted(origins)) or "'none'"


def content_security_policy() -> str:
    """Return the CSP for this response: our own assets, ``all.js``, and the tenant as framer."""
    return policy_of(current_app.config.get("ALL_JS_URL"), frame_ancestors())


@functools.lru_cache(maxsize=4096)
def policy_of(all_js_url: object, ancestors: str) -> str:
    """The CSP with ``all.js`` loaded from ``all_js_url`` and framed by ``ancestors``."""
    all_js = _origin(all_js_url)
    script_src = f"'self' {all_js}" if all_js else "'self'"
    return (
        "default-src 'none'; "
        f"script-src {script_src}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


#: What every response carries, whatever it is.
_EVERY: Final = (
    ("Strict-Transport-Security", HSTS),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", REFERRER_POLICY),
)


def dynamic_headers(csp: str) -> list[tuple[str, str]]:
    """The headers of a dynamic response (not a static asset) with the policy ``csp``: what
    :func:`set_security_headers` sets, and what answers made without a Flask response carry
    (``app/hot_path.py``)."""
    return [*_EVERY, ("Cache-Control", NO_STORE), ("Pragma", "no-cache"), ("Content-Security-Policy", csp)]


def _static_headers(csp: str) -> list[tuple[str, str]]:
    return [*_EVERY, ("Cache-Control", STATIC_CACHE), ("Content-Security-Policy", csp)]


def _is_static_asset(response: Response) -> bool:
    endpoint = request.endpoint or ""
    is_static = endpoint == "static" or endpoint.endswith(".static")
    return is_static and response.status_code < 400


def set_security_headers(response: Response) -> Response:
    """Set the headers every response carries (the ``after_request`` hook)."""
    headers = response.headers
    try:
        csp = content_security_policy()
    except Exception:  # never lose every other header over the CSP
        current_app.logger.exception("could not compute the Content-Security-Policy")
        csp = "default-src 'none'; frame-ancestors 'none'"
    static = _is_static_asset(response)
    for name, value in _static_headers(csp) if static else dynamic_headers(csp):
        headers[name] = value
    headers.pop("X-Frame-Options", None)
    headers.pop("Pragma" if static else "Expires", None)
    return response


def init_app(app: Flask) -> None:
    """Register the header hook."""
    app.after_request(set_security_headers)
