"""The Connect-on-Forge manifest: the same backend, declared for Forge installation, and accepted by
Atlassian's own manifest validator."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.connect.forge_manifest import (
    CARRIED,
    FORGE_LIFECYCLE,
    NOT_CARRIED,
    ManifestError,
    build_manifest,
    forge_scope,
    render_manifest,
)
from app.db import get_engine
from tests.kit import forge
from tests.kit.constants import APP_BASE_URL, APP_KEY

APP_ID = f"ari:cloud:ecosystem::app/{uuid.uuid4()}"
#: Every Connect scope Confluence documents (Scopes for Connect apps), in descriptor spelling.
CONFLUENCE_CONNECT_SCOPES = [
    "READ",
    "WRITE",
    "DELETE",
    "SPACE_ADMIN",
    "ADMIN",
    "ACT_AS_USER",
    "ACCESS_EMAIL_ADDRESSES",
]


def manifest_text_from_cli(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["forge", "manifest", "--app-id", APP_ID])
    assert result.exit_code == 0, result.output
    return result.output


def parse(text: str) -> dict[str, Any]:
    comment, body = text.split("\n", 1)
    assert comment.startswith("#")
    parsed: dict[str, Any] = json.loads(body)  # JSON is YAML
    return parsed


def write(path: Path, manifest: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_manifest(manifest), encoding="utf-8")
    return path


def test_manifest_points_the_connect_remote_at_this_backend(app: Flask) -> None:
    manifest = parse(manifest_text_from_cli(app))
    assert manifest["app"] == {
        "id": APP_ID,
        "description": "Shows which documentation has gone stale, inside a Confluence page.",
        "runtime": {"name": "nodejs22.x"},
        "connect": {"key": APP_KEY, "remote": "connect", "authentication": "jwt"},
    }
    assert manifest["remotes"] == [{"key": "connect", "baseUrl": APP_BASE_URL}]
    assert manifest["permissions"]["scopes"] == ["read:connect-confluence", "act-as-user:connect-confluence"]


def test_manifest_agrees_with_the_served_descriptor(app: Flask, client: FlaskClient) -> None:
    """Everything the descriptor declares reaches the manifest, and nothing else does."""
    manifest = parse(manifest_text_from_cli(app))
    descriptor = client.get("/atlassian-connect.json").get_json()

    assert set(descriptor) <= set(CARRIED) | set(NOT_CARRIED)
    assert manifest["app"]["connect"]["key"] == descriptor["key"]
    assert [r["baseUrl"] for r in manifest["remotes"]] == [descriptor["baseUrl"]]

    modules = manifest["connectModules"]
    assert descriptor["modules"]  # the comparisons below are not vacuous
    for module_type, declared in descriptor["modules"].items():
        assert modules[f"confluence:{module_type}"] == declared
    assert set(modules) == {f"confluence:{t}" for t in descriptor["modules"]} | {"confluence:lifecycle"}

    [lifecycle] = modules["confluence:lifecycle"]
    delivered = {e: url for e, url in descriptor["lifecycle"].items() if e in FORGE_LIFECYCLE}
    assert set(delivered) == {"installed", "uninstalled"}
    assert lifecycle == {"key": "lifecycle-events", **delivered}

    assert descriptor["scopes"]
    assert manifest["permissions"]["scopes"] == [forge_scope(s) for s in descriptor["scopes"]]


def test_a_module_scope_or_event_added_to_the_descriptor_reaches_the_manifest(client: FlaskClient) -> None:
    descriptor = client.get("/atlassian-connect.json").get_json()
    descriptor["modules"]["webItems"] = [{"key": "w", "location": "system.header/left", "url": "/w"}]
    descriptor["scopes"].append("WRITE")
    descriptor["lifecycle"]["uninstalled"] = "/lifecycle/gone"
    manifest = build_manifest(descriptor, app_id=APP_ID)
    assert manifest["connectModules"]["confluence:webItems"] == descriptor["modules"]["webItems"]
    assert "write:connect-confluence" in manifest["permissions"]["scopes"]
    assert manifest["connectModules"]["confluence:lifecycle"][0]["uninstalled"] == "/lifecycle/gone"


def test_a_descriptor_field_the_manifest_cannot_carry_stops_generation(client: FlaskClient) -> None:
    descriptor = client.get("/atlassian-connect.json").get_json()
    descriptor["translations"] = {"paths": {"en-US": "/i18n/en.json"}}
    with pytest.raises(ManifestError, match="translations"):
        build_manifest(descriptor, app_id=APP_ID)


@pytest.mark.parametrize(
    ("connect", "forge_name"),
    [
        ("READ", "read:connect-confluence"),
        ("SPACE_ADMIN", "space-admin:connect-confluence"),
        ("ACCESS_EMAIL_ADDRESSES", "access-email-addresses:connect-confluence"),
        ("act_as_user", "act-as-user:connect-confluence"),  # Connect accepts lower case too
    ],
)
def test_connect_scopes_map_the_way_atlassians_converter_maps_them(connect: str, forge_name: str) -> None:
    manifest = build_manifest(
        {"key": "k", "baseUrl": "https://x.example", "scopes": [connect]}, app_id=APP_ID
    )
    assert manifest["permissions"]["scopes"] == [forge_name]


def test_bad_app_id_is_refused(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["forge", "manifest", "--app-id", "not-an-ari"])
    assert result.exit_code != 0 and "ari:cloud:ecosystem::app" in result.output


@pytest.mark.parametrize("base_url", ["http://app.example.test", "http://localhost:5000"])
def test_a_non_https_base_url_is_refused_with_a_message(
    app_overrides: dict[str, Any], tmp_path: Path, base_url: str
) -> None:
    application = create_app({**app_overrides, "BASE_URL": base_url})
    try:
        target = tmp_path / "manifest.yml"
        result = application.test_cli_runner().invoke(
            args=["forge", "manifest", "--app-id", APP_ID, "-o", str(target)]
        )
    finally:
        get_engine(application).dispose()
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert "APP_BASE_URL must be an https URL" in result.output and base_url in result.output
    assert "Traceback" not in result.output
    assert not target.exists()


def test_atlassians_validator_accepts_ours_and_rejects_broken_ones(app: Flask, tmp_path: Path) -> None:
    """Run @forge/manifest's full chain (what forge lint and forge deploy run) on the generated
    manifest, on one declaring every Confluence Connect scope, and on broken variants of it."""
    generated = tmp_path / "generated" / "manifest.yml"
    generated.parent.mkdir()
    result = app.test_cli_runner().invoke(
        args=["forge", "manifest", "--app-id", APP_ID, "-o", str(generated)]
    )
    assert result.exit_code == 0, result.output
    ours = parse(generated.read_text(encoding="utf-8"))

    def variant(name: str, change: Any) -> Path:
        manifest = copy.deepcopy(ours)
        change(manifest)
        return write(tmp_path / name / "manifest.yml", manifest)

    every_scope = variant(
        "every-scope",
        lambda m: m["permissions"].update(scopes=[forge_scope(s) for s in CONFLUENCE_CONNECT_SCOPES]),
    )
    unknown_module = variant(
        "unknown-module", lambda m: m["connectModules"].update({"confluence:notAModule": [{"key": "x"}]})
    )
    bad_scope = variant("bad-scope", lambda m: m["permissions"]["scopes"].append("read:nonsense-confluence"))
    no_remote = variant("no-remote", lambda m: m.update(remotes=[]))
    no_runtime = variant("no-runtime", lambda m: m["app"].pop("runtime", None))  # the old generator's output

    results = forge.validate(generated, every_scope, unknown_module, bad_scope, no_remote, no_runtime)

    def messages(path: Path) -> str:
        return "\n".join(e["message"] for e in results[path]["errors"] if e["level"] == "error")

    for accepted in (generated, every_scope):
        assert results[accepted]["success"], (forge.validator_version(), results[accepted])
        assert messages(accepted) == ""
    for rejected, reason in [
        (unknown_module, "confluence:notAModule"),
        (bad_scope, "read:nonsense-confluence"),
        (no_remote, "no remote found with key 'connect'"),
        (no_runtime, "runtime"),
    ]:
        assert not results[rejected]["success"], rejected
        assert reason in messages(rejected), results[rejected]
