"""``tradewind worker`` (run a Celery worker) and ``tradewind workers list`` (who is alive, doing what)."""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from tradewind.cli.output import OUTPUT_OPTION, emit
from tradewind.settings import Settings

#: A worker whose heartbeat is older than this is not listed as live (it beats every 5 s).
LIVE_WITHIN = timedelta(seconds=30)
COLUMNS = [
    "hostname",
    "state",
    "problem",
    "queues",
    "concurrency",
    "last_heartbeat",
    "broker_reconnects",
    "running",
    "running_tasks",
]


@click.command()
@click.option(
    "--queues",
    "-q",
    envvar="TRADEWIND_WORKER_QUEUES",
    default=None,
    help="Comma-separated queues to consume.  [default: default]",
)
@click.option(
    "--concurrency",
    "-c",
    envvar="TRADEWIND_WORKER_CONCURRENCY",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Task instances this worker runs at once.",
)
@click.option(
    "--hostname",
    "-H",
    envvar="TRADEWIND_WORKER_HOSTNAME",
    default=None,
    help="Name of this worker in the metastore.  [default: this machine's host name]",
)
@click.option(
    "--heartbeat-interval",
    envvar="TRADEWIND_WORKER_HEARTBEAT_INTERVAL",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between the worker's heartbeats in the metastore.",
)
@click.pass_obj
def worker(
    settings: Settings, queues: str | None, concurrency: int, hostname: str | None, heartbeat_interval: float
) -> None:
    """Run a worker: take task instances from the queue and run them, each try in processes of its
    own (SIGTERM: finish the running tries, then stop; SIGQUIT: kill them, then stop)."""
    from tradewind.queue.names import queue_names
    from tradewind.worker.main import run_worker

    code = run_worker(
        settings,
        queues=queue_names(queues),
        concurrency=concurrency,
        hostname=hostname or socket.gethostname(),
        loglevel=settings.log_level,
        heartbeat_interval=heartbeat_interval,
    )
    sys.exit(code)


@click.group()
def workers() -> None:
    """Workers registered in the metastore."""


@workers.command("list")
@OUTPUT_OPTION
@click.option("--all", "show_all", is_flag=True, help="Also workers that are offline or stopped heartbeating.")
@click.pass_obj
def list_workers(settings: Settings, output: str, show_all: bool) -> None:
    """List live workers (heartbeat younger than 30 s), their health and the task instances they run.

    A worker's state is online, unhealthy (it cannot reach its broker, or it stopped consuming while
    messages wait for it: see the problem column), stale (no heartbeat for 30 s) or offline."""
    from tradewind.metastore import workers as worker_rows
    from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
    from tradewind.metastore.schema_version import ensure_migrated

    now = datetime.now(UTC)
    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
        with session_scope(make_session_factory(engine)) as session:
            found = worker_rows.list_workers(session, alive_within=None if show_all else LIVE_WITHIN, now=now)
            running = worker_rows.running_on(session, [w.hostname for w in found])
            rows = [_row(w, running.get(w.hostname, []), now) for w in found]
    finally:
        engine.dispose()
    emit(rows, COLUMNS, output)


def _row(worker_row: Any, running: list[Any], now: datetime) -> dict[str, Any]:
    heartbeat = worker_row.last_heartbeat
    state = worker_row.state
    if state == "online" and (heartbeat is None or now - heartbeat > LIVE_WITHIN):
        state = "stale"
    elif state == "online" and worker_row.problem:
        state = "unhealthy"
    return {
        "hostname": worker_row.hostname,
        "state": state,
        "problem": worker_row.problem,
        "queues": list(worker_row.queues or []),
        "concurrency": worker_row.concurrency,
        "last_heartbeat": heartbeat,
        "broker_reconnects": worker_row.broker_reconnects,
        "running": len(running),
        "running_tasks": sorted(_describe(ti) for ti in running),
    }


def _describe(ti: Any) -> str:
    index = f"[{ti.map_index}]" if ti.map_index >= 0 else ""
    return f"{ti.dag_id}.{ti.task_id}{index} {ti.run_id} try {ti.try_number}"
