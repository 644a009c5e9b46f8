"""A small fake Confluence Cloud for the REST client's tests: strict about auth, scriptable about faults.

* Every request to ``/wiki/...`` must carry a valid credential: a Connect JWT checked with PyJWT
  (HS256, ``iss`` = app key, ``exp``, lifetime <= 180 s) and a qsh checked with Atlassian's own
  ``atlassian-jwt`` package (never with our qsh code), or a Bearer token this server issued.
* Lists are v2-shaped cursor pages with ``Link`` headers (cursor *not* last) and ``_links.next`` /
  ``_links.base`` like Confluence's; the cursor is base64 with ``=`` padding.
* ``script`` queues faults (429/503 with ``Retry-After``, 500s, dropped connections) for the next
  requests; ``arrivals`` records each request's arrival time, path and answer for assertions.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from atlassian_jwt.url_utils import hash_url
from flask import Flask, Response, request

from tests.kit.constants import APP_KEY

SECRET = "fake-tenant-shared-secret-0123456789abcdef"
OAUTH_CLIENT_ID = "oauth-confluence_client-1"


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour: a status (with optional ``Retry-After``) or a dropped connection."""

    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    body: str = '{"errors": []}'
    path_prefix: str = ""  # only requests whose path (after /wiki) starts with this are affected

    @classmethod
    def rate_limited(cls, retry_after: str | None = "0.2", path_prefix: str = "") -> Fault:
        return cls(429, retry_after, path_prefix=path_prefix)

    @classmethod
    def unavailable(cls, retry_after: str | None = None) -> Fault:
        return cls(503, retry_after)

    @classmethod
    def dropped(cls) -> Fault:
        return cls(drop=True)


@dataclass
class Arrival:
    at: float
    method: str
    raw_uri: str
    user_agent: str = ""
    status: int | None = None
    retry_after: float | None = None


