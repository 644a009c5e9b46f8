"""The ``include-*`` flags of single-object GETs: optional fields with ``results``, ``meta`` and ``_links``.

Each field holds at most 50 results (as the spec says) with ``meta.hasMore`` and ``_links.self`` pointing
at the list endpoint that has the rest. Flags for data the site does not have (properties, likes,
permissions) give an empty field rather than being ignored, so a client sees that it asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from flask import Request

from emulator import params, shapes
from emulator.site import Content

FIELD_LIMIT: Final = 50
#: Flags the spec defines for which ``PageSingle``/``BlogPostSingle`` declare no field: accepted, no output.
SILENT_CONTENT_FLAGS: Final = ("include-webresources", "include-collaborators", "include-direct-children")


def optional_field(results: list[dict[str, Any]], self_link: str) -> dict[str, Any]:
    """``{"results", "meta": {"hasMore"}, "_links": {"self"}}`` with at most 50 results."""
    meta: dict[str, Any] = {"hasMore": len(results) > FIELD_LIMIT}
    return {"results": results[:FIELD_LIMIT], "meta": meta, "_links": {"self": self_link}}


def content_operations(item: Content) -> list[dict[str, str]]:
    """What a reader of ``item`` may do with it (the emulator's callers may read and update)."""
    return [{"operation": op, "targetType": item.kind} for op in ("read", "update")]


def content_fields(req: Request, item: Content) -> dict[str, Any]:
    """The optional fields a page or blog post GET asked for (labels, versions, …) in spec order."""
    kind = "pages" if item.kind == "page" else "blogposts"
    base = f"/wiki/api/v2/{kind}/{item.id}"
    for flag in SILENT_CONTENT_FLAGS:
        params.boolean(req, flag)
    builders: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        (
            "include-labels",
            "labels",
            lambda: optional_field([shapes.label_json(n) for n in item.labels], f"{base}/labels"),
        ),
        ("include-properties", "properties", lambda: optional_field([], f"{base}/properties")),
        (
            "include-operations",
            "operations",
            lambda: optional_field(content_operations(item), f"{base}/operations"),
        ),
        ("include-likes", "likes", lambda: optional_field([], f"{base}/likes")),
        (
            "include-versions",
            "versions",
            lambda: optional_field(
                [shapes.version_json(item, n) for n in range(item.version, 0, -1)], f"{base}/versions"
            ),
        ),
    ]
    fields: dict[str, Any] = {}
    for flag, name, build in builders:
        if params.boolean(req, flag):
            fields[name] = build()
    if params.boolean(req, "include-favorited-by-current-user-status"):
        fields["isFavoritedByCurrentUser"] = False
    return fields


def space_fields(req: Request, space_id: int) -> dict[str, Any]:
    """Optional fields of ``GET /spaces/{id}``: labels, properties, operations, permissions (role
    assignments have no field in ``SpaceSingle``; the flag is accepted)."""
    base = f"/wiki/api/v2/spaces/{space_id}"
    params.boolean(req, "include-role-assignments")
    fields: dict[str, Any] = {}
    if params.boolean(req, "include-labels"):
        fields["labels"] = optional_field([], f"{base}/labels")
    if params.boolean(req, "include-properties"):
        fields["properties"] = optional_field([], f"{base}/properties")
    if params.boolean(req, "include-operations"):
        ops = [{"operation": "read", "targetType": "space"}]
        fields["operations"] = optional_field(ops, f"{base}/operations")
    if params.boolean(req, "include-permissions"):
        fields["permissions"] = optional_field([], f"{base}/permissions")
    return fields
