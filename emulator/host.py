"""Host pages: a Confluence-like UI whose macros and admin pages frame the installed apps, plus the
context-token endpoint the host script calls for ``AP.context.getToken()`` and the ``all.js`` bridge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from werkzeug.wrappers import Response as BaseResponse

from emulator.accounts import principal_of
from emulator.frames import Frame, build_frame, context_token, macro_context
from emulator.people import shown_name
from emulator.restrictions import Principal
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID, Content, Site, Space, slug
from emulator.state import current

bp = Blueprint("host", __name__)

VIEWERS = {"admin": ADMIN_ACCOUNT_ID, "user": USER_ACCOUNT_ID}
VIEWER_COOKIE = "emulator_user"
PAGE_MODULE_TYPES = ("adminPages", "generalPages", "configurePage", "postInstallPage")
SIDEBAR_LIMIT = 50
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _viewer() -> tuple[str, str]:
    """(``admin``|``user``, account id): ``?user=`` wins over the cookie; the admin by default."""
    name = request.args.get("user") or request.cookies.get(VIEWER_COOKIE) or "admin"
    name = name if name in VIEWERS else "admin"
    return name, VIEWERS[name]


def _viewer_principal() -> Principal:
    user = current().site.user(_viewer()[1])
    assert user is not None  # VIEWERS only names seeded users
    return principal_of(user)


def _switch_links() -> list[tuple[str, str, str]]:
    """(name, display name, href) per viewer: the current URL with only ``user`` changed."""
    site = current().site
    links = []
    for name, account_id in VIEWERS.items():
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "user"] + [("user", name)]
        user = site.user(account_id)
        links.append((name, user.display_name if user else name, f"{request.path}?{urlencode(args)}"))
    return links


def _render(template: str, **context: Any) -> BaseResponse:
    name, account_id = _viewer()
    state = current()
    response = make_response(
        render_template(
            template,
            site=state.site,
            viewer=name,
            viewer_account_id=account_id,
            viewer_links=_switch_links(),
            **context,
        )
    )
    if "user" in request.args:
        response.set_cookie(VIEWER_COOKIE, name, samesite="Lax", httponly=True)
    return response


def page_url(space: Space, page: Content) -> str:
    """The host URL of a page, with its title slug like Confluence's ``webui`` link."""
    return f"/wiki/spaces/{space.key}/pages/{page.id}/{slug(page.title)}"


@bp.get("/wiki/")
@bp.get("/wiki")
def index() -> BaseResponse:
    """A plain index of spaces with their top pages."""
    site = current().site
    spaces = [(s, site.content[s.homepage_id], _top_children(site, s.homepage_id)) for s in site.spaces]
    return _render("index.html", spaces=spaces, page_url=page_url)


def _top_children(site: Site, page_id: int) -> list[Content]:
    """Current children the viewer may read (a restricted page is not even listed, as in Confluence)."""
    hidden = current().access.hidden(_viewer_principal())
    ids = [i for i in site.children.get(page_id, []) if i not in hidden][:SIDEBAR_LIMIT]
    return [site.content[i] for i in ids if site.content[i].status == "current"]


@bp.get("/wiki/spaces/<key>")
def space_home(key: str) -> BaseResponse:
    """A space key alone goes to its home page."""
    site = current().site
    space = site.space_by_key(key) or abort(404)
    return redirect(page_url(space, site.content[space.homepage_id]))


@bp.get("/wiki/pages/viewpage.action")
def view_page_action() -> BaseResponse:
    """``viewpage.action?pageId=`` (where ``AP.navigator.go('contentview')`` lands)."""
    site = current().site
    page_id = request.args.get("pageId", "")
    page = site.page(int(page_id)) if page_id.isdigit() else None
    space = site.space(page.space_id) if page else None
    if page is None or space is None:
        abort(404)
    return redirect(page_url(space, page))


@bp.get("/wiki/spaces/<key>/pages/<int:page_id>")
@bp.get("/wiki/spaces/<key>/pages/<int:page_id>/<path:title_slug>")
def view_page(key: str, page_id: int, title_slug: str = "") -> BaseResponse:
    """Render a page; the space home (and pages with stored macro params) carries the apps' macros."""
    state = current()
    site = state.site
    space = site.space_by_key(key)
    page = site.page(page_id)
    if space is None or page is None or page.space_id != space.id or page.status == "trashed":
        abort(404)
    if not state.access.can_read(_viewer_principal(), page):
        # Like Confluence: a notice that names nothing about the page (and keeps the viewer switch).
        restricted = _render("restricted.html")
        restricted.status_code = 404
        return restricted
    _, viewer = _viewer()
    frames: list[Frame] = []
    for app in state.apps.all():
        if not app.enabled:
            continue
        for module in app.modules("dynamicContentMacros"):
            stored = site.macro_params.get((page.id, app.key, str(module.get("key", ""))))
            if page.id != space.homepage_id and stored is None:
                continue
            values = {**macro_context(space, page, app.key, str(module.get("key", ""))), **(stored or {})}
            frames.append(build_frame(state, app, module, values, viewer, page=page, space=space))
    return _render(
        "page.html",
        space=space,
        page=page,
        ancestors=site.ancestors(page),
        children=_top_children(site, page.id),
        sidebar=_top_children(site, space.homepage_id),
        home=site.content[space.homepage_id],
        frames=frames,
        page_url=page_url,
        paragraphs=_paragraphs(site, page),
    )


def _paragraphs(site: Site, page: Content) -> list[str]:
    author = site.user(page.author_id)
    return [
        f"This page was written by {shown_name(author) if author else page.author_id} "
        f"and is at version {page.version}.",
        "Use it as a reference for how the team works.",
    ]


@bp.get("/wiki/plugins/servlet/ac/<app_key>/<module_key>")
def app_page(app_key: str, module_key: str) -> BaseResponse:
    """Frame an app's admin/general/configure page; query args fill ``{space.key}``-style placeholders."""
    state = current()
    app = state.apps.get(app_key)
    if app is None or not app.enabled:
        abort(404)
    module = next((m for t in PAGE_MODULE_TYPES for m in app.modules(t) if m.get("key") == module_key), None)
    if module is None:
        abort(404)
    _, viewer = _viewer()
    values = {k: v for k, v in request.args.items() if "." in k}
    space = state.site.space_by_key(values.get("space.key", ""))
    frame = build_frame(state, app, module, values, viewer, space=space)
    return _render("app_page.html", frame=frame, app=app)


@bp.post("/wiki/_emulator/context-token")
def mint_context_token() -> tuple[Response, int]:
    """Mint a context JWT for an iframe of this page (called by the host script, never by the app)."""
    state = current()
    data = request.get_json(silent=True) or {}
    app = state.apps.get(str(data.get("appKey", "")))
    account_id = str(data.get("accountId", ""))
    if app is None or not app.enabled or account_id not in VIEWERS.values():
        return jsonify({"error": "unknown app or user"}), 400
    site = state.site
    page_id = str(data.get("pageId", ""))
    page = site.page(int(page_id)) if page_id.isdigit() else None
    space = site.space_by_key(str(data.get("spaceKey", "")))
    return jsonify({"token": context_token(state, app, account_id, space, page)}), 200


@bp.get("/atlassian-connect/all.js")
def all_js() -> Response:
    """The ``AP`` bridge an app's iframe loads (``APP_ALL_JS_URL``)."""
    # Read per request (it is small) so edits show up without a restart and no file handle is left open.
    source = (STATIC_DIR / "all.js").read_text(encoding="utf-8")
    response = Response(source, mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
