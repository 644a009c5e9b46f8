"""The app's job queue: one Huey instance per app, SQLite-backed or Redis-backed, one API for both.

* ``APP_REDIS_URL`` unset: ``SqliteHuey`` in ``APP_JOBS_SQLITE_PATH`` (default ``instance/jobs.db``),
  no server needed; web and worker processes on one machine share the file.
* ``APP_REDIS_URL`` set: ``RedisHuey``; any number of web and worker processes on any number of
  machines share the queue.

Messages carry only identifiers; what a job is doing lives in the app's database, so a lost message
costs a delay (a periodic sweep sends it again), never a result. Results are not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey

from app.observability.logs import bind_job, unbind_job

log = logging.getLogger(__name__)

#: Seconds to wait for Redis to accept a connection, and for an answer (above Huey's 1 s blocking read).
REDIS_CONNECT_TIMEOUT: Final = 5.0
REDIS_SOCKET_TIMEOUT: Final = 10.0


def make_queue(config: Mapping[str, Any]) -> Huey:
    """Build the queue the settings describe."""
    name = str(config["JOBS_NAME"])
    redis_url = config.get("REDIS_URL")
    if redis_url:
        from redis import ConnectionPool

        pool = ConnectionPool.from_url(
            str(redis_url),
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        return RedisHuey(name, results=False, utc=True, connection_pool=pool)
    path = Path(str(config["JOBS_SQLITE_PATH"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, results=False, utc=True, filename=str(path), timeout=30)


def name_jobs_in_logs(queue: Huey) -> None:
    """Every line a job logs carries its Huey task id (``job_id``), in the thread that runs it."""

    def before(task: Any) -> None:
        bind_job(str(task.id))

    def after(task: Any, value: Any, exc: BaseException | None) -> None:
        unbind_job()

    queue.pre_execute(name="log-job-id")(before)
    queue.post_execute(name="log-job-id")(after)


def init_app(app: Flask) -> None:
    """Create the app's queue (``app.extensions["jobs"]``)."""
    app.extensions["jobs"] = queue = make_queue(app.config)
    name_jobs_in_logs(queue)


def get_queue(app: Flask) -> Huey:
    queue: Huey = app.extensions["jobs"]
    return queue


def depth(queue: Huey) -> dict[str, int]:
    """Messages waiting to run now (``pending``) and later (``scheduled``), across all tenants."""
    return {"pending": int(queue.pending_count()), "scheduled": int(queue.scheduled_count())}


def run_pending(queue: Huey, *, now: datetime | None = None, limit: int = 10_000) -> int:
    """Run every message that is due, in this thread, until none is left; return how many ran.

    What the worker does, without threads: for tests, and for a one-off ``flask worker --drain``.
    Scheduled messages whose time has come (by ``now``, default the real time) are moved to the
    queue first. Bounded by ``limit`` messages.
    """
    ran = 0
    while ran < limit:
        stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)  # Huey's UTC is naive
        for task in queue.read_schedule(stamp):
            queue.enqueue(task)
        task = queue.dequeue()
        if task is None:
            return ran
        if not queue.ready_to_run(task, stamp):  # a delayed message: back to the schedule
            queue.add_schedule(task)
            continue
        queue.execute(task, stamp)
        ran += 1
    log.warning("run_pending stopped after %d messages", limit)
    return ran
