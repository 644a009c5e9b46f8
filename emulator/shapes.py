"""JSON shapes of v2 objects (pages, blog posts, spaces, children, labels, versions) per the spec."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from emulator.people import ADMIN_ACCOUNT_ID
from emulator.site import Content, Site, Space, iso, label_id, slug

BODY_FORMATS_LIST = ("storage", "atlas_doc_format")
BODY_FORMATS_SINGLE = (
    *BODY_FORMATS_LIST,
    "view",
    "export_view",
    "anonymous_export_view",
    "styled_view",
    "editor",
)


def _tinyui(content_id: int) -> str:
    """Confluence's short ``/x/...`` link: base64 of the id's little-endian bytes."""
    raw = content_id.to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return "/x/" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _body(site: Site, item: Content, body_format: str, version: int | None = None) -> dict[str, Any]:
    storage = site.body_storage(item, version)
    if body_format == "atlas_doc_format":
        doc = {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": item.title}]},
                {
                    "type": "paragraph",
                    "content": [{"type": "text", "text": f"Version {version or item.version}."}],
                },
            ],
        }
        return {body_format: {"value": json.dumps(doc), "representation": body_format}}
    return {body_format: {"value": storage, "representation": body_format}}


def version_json(item: Content, number: int | None = None) -> dict[str, Any]:
    """The ``version`` object; earlier versions get dates spread evenly between creation and the latest."""
    number = item.version if number is None else number
    if item.version > 1:
        ts = item.created_at + (item.modified_at - item.created_at) * (number - 1) / (item.version - 1)
    else:
        ts = item.modified_at
    return {
        "createdAt": iso(ts),
        "message": "" if number > 1 else "Initial version",
        "number": number,
        "minorEdit": number % 3 == 0,
        "authorId": version_author(item, number),
    }


def version_author(item: Content, number: int) -> str:
    """Version 1 is the creator's, the latest the last editor's, the ones between alternate."""
    if number == item.version:
        return item.last_editor
    return item.author_id if number % 2 else item.last_editor


def webui_path(site: Site, item: Content) -> str:
    """The content's web UI path under the site's base URL (``/spaces/KEY/pages/ID/Title``)."""
    space = site.space(item.space_id)
    key = space.key if space else ""
    if item.kind == "page":
        return f"/spaces/{key}/pages/{item.id}/{slug(item.title)}"
    day = datetime.fromtimestamp(item.created_at, UTC).strftime("%Y/%m/%d")
    return f"/spaces/{key}/blog/{day}/{item.id}/{slug(item.title)}"


def _links(site: Site, item: Content) -> dict[str, str]:
    return {
        "webui": webui_path(site, item),
        "editui": f"/pages/resumedraft.action?draftId={item.id}",
        "tinyui": _tinyui(item.id),
    }


def page_json(
    site: Site,
    item: Content,
    body_format: str | None = None,
    *,
    single: bool = False,
    version: int | None = None,
) -> dict[str, Any]:
    """A ``PageBulk`` (lists) or ``PageSingle``: ids are strings; ``body`` only when a format was asked for.

    ``version`` renders that earlier version (its version object and body); ``subtype`` is a ``PageBulk``
    field only (the spec's ``PageSingle`` has none), null for a classic page.
    """
    data: dict[str, Any] = {
        "id": str(item.id),
        "status": item.status,
        "title": item.title,
        "spaceId": str(item.space_id),
        "parentId": str(item.parent_id) if item.parent_id is not None else None,
        "parentType": "page" if item.parent_id is not None else None,
        "position": item.position,
        "authorId": item.author_id,
        "ownerId": item.author_id,
        "lastOwnerId": None,
    }
    if not single:
        data["subtype"] = None
    data["createdAt"] = iso(item.created_at)
    data["version"] = version_json(item, version)
    data["_links"] = _links(site, item)
    if body_format:
        data["body"] = _body(site, item, body_format, version)
    return data


def blogpost_json(
    site: Site, item: Content, body_format: str | None = None, *, version: int | None = None
) -> dict[str, Any]:
    """A ``BlogPostBulk`` or ``BlogPostSingle`` (the same fields)."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "status": item.status,
        "title": item.title,
        "spaceId": str(item.space_id),
        "authorId": item.author_id,
        "createdAt": iso(item.created_at),
        "version": version_json(item, version),
        "_links": _links(site, item),
    }
    if body_format:
        data["body"] = _body(site, item, body_format, version)
    return data


def space_json(
    site: Site,
    space: Space,
    description_format: str | None = None,
    *,
    single: bool = False,
    icon: bool = False,
) -> dict[str, Any]:
    """A ``SpaceBulk`` or ``SpaceSingle``; ``description`` and ``icon`` only when asked for.

    ``currentActiveAlias`` (the key, as no space here was ever renamed) is a ``SpaceBulk`` field only.
    """
    home = site.content.get(space.homepage_id)
    data: dict[str, Any] = {
        "id": str(space.id),
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": space.status,
        "authorId": home.author_id if home else ADMIN_ACCOUNT_ID,
        "spaceOwnerId": home.author_id if home else ADMIN_ACCOUNT_ID,
    }
    if not single:
        data["currentActiveAlias"] = space.key
    data["createdAt"] = iso(home.created_at if home else site.now)
    data["homepageId"] = str(space.homepage_id)
    if description_format:
        data["description"] = {
            description_format: {"value": space.description, "representation": description_format}
        }
    if icon:
        data["icon"] = {
            "path": f"/wiki/download/attachments/{space.homepage_id}/space-icon.png",
            "apiDownloadLink": f"/wiki/rest/api/space/{space.key}/icon",
        }
    data["_links"] = {"webui": f"/spaces/{space.key}"}
    return data


def child_json(item: Content) -> dict[str, Any]:
    """A ``ChildrenResponse`` entry of ``/direct-children``."""
    return {
        "id": str(item.id),
        "status": item.status,
        "title": item.title,
        "type": "page",
        "spaceId": str(item.space_id),
        "childPosition": item.position,
    }


def descendant_json(item: Content, depth: int) -> dict[str, Any]:
    """A ``DescendantsResponse`` entry."""
    return {
        "id": str(item.id),
        "status": item.status,
        "title": item.title,
        "type": "page",
        "parentId": str(item.parent_id) if item.parent_id is not None else None,
        "depth": depth,
        "childPosition": item.position,
    }


def label_json(name: str) -> dict[str, Any]:
    """A ``Label``; every seeded label is a global one."""
    return {"id": label_id(name), "name": name, "prefix": "global"}