@dataclass
class FakeConfluence:
    """State of one fake site; ``wsgi`` is the app to serve with ``tests.kit.live.serving``."""

    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    arrivals: list[Arrival] = field(default_factory=list)
    auth_failures: list[str] = field(default_factory=list)
    bodies_only: bool = False  # no Link header: the client must use _links.next
    repeat_next: bool = False  # the second page points back at itself
    token_expires_in: int = 900
    token_delay: float = 0.0
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    issued_tokens: set[str] = field(default_factory=set)
    #: Refuse every bearer token, even freshly issued ones (a user who lost access).
    refuse_all_bearers: bool = False
    site_url: str = ""  # set once served: http://127.0.0.1:port
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return self.site_url + "/wiki"

    def script(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    # -- verification ---------------------------------------------------------------------------

    def _verify(self, raw_uri: str) -> str | None:
        """Return why the request's credential is refused, or None if it is good."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            if self.refuse_all_bearers:
                return "bearer tokens refused"
            return None if header[7:] in self.issued_tokens else "unknown bearer token"
        if not header.startswith("JWT "):
            return "no JWT"
        try:
            claims = jwt.decode(
                header[4:], SECRET, algorithms=["HS256"], options={"require": ["iss", "iat", "exp", "qsh"]}
            )
        except jwt.InvalidTokenError as exc:
            return f"bad token: {exc}"
        if claims["iss"] != APP_KEY:
            return "wrong iss"
        if claims["exp"] - claims["iat"] > 180:
            return "token lives too long"
        relative = raw_uri[len("/wiki") :] if raw_uri.startswith("/wiki/") else raw_uri
        expected = hash_url(request.method, relative)
        if claims["qsh"] != expected:
            return f"qsh mismatch for {request.method} {relative}"
        return None

    def _next_fault(self, relative_path: str) -> Fault | None:
        with self.lock:
            if self.faults and relative_path.startswith(self.faults[0].path_prefix):
                return self.faults.popleft()
        return None

    # -- list pages -----------------------------------------------------------------------------

    def _filtered(self, path: str, args: dict[str, list[str]]) -> list[dict[str, Any]]:
        items = self.collections[path]
        for param, attr in (("space-id", "spaceId"), ("keys", "key"), ("ids", "id")):
            if param in args:
                wanted = set(args[param][0].split(","))
                items = [item for item in items if str(item.get(attr)) in wanted]
        return items

    def _page(self, path: str, args: dict[str, list[str]]) -> Response:
        limit = int(args.get("limit", ["25"])[0])
        if not 1 <= limit <= 250:
            return Response(json.dumps({"errors": [{"status": 400, "title": "bad limit"}]}), 400)
        offset = 0
        if "cursor" in args:
            offset = json.loads(base64.urlsafe_b64decode(args["cursor"][0]))["position"]
        items = self._filtered(path, args)
        page = items[offset : offset + limit]
        links: dict[str, str] = {"base": self.base_url}
        headers: list[tuple[str, str]] = []
        end = offset + limit
        if self.repeat_next and offset > 0:
            end = offset  # point at this very page again
        if end < len(items):
            cursor = base64.urlsafe_b64encode(json.dumps({"position": end, "o": "id"}).encode()).decode()
            others = [(k, v[0]) for k, v in args.items() if k not in ("cursor", "limit")]
            # Like Confluence: the cursor is not the last parameter, and every filter is repeated.
            query = urlencode([("cursor", cursor), *others, ("limit", str(limit))], safe=",")
            links["next"] = f"/wiki/api/v2{path}?{query}"
            if not self.bodies_only:
                headers.append(("Link", f'<{links["next"]}>; rel="next", <{self.base_url}>; rel="base"'))
        body = json.dumps({"results": page, "_links": links})
        return Response(body, 200, headers=headers, content_type="application/json")

    # -- the app --------------------------------------------------------------------------------

    def wsgi(self) -> Flask:
        app = Flask("fake_confluence")

        @app.route("/oauth2/token", methods=["POST"])
        def token() -> Response:
            return self._token()

        @app.route("/wiki/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
        def wiki(rest: str) -> Response:
            raw_uri = request.environ.get("RAW_URI") or request.environ["REQUEST_URI"]
            arrival = Arrival(
                time.monotonic(), request.method, raw_uri, request.headers.get("User-Agent", "")
            )
            with self.lock:
                self.arrivals.append(arrival)
            response = self._answer(raw_uri, arrival)
            arrival.status = response.status_code
            return response

        return app

    def _answer(self, raw_uri: str, arrival: Arrival) -> Response:
        problem = self._verify(raw_uri)
        if problem is not None:
            with self.lock:
                self.auth_failures.append(problem)
            return Response(json.dumps({"message": problem}), 401, content_type="application/json")
        parts = urlsplit(raw_uri)
        relative = parts.path[len("/wiki") :]
        fault = self._next_fault(relative)
        if fault is not None and fault.drop:
            sock: socket.socket = request.environ["werkzeug.socket"]
            sock.shutdown(socket.SHUT_RDWR)  # no answer at all: the client sees a dropped connection
            return Response("", 500)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if fault.retry_after is not None:
                arrival.retry_after = float(fault.retry_after)
            return Response(fault.body, fault.status, headers=headers, content_type="application/json")
        args = parse_qs(parts.query, keep_blank_values=True)
        if any(len(values) > 1 for values in args.values()):
            return Response('{"message": "repeated parameter"}', 400, content_type="application/json")
        if request.method == "POST":
            return Response(
                json.dumps({"id": "new", **(request.get_json() or {})}), 200, content_type="application/json"
            )
        if relative == "/rest/api/user":
            operations = self.users.get(args.get("accountId", [""])[0])
            if operations is None or args.get("expand") != ["operations"]:
                return Response('{"statusCode": 404}', 404, content_type="application/json")
            return Response(
                json.dumps({"accountId": args["accountId"][0], "operations": operations}),
                200,
                content_type="application/json",
            )
        api = relative.removeprefix("/api/v2")
        if api in self.collections:
            return self._page(api, args)
        if api in self.objects:
            return Response(json.dumps(self.objects[api]), 200, content_type="application/json")
        return Response('{"errors": [{"status": 404}]}', 404, content_type="application/json")

    def _token(self) -> Response:
        form = request.form
        try:
            claims = jwt.decode(
                form["assertion"],
                SECRET,
                algorithms=["HS256"],
                audience=self.site_url,
                options={"require": ["iss", "sub", "tnt", "aud", "iat", "exp"]},
            )
        except (KeyError, jwt.InvalidTokenError) as exc:
            return Response(
                json.dumps({"error": f"invalid_grant: {exc}"}), 400, content_type="application/json"
            )
        if (
            form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer"
            or claims["iss"] != f"urn:atlassian:connect:clientid:{OAUTH_CLIENT_ID}"
            or not claims["sub"].startswith("urn:atlassian:connect:useraccountid:")
            or claims["tnt"] != self.base_url
            or claims["exp"] - claims["iat"] > 60
        ):
            return Response('{"error": "invalid_grant"}', 400, content_type="application/json")
        time.sleep(self.token_delay)  # lets concurrent callers pile up in the thread-safety test
        value = f"user-token-{secrets.token_hex(12)}"
        with self.lock:
            self.token_requests.append({"claims": claims, "scope": form.get("scope")})
            self.issued_tokens.add(value)
        body = {"access_token": value, "expires_in": self.token_expires_in, "token_type": "Bearer"}
        return Response(json.dumps(body), 200, content_type="application/json")
