"""A tiny Connect app for emulator tests: verifies lifecycle tokens independently and frames AP calls."""

from __future__ import annotations

from typing import Any

import jwt
import requests
from atlassian_jwt.url_utils import hash_url
from flask import Flask, Response, jsonify, request

BASE_PATH = "/app"
LIFECYCLE_QUERY = "?version=2"


def make_fake_app(key: str = "com.example.fake", fail_install: bool = False) -> Flask:
    """An app served under ``/app`` (so qsh must be relative to the baseUrl path) that checks every token.

    Set ``app.config["BASE_URL"]`` and ``app.config["INSTALL_KEYS_URL"]`` before it gets requests; each
    lifecycle call is appended to ``app.config["EVENTS"]`` as (event, claims, body) or (event, error).
    """
    app = Flask(__name__)
    app.config.update(EVENTS=[], SECRET=None, FAIL_INSTALL=fail_install, KEY=key)

    def relative() -> str:
        query = request.query_string.decode()
        path = request.path.removeprefix(BASE_PATH)
        return f"{path}?{query}" if query else path

    def verify(event: str) -> tuple[dict[str, Any], dict[str, Any]]:
        token = request.headers["Authorization"].removeprefix("JWT ")
        body: dict[str, Any] = request.get_json()
        header = jwt.get_unverified_header(token)
        if event in ("installed", "uninstalled"):
            assert header["alg"] == "RS256" and header["kid"]
            key_response = requests.get(f"{app.config['INSTALL_KEYS_URL']}/{header['kid']}", timeout=5)
            key_response.raise_for_status()
            claims = jwt.decode(
                token, key_response.text, algorithms=["RS256"], audience=app.config["BASE_URL"]
            )
        else:
            claims = jwt.decode(
                token, app.config["SECRET"], algorithms=["HS256"], options={"verify_aud": False}
            )
        assert claims["iss"] == body["clientKey"], "iss must be the clientKey"
        assert claims["qsh"] == hash_url("POST", relative()), "qsh mismatch"
        assert "sub" not in claims
        assert body["eventType"] == event
        return claims, body

    def handler(event: str) -> Any:
        def view() -> tuple[str, int]:
            try:
                claims, body = verify(event)
            except Exception as exc:  # record the reason for the test, answer like a strict app
                app.config["EVENTS"].append((event, repr(exc)))
                return "bad token", 401
            if event == "installed" and app.config["FAIL_INSTALL"]:
                return "install refused by test", 500
            if event == "installed":
                app.config["SECRET"] = body["sharedSecret"]
            app.config["EVENTS"].append((event, claims, body))
            return "", 204

        view.__name__ = f"lifecycle_{event}"
        return view

    for event in ("installed", "uninstalled", "enabled", "disabled"):
        app.add_url_rule(f"{BASE_PATH}/lifecycle/{event}", view_func=handler(event), methods=["POST"])

    @app.get(f"{BASE_PATH}/atlassian-connect.json")
    def descriptor() -> Response:
        return jsonify(
            {
                "key": app.config["KEY"],
                "name": "Fake",
                "baseUrl": app.config["BASE_URL"],
                "authentication": {"type": "jwt"},
                "scopes": ["READ", "ACT_AS_USER"],
                "apiMigrations": {"signed-install": True, "context-qsh": True, "gdpr": True},
                "lifecycle": {
                    e: f"/lifecycle/{e}{LIFECYCLE_QUERY}"
                    for e in ("installed", "uninstalled", "enabled", "disabled")
                },
                "modules": {
                    "dynamicContentMacros": [
                        {
                            "key": "fake-macro",
                            "name": {"value": "Fake macro"},
                            "url": "/macro?pageId={page.id}&v={page.version}&title={page.title}"
                            "&space={space.key}"
                            "&macroId={macro.id}&out={output.type}&view={view}",
                            "parameters": [
                                {
                                    "identifier": "view",
                                    "name": {"value": "View"},
                                    "type": "enum",
                                    "values": ["list", "tree"],
                                    "defaultValue": "list",
                                }
                            ],
                        }
                    ],
                    "adminPages": [{"key": "fake-admin", "name": {"value": "Fake admin"}, "url": "/admin"}],
                },
            }
        )

    @app.get(f"{BASE_PATH}/macro")
    def macro() -> str:
        return MACRO_PAGE.replace("ALL_JS", app.config.get("ALL_JS_URL", ""))

    return app


MACRO_PAGE = """<!doctype html><html><head><script src="ALL_JS"></script></head>
<body style="margin:0"><div class="ac-content" id="content" style="height: 40px">
<p id="status">loading</p></div>
<script>
  AP.context.getToken().then(function (token) {
    document.getElementById("status").textContent = "token:" + token;
    window.parent.postMessage({probe: "token", token: token}, "*");
    document.getElementById("content").style.height = "333px";
    AP.resize("100%", 333);
  }, function (err) { document.getElementById("status").textContent = "error:" + err; });
</script></body></html>"""
