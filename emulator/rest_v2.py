"""Read-only Confluence REST v2 routes under ``/wiki/api/v2`` with the real parameters and error codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator import includes, params, shapes
from emulator.accounts import caller_principal
from emulator.errors import bad_parameter, not_found
from emulator.gateway import caller, protect
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
SINGLE_PAGE_STATUSES = ("current", "archived", "trashed", "deleted", "historical", "draft")
SINGLE_BLOG_STATUSES = ("current", "trashed", "deleted", "historical", "draft")
SPACE_TYPES = (
    "global",
    "collaboration",
    "knowledge_base",
    "personal",
    "system",
    "onboarding",
    "xflow_sample_space",
)
LABEL_SORTS = ("created-date", "-created-date", "id", "-id", "name", "-name")
VISIBLE = frozenset({"current", "archived"})
_CACHE_LIMIT = 256


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
    """Filter to what the caller may read, then sort; cached per query, reader and restriction generation.

    Pagination slices this list, so every readable item comes exactly once and no page is short.
    """
    principal = caller_principal(state, caller())
    key = (*cache_key, principal, state.access.generation)
    cached = state.list_cache.get(key)
    if cached is not None:
        return cached
    hidden = state.access.hidden(principal)
    content = state.site.content
    items = [c for c in (content[i] for i in ids()) if c.id not in hidden and keep(c)]
    order, reverse = _sort_key(sort)
    items.sort(key=order, reverse=reverse)
    if len(state.list_cache) >= _CACHE_LIMIT:
        state.list_cache.clear()
    state.list_cache[key] = items
    return items


def _body_format(allowed: tuple[str, ...] = shapes.BODY_FORMATS_LIST) -> str | None:
    return params.enum(request, "body-format", allowed)


def _paginate(items: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
    state = current()
    return paginate(request, items, render, base_url=state.site.base_url, secret=state.cursor_secret)


def _single(data: dict[str, Any]) -> Response:
    """A single-object answer: its ``_links`` also carry ``base`` (the spec's allOf on every GET by id)."""
    data["_links"] = {**data.get("_links", {}), "base": current().site.base_url}
    return jsonify(data)


def _require_space(site: Site, space_id: str) -> Space:
    space = site.space(params.int64(space_id))
    if space is None:
        raise not_found(f"No space with id {space_id}")
    return space


def _require_content(raw_id: str, kind: str, statuses: frozenset[str] = VISIBLE) -> Content:
    """The page or blog post the caller may read with one of ``statuses``, else 404 (as Confluence does)."""
    state = current()
    item = state.site.content.get(params.int64(raw_id))
    if (
        item is None
        or item.kind != kind
        or item.status not in statuses
        or not state.access.can_read(caller_principal(state, caller()), item)
    ):
        raise not_found(f"No {kind} with id {raw_id}")
    return item


@bp.get("/spaces")
def list_spaces() -> Response:
    """``GET /spaces`` with ``ids``, ``keys``, ``type``, ``status``, ``labels``, ``favorited-by``."""
    site = current().site
    ids = set(params.ids(request, "ids", 250))
    keys = params.list_param(request, "keys")
    if len(keys) > 250:
        raise bad_parameter("'keys' accepts at most 250 values")
    space_type = params.enum(request, "type", SPACE_TYPES)
    status = params.enum(request, "status", ("current", "archived"))
    labels = params.list_param(request, "labels")  # no space has labels: any label matches nothing
    favorited_by = request.args.get("favorited-by")  # nobody favourites spaces here
    sort = params.enum(request, "sort", SPACE_SORTS, "id") or "id"
    description_format = params.enum(request, "description-format", ("plain", "view"))
    icon = params.boolean(request, "include-icon")
    parse_limit(request)
    spaces = [
        s
        for s in site.spaces
        if (not ids or s.id in ids)
        and (not keys or s.key in keys)
        and (space_type is None or s.type == space_type)
        and (status is None or s.status == status)
        and not labels
        and favorited_by is None
    ]
    field = sort.lstrip("-")
    spaces.sort(key=lambda s: getattr(s, field), reverse=sort.startswith("-"))
    return _paginate(spaces, lambda s: shapes.space_json(site, s, description_format, icon=icon))


@bp.get("/spaces/<space_id>")
def get_space(space_id: str) -> Response:
    """``GET /spaces/{id}`` with ``description-format`` and the ``include-*`` flags."""
    site = current().site
    space = _require_space(site, space_id)
    description_format = params.enum(request, "description-format", ("plain", "view"))
    icon = params.boolean(request, "include-icon")
    data = shapes.space_json(site, space, description_format, single=True, icon=icon)
    links = data.pop("_links")
    return _single({**data, **includes.space_fields(request, space.id), "_links": links})


def _page_list(space_ids: list[int], page_ids: list[int], depth: str) -> Response:
    state = current()
    site = state.site
    statuses = params.enum_list(request, "status", PAGE_STATUSES, ("current", "archived"))
    title = request.args.get("title")
    sort = params.enum(request, "sort", PAGE_SORTS, "id") or "id"
    body_format = _body_format()
    subtype = params.enum(request, "subtype", ("live", "page"))
    parse_limit(request)
    wanted_ids = frozenset(page_ids)

    def ids() -> list[int]:
        if wanted_ids and not space_ids:
            return sorted(i for i in wanted_ids if site.page(i) is not None)
        if space_ids:
            return [i for s in space_ids for i in site.pages_by_space.get(s, ())]
        return [c.id for c in site.content.values() if c.kind == "page"]

    def keep(c: Content) -> bool:
        return (
            c.status in statuses
            and subtype != "live"  # every page here is a classic page
            and (title is None or c.title == title)
            and (not wanted_ids or c.id in wanted_ids)
            and (depth != "root" or c.parent_id is None)
        )

    key = (
        "pages",
        tuple(space_ids),
        tuple(sorted(wanted_ids)),
        depth,
        tuple(sorted(statuses)),
        title,
        sort,
        subtype,
    )
    items = _select(state, key, ids, keep, sort)
    return _paginate(items, lambda c: shapes.page_json(site, c, body_format))


@bp.get("/pages")
def list_pages() -> Response:
    """``GET /pages`` with ``space-id`` (≤100), ``id`` (≤250), ``status``, ``title``, ``subtype``."""
    return _page_list(params.ids(request, "space-id", 100), params.ids(request, "id", 250), "all")


@bp.get("/spaces/<space_id>/pages")
def list_space_pages(space_id: str) -> Response:
    """``GET /spaces/{id}/pages`` with ``depth=all|root``."""
    space = _require_space(current().site, space_id)
    depth = params.enum(request, "depth", ("all", "root"), "all") or "all"
    return _page_list([space.id], [], depth)


def _single_content(
    item_kind: str, raw_id: str, allowed_statuses: tuple[str, ...], body_formats: tuple[str, ...]
) -> Response:
    """``GET /pages/{id}`` and ``GET /blogposts/{id}``: ``status``, ``version``, ``body-format``, includes."""
    site = current().site
    default = ("current", "archived") if item_kind == "page" else ("current",)
    statuses = params.enum_list(request, "status", allowed_statuses, default)
    body_format = params.enum(request, "body-format", body_formats)
    number = params.integer(request, "version", 1, 2**31 - 1)
    params.boolean(request, "get-draft")  # no page here has a draft: the published page is returned
    with_version = params.boolean(request, "include-version", default=True)
    item = _require_content(raw_id, item_kind, statuses)
    if number is not None and number > item.version:
        raise not_found(f"No version {number} of {item_kind} {raw_id}")
    if item_kind == "page":
        data = shapes.page_json(site, item, body_format, single=True, version=number)
    else:
        data = shapes.blogpost_json(site, item, body_format, version=number)
    if not with_version:
        del data["version"]
    links = data.pop("_links")
    return _single({**data, **includes.content_fields(request, item), "_links": links})


@bp.get("/pages/<page_id>")
def get_page(page_id: str) -> Response:
    """``GET /pages/{id}``: a page the caller may read (``status`` filters, default current/archived)."""
    return _single_content("page", page_id, SINGLE_PAGE_STATUSES, shapes.BODY_FORMATS_SINGLE)


@bp.get("/blogposts/<blogpost_id>")
def get_blogpost(blogpost_id: str) -> Response:
    """``GET /blogposts/{id}``: a blog post the caller may read (``status`` filters, default current)."""
    return _single_content("blogpost", blogpost_id, SINGLE_BLOG_STATUSES, shapes.BODY_FORMATS_SINGLE)


@bp.get("/pages/<page_id>/direct-children")
def direct_children(page_id: str) -> Response:
    """``GET /pages/{id}/direct-children`` (pages only; the site has no folders or whiteboards)."""
    state = current()
    page = _require_content(page_id, "page")
    sort = params.enum(request, "sort", CHILD_SORTS, "child-position") or "child-position"
    parse_limit(request)
    items = _select(
        state,
        ("children", page.id, sort),
        lambda: state.site.children.get(page.id, []),
        lambda c: c.status in VISIBLE,
        sort,
    )
    return _paginate(items, shapes.child_json)


@bp.get("/pages/<page_id>/descendants")
def descendants(page_id: str) -> Response:
    """``GET /pages/{id}/descendants``, breadth first, ``depth`` 1..10 (default 2 as in the spec)."""
    state = current()
    page = _require_content(page_id, "page")
    depth = params.integer(request, "depth", 1, 10, 2) or 2
    parse_limit(request)
    hidden = state.access.hidden(caller_principal(state, caller()))
    found = [
        (c, d)
        for c, d in state.site.iter_descendants(page.id, depth)
        if c.status in VISIBLE and c.id not in hidden
    ]
    return _paginate(found, lambda pair: shapes.descendant_json(*pair))


@bp.get("/pages/<page_id>/ancestors")
def ancestors(page_id: str) -> Response:
    """``GET /pages/{id}/ancestors``: top-down, ``limit`` only, never a cursor.

    A readable page's ancestors are all readable (their restrictions are part of the page's check).
    """
    site = current().site
    page = _require_content(page_id, "page")
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
    wanted_ids = frozenset(params.ids(request, "id", 250))
    statuses = params.enum_list(request, "status", BLOG_STATUSES, ("current",))
    title = request.args.get("title")
    sort = params.enum(request, "sort", BLOG_SORTS, "id") or "id"
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
    """``GET /blogposts`` with ``space-id`` (≤100), ``id`` (≤250), ``status``, ``title``, ``sort``."""
    return _blog_list(params.ids(request, "space-id", 100))


@bp.get("/spaces/<space_id>/blogposts")
def list_space_blogposts(space_id: str) -> Response:
    """``GET /spaces/{id}/blogposts``."""
    return _blog_list([_require_space(current().site, space_id).id])


@bp.get("/pages/<page_id>/labels")
def page_labels(page_id: str) -> Response:
    """``GET /pages/{id}/labels`` with ``prefix`` and ``sort``."""
    page = _require_content(page_id, "page")
    prefix = params.enum(request, "prefix", ("my", "team", "global", "system"))
    sort = params.enum(request, "sort", LABEL_SORTS, "name")
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
    """``GET /pages/{id}/versions``, newest first unless ``sort=modified-date``; ``body-format`` adds each
    version's body under ``page.body``."""
    site = current().site
    page = _require_content(page_id, "page")
    sort = params.enum(request, "sort", ("modified-date", "-modified-date"), "-modified-date")
    body_format = _body_format()
    parse_limit(request)
    numbers = list(range(1, page.version + 1))
    if sort == "-modified-date":
        numbers.reverse()

    def render(number: int) -> dict[str, Any]:
        entity: dict[str, Any] = {"id": str(page.id), "title": page.title}
        if body_format:
            entity["body"] = shapes.page_json(site, page, body_format, version=number)["body"]
        return {**shapes.version_json(page, number), "page": entity}

    return _paginate(numbers, render)
