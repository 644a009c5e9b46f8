"""Response headers set in one place for every response (errors and the descriptor included).

Atlassian's security requirements for cloud apps: HSTS, no caching of dynamic responses, a
Referrer-Policy that does not leak URLs cross-origin, ``nosniff``, and no ``X-Frame-Options``
(Confluence must frame us); ``frame-ancestors`` in the CSP names the verified tenant's own origins.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

_STATIC_CACHE = "public, max-age=3600"
_NO_STORE = "no-cache, no-store"


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def frame_ancestors() -> str:
    """Return the CSP ``frame-ancestors`` source list for this request.

    Only a tenant that *verified* may frame us: its ``baseUrl`` and ``displayUrl`` origins (custom
    domains live in ``displayUrl``). Before verification, nobody may frame the response.
    """
    tenant = g.get("tenant")
    if tenant is None:
        return "'none'"
    origins = {o for o in (_origin(tenant.base_url), _origin(tenant.display_url)) if o}
    return " ".join(sorted(origins)) or "'none'"


def content_security_policy() -> str:
    """Return the CSP for this response: our own assets, ``all.js``, and the tenant as framer."""
    all_js = _origin(current_app.config["ALL_JS_URL"]) or ""
    return (
        "default-src 'none'; "
        f"script-src 'self' {all_js}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        f"connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors()}"
    )


def set_security_headers(response: Response) -> Response:
    """Set the headers every response carries."""
    headers = response.headers
    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers.pop("X-Frame-Options", None)
    if request.endpoint == "static" and response.status_code < 400:
        headers["Cache-Control"] = _STATIC_CACHE
    else:
        headers["Cache-Control"] = _NO_STORE
        headers["Pragma"] = "no-cache"
    headers["Content-Security-Policy"] = content_security_policy()
    return response


def init_app(app: Flask) -> None:
    """Register the header hook."""
    app.after_request(set_security_headers)
