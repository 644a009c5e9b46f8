"""``ConfluenceClient``: typed calls to one tenant's Confluence REST API (v2, plus the v1 bits we need).

One client per tenant and identity (app or user). It holds the tenant baseUrl (``…/wiki``), an auth
hook and a :class:`Transport` (pooled session, timeout, retries). List calls are generators that
fetch one page at a time; everything else returns decoded JSON as plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import requests
from requests.auth import AuthBase

from app.confluence.errors import json_body
from app.confluence.pagination import (
    DEFAULT_MAX_PAGES,
    MAX_LIMIT,
    ResultPage,
    iter_result_pages,
    iter_results,
    resolve_next,
    results_of,
)
from app.confluence.transport import Transport
from app.errors import ConfluenceNotFoundError

Item = dict[str, Any]
ParamValue = str | int | bool | Iterable[str | int] | None

#: The v1 answer that makes a user a site administrator (the product's admin check).
ADMIN_OPERATION: Final = {"operation": "administer", "targetType": "application"}


def query(**params: ParamValue) -> dict[str, str]:
    """Return wire query parameters: ``None`` dropped, ``snake_case`` → ``kebab-case``, lists comma-joined.

    v2 takes id lists as one comma-separated value (array parameters in the v2 OpenAPI spec,
    https://dac-static.atlassian.com/cloud/confluence/openapi-v2.v3.json); the qsh is computed later from
    the URL requests builds out of this, so what is hashed is exactly what is sent.
    """
    wire: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        key = name.replace("_", "-")
        if isinstance(value, bool):
            wire[key] = "true" if value else "false"
        elif isinstance(value, str | int):
            wire[key] = str(value)
        else:
            wire[key] = ",".join(str(v) for v in value)
    return wire


def _segment(value: str | int) -> str:
    """Quote an id for use as one path segment, so ``"1/../x"`` cannot change the path."""
    return quote(str(value), safe="")


class ConfluenceClient:
    """Calls to one Confluence site as one identity.

    :param base_url: the tenant's ``baseUrl`` (``https://site.atlassian.net/wiki``).
    :param auth: ``ConnectJWTAuth`` (as the app) or ``BearerAuth`` (as a user).
    :param transport: sends and retries; share one per process or per tenant for connection pooling.
    :param max_pages: bound on pages per list call.
    """

    def __init__(
        self,
        base_url: str,
        auth: AuthBase,
        transport: Transport,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.transport = transport
        self.max_pages = max_pages

    def __repr__(self) -> str:
        return f"ConfluenceClient(base_url={self.base_url!r}, auth={self.auth!r})"

    def close(self) -> None:
        """Close the pooled connections of the underlying session."""
        self.transport.session.close()

    def __enter__(self) -> ConfluenceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- generic calls -------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """Return the absolute URL of ``path``: relative to ``/api/v2`` unless it starts with ``/rest/``
        or ``/api/`` (then relative to the baseUrl)."""
        path = "/" + path.lstrip("/")
        if path.startswith(("/rest/", "/api/")):
            return self.base_url + path
        return f"{self.base_url}/api/v2{path}"

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        json: Any = None,
    ) -> Any:
        """Send one request and return its decoded JSON (``None`` for an empty body)."""
        response = self.transport.send(method, self.url_for(path), auth=self.auth, params=params, json=json)
        if not response.content:
            return None
        return json_body(response, method.upper())

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET any path (see :meth:`url_for`) and return its decoded JSON."""
        return self.request("GET", path, params)

    def post(self, path: str, json: Any, params: Mapping[str, str] | None = None) -> Any:
        """POST JSON; never retried, since a lost answer does not say whether it was applied."""
        return self.request("POST", path, params, json=json)

    def iter(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[Item]:
        """Yield every item of a cursor-paginated list at ``path``; ``limit`` defaults to 250."""
        first = {"limit": str(MAX_LIMIT), **(params or {})}
        return iter_results(
            self._get_page, self.url_for(path), first, base_url=self.base_url, max_pages=self.max_pages
        )

    def iter_pages_of(
        self, path: str, params: Mapping[str, str] | None = None, *, resume_url: str | None = None
    ) -> Iterator[ResultPage]:
        """Yield a list page by page, each with the URL of the next; ``resume_url`` starts from a stored one.

        A resumed list follows the stored next link verbatim (it already holds every parameter and
        the cursor), after checking that it points at this tenant's site.
        """
        if resume_url is not None:
            url, first = resolve_next(resume_url, self.base_url), None
        else:
            url, first = self.url_for(path), {"limit": str(MAX_LIMIT), **(params or {})}
        return iter_result_pages(self._get_page, url, first, base_url=self.base_url, max_pages=self.max_pages)

    def _get_page(self, url: str, params: Mapping[str, str] | None) -> requests.Response:
        return self.transport.send("GET", url, auth=self.auth, params=params)

    # -- spaces --------------------------------------------------------------------------------

    def iter_spaces(
        self,
        *,
        keys: Iterable[str] | None = None,
        ids: Iterable[str | int] | None = None,
        type: str | None = None,
        status: str | None = None,
        sort: str | None = None,
    ) -> Iterator[Item]:
        """Yield spaces, optionally only those with the given keys or ids."""
        return self.iter("/spaces", query(keys=keys, ids=ids, type=type, status=status, sort=sort))

    def get_space(self, space_id: str | int) -> Item:
        """Return one space by its numeric id."""
        result: Item = self.get(f"/spaces/{_segment(space_id)}")
        return result

    def resolve_space_id(self, key: str) -> str:
        """Return the id of the space with ``key``; raise ``ConfluenceNotFoundError`` if there is none."""
        for space in self.iter_spaces(keys=[key]):
            if space.get("key") == key:
                return str(space["id"])
        raise ConfluenceNotFoundError(
            f"No space with key {key!r}", method="GET", url=self.url_for("/spaces"), status=None
        )

    # -- pages and blog posts ------------------------------------------------------------------

    def iter_space_pages(
        self,
        space_id: str | int,
        *,
        depth: str | None = None,
        sort: str | None = None,
        status: Iterable[str] | None = None,
        title: str | None = None,
        body_format: str | None = None,
    ) -> Iterator[Item]:
        """Yield the pages of a space (``depth="root"`` for top-level pages only)."""
        params = query(depth=depth, sort=sort, status=status, title=title, body_format=body_format)
        return self.iter(f"/spaces/{_segment(space_id)}/pages", params)

    def iter_pages(
        self,
        *,
        space_ids: Iterable[str | int] | None = None,
        status: Iterable[str] | None = None,
        title: str | None = None,
        sort: str | None = None,
        body_format: str | None = None,
    ) -> Iterator[Item]:
        """Yield pages across spaces (``space_ids`` are sent as one comma-separated value)."""
        params = query(space_id=space_ids, status=status, title=title, sort=sort, body_format=body_format)
        return self.iter("/pages", params)

    def get_page(self, page_id: str | int, *, body_format: str | None = None) -> Item:
        """Return one page; its body is included only when ``body_format`` is given."""
        result: Item = self.get(f"/pages/{_segment(page_id)}", query(body_format=body_format))
        return result

    def iter_direct_children(self, page_id: str | int, *, sort: str | None = None) -> Iterator[Item]:
        """Yield a page's direct children (pages, folders, whiteboards, …) in their order."""
        return self.iter(f"/pages/{_segment(page_id)}/direct-children", query(sort=sort))

    def iter_descendants(self, page_id: str | int, *, depth: int | None = None) -> Iterator[Item]:
        """Yield a page's descendants down to ``depth`` levels (1-10; the server decides by default)."""
        return self.iter(f"/pages/{_segment(page_id)}/descendants", query(depth=depth))

    def iter_blogposts(
        self,
        *,
        space_ids: Iterable[str | int] | None = None,
        status: Iterable[str] | None = None,
        title: str | None = None,
        sort: str | None = None,
        body_format: str | None = None,
    ) -> Iterator[Item]:
        """Yield blog posts across spaces."""
        params = query(space_id=space_ids, status=status, title=title, sort=sort, body_format=body_format)
        return self.iter("/blogposts", params)

    def iter_space_blogposts(
        self,
        space_id: str | int,
        *,
        status: Iterable[str] | None = None,
        title: str | None = None,
        sort: str | None = None,
        body_format: str | None = None,
    ) -> Iterator[Item]:
        """Yield the blog posts of one space."""
        params = query(status=status, title=title, sort=sort, body_format=body_format)
        return self.iter(f"/spaces/{_segment(space_id)}/blogposts", params)

    def iter_page_labels(self, page_id: str | int, *, prefix: str | None = None) -> Iterator[Item]:
        """Yield a page's labels."""
        return self.iter(f"/pages/{_segment(page_id)}/labels", query(prefix=prefix))

    def iter_page_versions(
        self, page_id: str | int, *, sort: str | None = None, body_format: str | None = None
    ) -> Iterator[Item]:
        """Yield a page's versions (newest first unless ``sort`` says otherwise)."""
        return self.iter(f"/pages/{_segment(page_id)}/versions", query(sort=sort, body_format=body_format))

    def readable_among(self, content_type: str, ids: Sequence[str]) -> list[Item]:
        """The pages (``content_type="pages"``) or blog posts among ``ids`` that this identity may read.

        One call: v2 ``GET /pages?id=…`` (or ``/blogposts``) takes up to 250 ids and returns only what
        the caller can see, so acting as a user it answers "which of these may this person open".
        """
        if content_type not in ("pages", "blogposts"):
            raise ValueError(f"unknown content type {content_type!r}")
        if not ids:
            return []
        if len(ids) > MAX_LIMIT:
            raise ValueError(f"at most {MAX_LIMIT} ids per call")
        body = self.get(f"/{content_type}", query(id=ids, limit=MAX_LIMIT))
        results = results_of(body, "Confluence sent a list response without results")
        return [item for item in results if isinstance(item, dict)]

    def users_bulk(self, account_ids: Sequence[str]) -> list[Item]:
        """v2 ``POST /users-bulk``: the users among ``account_ids`` (at most 250) that the site knows.

        A read, so it is retried like a GET although it is a POST.
        """
        if not account_ids:
            return []
        if len(account_ids) > MAX_LIMIT:
            raise ValueError(f"at most {MAX_LIMIT} account ids per call")
        response = self.transport.send(
            "POST",
            self.url_for("/users-bulk"),
            auth=self.auth,
            json={"accountIds": list(account_ids)},
            idempotent=True,
        )
        results = results_of(
            json_body(response, "POST"), "Confluence sent a users-bulk answer without results"
        )
        return [user for user in results if isinstance(user, dict)]

    # -- users (v1) ----------------------------------------------------------------------------

    def get_user_operations(self, account_id: str) -> list[Item]:
        """Return the operations a user may perform, from v1 ``/rest/api/user?expand=operations``."""
        body = self.get("/rest/api/user", {"accountId": account_id, "expand": "operations"})
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list):
            return []
        return [op for op in operations if isinstance(op, dict)]

    def is_site_admin(self, account_id: str) -> bool:
        """Return whether the user may administer the Confluence site (``administer``/``application``)."""
        return any(
            op.get("operation") == ADMIN_OPERATION["operation"]
            and op.get("targetType") == ADMIN_OPERATION["targetType"]
            for op in self.get_user_operations(account_id)
        )
