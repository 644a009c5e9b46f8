"""Check emulator answers against Atlassian's OpenAPI spec (``tests/data/confluence-v2.openapi.json``).

The spec is OpenAPI 3.0, so its schemas are turned into plain JSON Schema for ``jsonschema``: ``$ref`` is
inlined, ``allOf`` branches that are objects are merged (so the merged object can be closed), ``nullable``
becomes a ``null`` alternative, and every object that lists ``properties`` without saying otherwise gets
``additionalProperties: false`` so an invented field fails. The spec marks nothing ``required``; a
separate check reports declared fields an answer leaves out (except those only sent when asked for).

One reading of the spec is deliberate: a property whose description says it is "null" when absent (such
as ``parentId``: "or null if there is no parent page") may be null even where the type forgets
``nullable``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator

SPEC_PATH: Final = Path(__file__).resolve().parents[1] / "data" / "confluence-v2.openapi.json"
_OAS_ONLY: Final = frozenset({"nullable", "discriminator", "xml", "externalDocs", "example", "deprecated"})
#: Fields the v2 API sends only when the request asks for them (include flags, formats, a next page).
ONLY_WHEN_ASKED: Final = frozenset(
    {
        "body",
        "description",
        "icon",
        "labels",
        "properties",
        "operations",
        "likes",
        "versions",
        "permissions",
        "isFavoritedByCurrentUser",
        "next",
        "cursor",
    }
)
#: The error body Confluence is seen to send (https://developer.atlassian.com/cloud/confluence/rest/v2/intro/);
#: the spec declares none.
ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["status", "code", "title", "detail"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string", "pattern": "^[A-Z_]+$"},
                    "title": {"type": "string", "minLength": 1},
                    "detail": {"type": "string"},
                },
            },
        }
    },
}


@cache
def spec() -> dict[str, Any]:
    """The parsed spec (read once)."""
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


def _component(ref: str) -> dict[str, Any]:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict), ref
    return node


def _says_null(node: dict[str, Any]) -> bool:
    """True if the property's description (or its referenced schema's) says it may be null."""
    text = node.get("description") or (_component(node["$ref"]).get("description") if "$ref" in node else "")
    return bool(re.search(r"\bnull\b", str(text), re.IGNORECASE))


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Merge two resolved object schemas (an ``allOf`` pair): union of properties, recursively."""

    def is_object(s: dict[str, Any]) -> bool:
        return s.get("type") == "object" or "properties" in s

    if is_object(a) and is_object(b):
        props = dict(a.get("properties", {}))
        for name, sub in b.get("properties", {}).items():
            props[name] = _merge(props[name], sub) if name in props else sub
        return {**a, **b, "type": "object", "properties": props}
    return {"allOf": [a, b]}


def resolve(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """The schema with ``$ref`` inlined, object ``allOf`` merged and ``nullable`` as JSON Schema."""
    if isinstance(node, list):
        return [resolve(n, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:  # a recursive schema: accept anything below this point
            return {}
        return resolve(_component(ref), (*seen, ref))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OAS_ONLY:
            continue
        if key == "properties":
            out[key] = {name: _property(sub, seen) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") or key in ("allOf", "anyOf", "oneOf"):
            out[key] = resolve(value, seen)
        else:
            out[key] = value
    if "allOf" in out:
        merged: dict[str, Any] = {}
        for branch in out.pop("allOf"):
            merged = _merge(merged, branch) if merged else branch
        out = _merge(merged, out) if out else merged
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        out = _nullable(out)
    return out


def _property(sub: dict[str, Any], seen: tuple[str, ...]) -> Any:
    resolved = resolve(sub, seen)
    return _nullable(resolved) if _says_null(sub) else resolved


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        enum = schema.get("enum")
        extra = {"enum": [*enum, None]} if enum is not None and None not in enum else {}
        return {**schema, "type": [kind, "null"], **extra}
    return {"anyOf": [schema, {"type": "null"}]}


def operation(method: str, path: str) -> dict[str, Any]:
    """The spec's operation for a ``/wiki/api/v2``-relative template such as ``/pages/{id}``."""
    op: dict[str, Any] = spec()["paths"][path][method.lower()]
    return op


def response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The resolved JSON body schema the spec gives for this answer, if any."""
    responses = operation(method, path)["responses"]
    entry = responses.get(str(status)) or responses.get("default") or {}
    body = entry.get("content", {}).get("application/json", {}).get("schema")
    return resolve(body) if body is not None else None


def problems(instance: Any, schema: dict[str, Any], omitted: frozenset[str] = frozenset()) -> list[str]:
    """Every schema violation plus every declared field left out, except send-on-request ones and
    ``omitted`` (fields the request itself turned off, such as ``include-version=false``)."""
    found = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(instance)
    ]
    return found + _missing(instance, schema, "", ONLY_WHEN_ASKED | omitted)


def _missing(instance: Any, schema: Any, where: str, optional: frozenset[str]) -> list[str]:
    if not isinstance(schema, dict):
        return []
    if "anyOf" in schema and instance is not None:
        branches = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _missing(instance, branches[0], where, optional) if branches else []
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        item_schema = schema["items"]
        return [m for i, x in enumerate(instance) for m in _missing(x, item_schema, f"{where}/{i}", optional)]
    if not isinstance(instance, dict):
        return []
    out = []
    for name, sub in schema.get("properties", {}).items():
        if name not in instance:
            if name not in optional:
                out.append(f"{where or '<root>'}: declared field {name!r} is missing")
        elif name not in ONLY_WHEN_ASKED:
            # A requested field (body, description…) holds only what was asked for: not checked for
            # completeness, only against the schema.
            out += _missing(instance[name], sub, f"{where}/{name}", optional)
    return out


def error_problems(instance: Any, status: int) -> list[str]:
    """Violations of the v2 error body, which must also repeat the HTTP status."""
    found = [e.message for e in Draft202012Validator(ERROR_SCHEMA).iter_errors(instance)]
    if not found and any(err["status"] != status for err in instance["errors"]):
        found.append(f"error status differs from HTTP {status}")
    return found
