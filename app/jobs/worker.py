"""``flask --app app worker``: run Huey's consumer for this app (threads, plus the periodic tasks)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.contexts import active_app
from app.jobs.queue import get_queue, run_pending


@click.command("worker")
@click.option(
    "-w", "--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker threads."
)
@click.option("--no-periodic", is_flag=True, help="Do not run periodic tasks in this process.")
@click.option("--drain", is_flag=True, help="Run what is due now, in this thread, then exit.")
@with_appcontext
def worker_command(workers: int, no_periodic: bool, drain: bool) -> None:
    """Run background jobs (scans, the periodic sweep) until stopped with Ctrl-C or SIGTERM.

    Start as many worker processes, on as many machines, as the load needs: with APP_REDIS_URL they
    share one queue. Scans are I/O-bound, so each process runs several threads.
    """
    from app.observability import configure_worker_logging

    app = active_app()
    queue = get_queue(app)
    if drain:
        click.echo(f"ran {run_pending(queue)} job(s)")
        return
    configure_worker_logging(app)  # APP_LOG_FORMAT, the job id on each line, no token in any
    consumer = queue.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=not no_periodic,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=1.0,
        scheduler_interval=1,
        check_worker_health=True,
    )
    consumer.run()
