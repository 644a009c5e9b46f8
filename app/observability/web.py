"""The Flask side of observability: /healthz, /readyz, /metrics, and the per-request hook.

* ``GET /healthz``: liveness. The process serves requests; nothing else is checked (a database outage
  must not make an orchestrator restart every web process).
* ``GET /readyz``: readiness. 200 when the database answers at the migration head and the job queue's
  storage answers; else 503 naming what failed. Within 2 s whatever hangs (``health.Readiness``).
* ``GET /metrics``: Prometheus text, only with ``Authorization: Bearer $APP_METRICS_TOKEN`` (compared
  in constant time). Without that setting the route does not exist (404); a wrong token is a 401.

The health routes are public on purpose (load balancers call them without credentials) and show no
tenant data: check names and fixed words only.

Every request (these included) is counted by route template and status, timed, given a request id
(``X-Request-Id``, echoed in the response) and logged as one line (JSON with ``APP_LOG_FORMAT=json``).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.connect.auth import authenticated_by
from app.observability import health, logs, metrics, web_lines

bp = Blueprint("observability", __name__)
log = logging.getLogger("app.requests")

#: Route label of a request that matched no URL rule (404, 405): never the raw path.
UNMATCHED: Final = "unmatched"
#: Endpoints whose successful requests are logged at DEBUG only (polled every few seconds).
QUIET_ENDPOINTS: Final = frozenset({"observability.healthz", "observability.readyz", "observability.metrics"})


@bp.get("/healthz")
@authenticated_by("public")  # liveness probes carry no credentials; the answer holds no data
def healthz() -> ResponseReturnValue:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@authenticated_by("public")  # readiness probes carry no credentials; check names and words only
def readyz() -> ResponseReturnValue:
    readiness: health.Readiness = current_app.extensions["readiness"]
    checks = readiness.run()
    ready = all(result == health.OK for result in checks.values())
    response = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = "5"
    return response


@authenticated_by("bearer token (APP_METRICS_TOKEN)")
def serve_metrics() -> ResponseReturnValue:
    expected: str = current_app.config["METRICS_TOKEN"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        current_app.logger.info("refused %s %s: no valid metrics token", request.method, request.path)
        response = jsonify({"error": "unauthorized", "message": "A valid bearer token is required."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    collector: metrics.DatabaseCollector = current_app.extensions["metrics_collector"]
    body = metrics.exposition(collector)
    return Response(body, mimetype="text/plain", content_type="text/plain; version=0.0.4; charset=utf-8")


#: Reads more figures for the database collector (``app.extensions["metrics_figures"]``): the app
#: registers its own (the product its scan jobs), so this framework module imports no product table.
FigureReader = Callable[[sa.Engine], dict[str, object]]


def _read_database_figures(app: Flask, engine: sa.Engine) -> dict[str, object]:
    from app.tenants.models import Tenant

    state = sa.case(
        (Tenant.installed.is_(False), "uninstalled"), (Tenant.enabled.is_(False), "disabled"), else_="active"
    )
    with engine.connect() as conn:
        tenants = conn.execute(sa.select(state, sa.func.count()).group_by(state)).all()
    figures: dict[str, object] = {"tenants": [(str(s), int(c)) for s, c in tenants]}
    for read in app.extensions.get("metrics_figures", []):
        figures.update(read(engine))
    return figures


# ------------------------------------------------------------------------------------------------
# Every request
# ------------------------------------------------------------------------------------------------


def start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.request_id_from(request.headers.get(logs.REQUEST_ID_HEADER))


def finish_request(response: Response) -> Response:
    started = g.get("request_started")
    elapsed = time.perf_counter() - started if started is not None else 0.0
    rule = request.url_rule
    request_id = g.get("request_id") or logs.request_id_from(None)
    response.headers[logs.REQUEST_ID_HEADER] = request_id
    record_request(
        request.method,
        rule.rule if rule is not None else UNMATCHED,
        response.status_code,
        elapsed,
        request_id=request_id,
        tenant=g.get("tenant"),
        quiet=request.endpoint in QUIET_ENDPOINTS,
    )
    return response


def record_request(
    method: str,
    route: str,
    status: int,
    elapsed: float,
    *,
    request_id: str,
    tenant: object,
    quiet: bool = False,
) -> None:
    """Count, time and log one answered request (``route``: its URL rule, never the raw path).

    ``quiet`` routes (health probes) log their successes at DEBUG only.
    """
    try:
        metrics.observe_request(route, method, status, elapsed)
    except Exception:  # counting must never cost a response
        current_app.logger.exception("could not count a request")
    level = logging.DEBUG if quiet and status < 400 else logging.INFO
    if log.isEnabledFor(level):
        # It carries its own context, so the context filter looks nothing up (web_lines.log_line).
        web_lines.log_line(
            log,
            level,
            "%s %s %s %.1fms",
            (method, route, status, elapsed * 1000),
            {
                "event": "request",
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
                **logs.request_context(request_id, tenant),
            },
        )


def init_app(app: Flask) -> None:
    """Register the routes (``/metrics`` only with a token), the readiness checks and request hooks."""
    from app.commands.db import MIGRATIONS_DIR

    heads, known = health.migration_heads(MIGRATIONS_DIR)
    engine = health.health_engine(app.config["DATABASE_URL"])
    redis_url = app.config.get("REDIS_URL")
    queue_check = (
        health.redis_queue_check(str(redis_url))
        if redis_url
        else health.sqlite_queue_check(str(app.config["JOBS_SQLITE_PATH"]))
    )
    app.extensions["readiness"] = health.Readiness(
        {"database": health.database_check(engine, heads, known), "queue": queue_check}
    )
    app.extensions["health_engine"] = engine
    app.extensions["metrics_collector"] = metrics.DatabaseCollector(
        lambda: _read_database_figures(app, engine)
    )
    if app.config.get("METRICS_TOKEN"):
        app.add_url_rule("/metrics", "observability.metrics", serve_metrics, methods=["GET"])
    app.register_blueprint(bp)
    # First in line, so that a request refused by an earlier hook is timed and has an id too.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
