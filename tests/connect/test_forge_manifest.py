"""The Connect-on-Forge manifest: the same backend, declared for Forge installation."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask

from app.connect.forge_manifest import build_manifest
from tests.kit.constants import APP_BASE_URL, APP_KEY

APP_ID = f"ari:cloud:ecosystem::app/{uuid.uuid4()}"


def manifest_from_cli(app: Flask) -> dict:
    result = app.test_cli_runner().invoke(args=["forge", "manifest", "--app-id", APP_ID])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.split("\n", 1)[1])  # after the comment line: JSON is YAML


def test_manifest_points_the_connect_remote_at_this_backend(app: Flask) -> None:
    manifest = manifest_from_cli(app)
    assert manifest["app"] == {
        "id": APP_ID,
        "connect": {"key": APP_KEY, "remote": "connect", "authentication": "jwt"},
    }
    assert manifest["remotes"] == [{"key": "connect", "baseUrl": APP_BASE_URL}]
    assert manifest["permissions"]["scopes"] == ["read:connect-confluence", "act-as-user:connect-confluence"]


def test_manifest_carries_every_module_and_only_forge_lifecycle_events(app: Flask, client) -> None:
    manifest = manifest_from_cli(app)
    descriptor = client.get("/atlassian-connect.json").get_json()
    modules = manifest["connectModules"]
    assert modules["confluence:dynamicContentMacros"] == descriptor["modules"]["dynamicContentMacros"]
    assert modules["confluence:adminPages"] == descriptor["modules"]["adminPages"]
    [lifecycle] = modules["confluence:lifecycle"]
    assert lifecycle == {
        "key": "lifecycle-events",
        "installed": "/lifecycle/installed",
        "uninstalled": "/lifecycle/uninstalled",
    }


def test_bad_app_id_is_refused(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["forge", "manifest", "--app-id", "not-an-ari"])
    assert result.exit_code != 0 and "ari:cloud:ecosystem::app" in result.output


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="NONSENSE"):
        build_manifest({"key": "k", "baseUrl": "https://x", "scopes": ["NONSENSE"]}, app_id=APP_ID)
