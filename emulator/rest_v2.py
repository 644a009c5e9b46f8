"""Read-only Confluence REST v2 routes under ``/wiki/api/v2`` with the real parameters and error codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Request, Response, jsonify, request

from emulator import shapes
from emulator.errors import bad_parameter, not_found
from emulator.gateway import protect
from emulator.pagination import paginate, parse_limit
from emulator.site import Content, Site, Space, label_id
from emulator.state import EmulatorState, current

bp = Blueprint("rest_v2", __name__, url_prefix="/wiki/api/v2")
protect(bp)

PAGE_SORTS = (
    "id",
    "-id",
    "created-date",
    "-created-date",
    "modified-date",
    "-modified-date",
    "title",
    "-title",
)
BLOG_SORTS = PAGE_SORTS[:6]
SPACE_SORTS = ("id", "-id", "key", "-key", "name", "-name")
CHILD_SORTS = (*PAGE_SORTS, "child-position", "-child-position")
PAGE_STATUSES = ("current", "archived", "deleted", "trashed")
BLOG_STATUSES = ("current", "deleted", "trashed")
_CACHE_LIMIT = 256


def _list_param(req: Request, name: str) -> list[str]:
    """A v2 array parameter: comma-separated and/or repeated."""
    return [part.strip() for raw in req.args.getlist(name) for part in raw.split(",") if part.strip()]


def _enum(req: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    value = req.args.get(name, default)
    if value is not None and value not in allowed:
        raise bad_parameter(f"'{name}' must be one of {', '.join(allowed)}")
    return value


def _ids(req: Request, name: str, max_items: int) -> list[int]:
    values = _list_param(req, name)
    if len(values) > max_items:
        raise bad_parameter(f"'{name}' accepts at most {max_items} values")
    try:
        return [int(v) for v in values]
    except ValueError:
        raise bad_parameter(f"'{name}' must be a list of numeric ids") from None


def _statuses(req: Request, allowed: tuple[str, ...], default: tuple[str, ...]) -> frozenset[str]:
    values = _list_param(req, "status")
    for value in values:
        if value not in allowed:
            raise bad_parameter(f"'status' must be one of {', '.join(allowed)}")
    return frozenset(values or default)


def _sort_key(sort: str) -> tuple[Callable[[Content], Any], bool]:
    field = sort.lstrip("-")
    keys: dict[str, Callable[[Content], Any]] = {
        "id": lambda c: c.id,
        "created-date": lambda c: (c.created_at, c.id),
        "modified-date": lambda c: (c.modified_at, c.id),
        "title": lambda c: (c.title, c.id),
        "child-position": lambda c: (c.position, c.id),
    }
    return keys[field], sort.startswith("-")


def _select(
    state: EmulatorState,
    cache_key: tuple[Any, ...],
    ids: Callable[[], list[int]],
    keep: Callable[[Content], bool],
    sort: str,
) -> list[Content]:
    """Filter and sort content ids, cached per query (content never changes, so the cache is always valid)."""
    cached = state.list_cache.get(cache_key)
    if cached is not None:
        return cached
    content = state.site.content
    items = [c for c in (content[i] for i in ids()) if keep(c)]
    key, reverse = _sort_key(sort)
    items.sort(key=key, reverse=reverse)
    if len(state.list_cache) >= _CACHE_LIMIT:
        state.list_cache.clear()
    state.list_cache[cache_key] = items
    return items


def _body_format(allowed: tuple[str, ...] = shapes.BODY_FORMATS_LIST) -> str | None:
    return _enum(request, "body-format", allowed)


def _paginate(items: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
    state = current()
    return paginate(request, items, render, base_url=state.site.base_url, secret=state.cursor_secret)


def _require_space(site: Site, space_id: str) -> Space:
    space = site.space(int(space_id)) if space_id.isdigit() else None
    if space is None:
        raise not_found(f"No space with id {space_id}")
    return space


def _require_page(site: Site, page_id: str) -> Content:
    page = site.page(int(page_id)) if page_id.isdigit() else None
    if page is None or page.status in ("trashed", "deleted"):
        raise not_found(f"No page with id {page_id}")
    return page


@bp.get("/spaces")
def list_spaces() -> Response:
    """``GET /spaces`` with ``ids``, ``keys``, ``type``, ``status`` and ``sort``."""
    site = current().site
    ids = set(_ids(request, "ids", 100))
    keys = set(_list_param(request, "keys"))
    space_type = request.args.get("type")
    status = _enum(request, "status", ("current", "archived"))
    sort = _enum(request, "sort", SPACE_SORTS, "id") or "id"
    description_format = _enum(request, "description-format", ("plain", "view"))
    parse_limit(request)
    spaces = [
        s
        for s in site.spaces
        if (not ids or s.id in ids)
        and (not keys or s.key in keys)
        and (space_type is None or s.type == space_type)
        and (status is None or s.status == status)
    ]
    field = sort.lstrip("-")
    spaces.sort(key=lambda s: getattr(s, field), reverse=sort.startswith("-"))
    return _paginate(spaces, lambda s: shapes.space_json(site, s, description_format))


@bp.get("/spaces/<space_id>")
def get_space(space_id: str) -> Response:
    """``GET /spaces/{id}``."""
    site = current().site
    description_format = _enum(request, "description-format", ("plain", "view"))
    return jsonify(shapes.space_json(site, _require_space(site, space_id), description_format))


def _page_list(space_ids: list[int], page_ids: list[int], depth: str) -> Response:
    state = current()
    site = state.site
    statuses = _statuses(request, PAGE_STATUSES, ("current", "archived"))
    title = request.args.get("title")
    sort = _enum(request, "sort", PAGE_SORTS, "id") or "id"
    body_format = _body_format()
    parse_limit(request)
    wanted_ids = frozenset(page_ids)

    def ids() -> list[int]:
        if space_ids:
            return [i for s in space_ids for i in site.pages_by_space.get(s, ())]
        return [c.id for c in site.content.values() if c.kind == "page"]

    def keep(c: Content) -> bool:
        return (
            c.status in statuses
            and (title is None or c.title == title)
            and (not wanted_ids or c.id in wanted_ids)
            and (depth != "root" or c.parent_id is None)
        )

    key = ("pages", tuple(space_ids), tuple(sorted(wanted_ids)), depth, tuple(sorted(statuses)), title, sort)
    items = _select(state, key, ids, keep, sort)
    return _paginate(items, lambda c: shapes.page_json(site, c, body_format))


@bp.get("/pages")
def list_pages() -> Response:
    """``GET /pages`` with ``space-id``, ``id``, ``status``, ``title``, ``sort``, ``body-format``."""
    return _page_list(_ids(request, "space-id", 100), _ids(request, "id", 250), "all")


@bp.get("/spaces/<space_id>/pages")
def list_space_pages(space_id: str) -> Response:
    """``GET /spaces/{id}/pages`` with ``depth=all|root``."""
    space = _require_space(current().site, space_id)
    depth = _enum(request, "depth", ("all", "root"), "all") or "all"
    return _page_list([space.id], [], depth)


@bp.get("/pages/<page_id>")
def get_page(page_id: str) -> Response:
    """``GET /pages/{id}`` (``body-format`` adds the body)."""
    site = current().site
    body_format = _body_format(shapes.BODY_FORMATS_SINGLE)
    return jsonify(shapes.page_json(site, _require_page(site, page_id), body_format))


@bp.get("/pages/<page_id>/direct-children")
def direct_children(page_id: str) -> Response:
    """``GET /pages/{id}/direct-children`` (pages only; the site has no folders or whiteboards)."""
    state = current()
    page = _require_page(state.site, page_id)
    sort = _enum(request, "sort", CHILD_SORTS, "child-position") or "child-position"
    parse_limit(request)
    items = _select(
        state,
        ("children", page.id, sort),
        lambda: state.site.children.get(page.id, []),
        lambda c: c.status in ("current", "archived"),
        sort,
    )
    return _paginate(items, shapes.child_json)


@bp.get("/pages/<page_id>/descendants")
def descendants(page_id: str) -> Response:
    """``GET /pages/{id}/descendants``, breadth first, ``depth`` 1..10 (default 2 as in the spec)."""
    state = current()
    page = _require_page(state.site, page_id)
    raw_depth = request.args.get("depth", "2")
    if not raw_depth.isdigit() or not 1 <= int(raw_depth) <= 10:
        raise bad_parameter("'depth' must be an integer between 1 and 10")
    parse_limit(request)
    found = [
        (c, d)
        for c, d in state.site.iter_descendants(page.id, int(raw_depth))
        if c.status in ("current", "archived")
    ]
    return _paginate(found, lambda pair: shapes.descendant_json(*pair))


@bp.get("/pages/<page_id>/ancestors")
def ancestors(page_id: str) -> Response:
    """``GET /pages/{id}/ancestors``: top-down, ``limit`` only, never a cursor."""
    site = current().site
    page = _require_page(site, page_id)
    limit = parse_limit(request)
    chain = site.ancestors(page)[:limit]
    response = jsonify(
        {"results": [{"id": str(c.id), "type": "page"} for c in chain], "_links": {"base": site.base_url}}
    )
    response.headers["Link"] = f'<{site.base_url}>; rel="base"'
    return response


def _blog_list(space_ids: list[int]) -> Response:
    state = current()
    site = state.site
    wanted_ids = frozenset(_ids(request, "id", 250))
    statuses = _statuses(request, BLOG_STATUSES, ("current",))
    title = request.args.get("title")
    sort = _enum(request, "sort", BLOG_SORTS, "id") or "id"
    body_format = _body_format()
    parse_limit(request)

    def ids() -> list[int]:
        spaces = space_ids or [s.id for s in site.spaces]
        return [i for s in spaces for i in site.blogposts_by_space.get(s, ())]

    def keep(c: Content) -> bool:
        return (
            c.status in statuses
            and (title is None or c.title == title)
            and (not wanted_ids or c.id in wanted_ids)
        )

    key = ("blogposts", tuple(space_ids), tuple(sorted(wanted_ids)), tuple(sorted(statuses)), title, sort)
    items = _select(state, key, ids, keep, sort)
    return _paginate(items, lambda c: shapes.blogpost_json(site, c, body_format))


@bp.get("/blogposts")
def list_blogposts() -> Response:
    """``GET /blogposts`` with ``space-id``, ``id``, ``status``, ``title``, ``sort``."""
    return _blog_list(_ids(request, "space-id", 100))


@bp.get("/spaces/<space_id>/blogposts")
def list_space_blogposts(space_id: str) -> Response:
    """``GET /spaces/{id}/blogposts``."""
    return _blog_list([_require_space(current().site, space_id).id])


@bp.get("/pages/<page_id>/labels")
def page_labels(page_id: str) -> Response:
    """``GET /pages/{id}/labels`` with ``prefix`` and ``sort``."""
    page = _require_page(current().site, page_id)
    prefix = _enum(request, "prefix", ("my", "team", "global", "system"))
    sort = _enum(request, "sort", ("created-date", "-created-date", "id", "-id", "name", "-name"), "name")
    parse_limit(request)
    names = [] if prefix not in (None, "global") else list(page.labels)
    field = (sort or "name").lstrip("-")
    names.sort(
        key=(lambda n: int(label_id(n))) if field == "id" else (lambda n: n),
        reverse=(sort or "").startswith("-"),
    )
    return _paginate(names, shapes.label_json)


@bp.get("/pages/<page_id>/versions")
def page_versions(page_id: str) -> Response:
    """``GET /pages/{id}/versions``, newest first unless ``sort=modified-date``."""
    page = _require_page(current().site, page_id)
    sort = _enum(request, "sort", ("modified-date", "-modified-date"), "-modified-date")
    _body_format()
    parse_limit(request)
    numbers = list(range(1, page.version + 1))
    if sort == "-modified-date":
        numbers.reverse()

    def render(number: int) -> dict[str, Any]:
        return {**shapes.version_json(page, number), "page": {"id": str(page.id), "title": page.title}}

    return _paginate(numbers, render)
