"""``run_worker``: check the metastore and the broker, then run a Celery worker in this process.

The worker is Celery's own (no gossip or mingle, so it starts in about a second), consuming only
the given queues, with Celery's ``threads`` pool (``thread_pool.py``): each of its ``concurrency`` slots is a thread of
this one process that claims a try, has the try's own process started (``thread_guard.py``) and
supervises it. Every try already runs in a process of its own, so a slot needs no interpreter of
its own: an idle worker is one process whatever its concurrency (a prefork pool would be one per
slot, each holding its own copy of tradewind, SQLAlchemy and Celery, and its own connections),
beside its fork server (``fork_server.py``), forked before Celery starts, from which the tries'
processes are forked and guarded (once it has started a try, the fork server also keeps the next
try's process ready: one, whatever the concurrency).

Shutdown is Celery's, checked against Celery 5.x:

- SIGTERM (``docker stop``, Kubernetes) or a first Ctrl+C (SIGINT): *warm* shutdown. The worker
  stops taking messages, lets the tries that are running finish and write their state (claiming
  no next task of their runs for itself: those go through the broker; ``shutdown.py``), and gives
  back the messages it had reserved but not started (late acks: unacknowledged messages are
  restored to Redis when the channel closes). Then it marks itself offline.
- A second Ctrl+C, or SIGQUIT: *cold* shutdown; each running try is killed at once and written as
  failed (or up for retry, by its retries), then the worker exits. A worker killed outright
  (SIGKILL) leaves that to its fork server, which sees the worker gone and stops every try.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tradewind.sdk import plugins
from tradewind.settings import Settings
from tradewind.worker.fork_server import ForkServer
from tradewind.worker.task_process import warm_up
from tradewind.worker.thread_guard import adopt_orphans

logger = logging.getLogger(__name__)


def run_worker(
    settings: Settings,
    *,
    queues: Sequence[str],
    concurrency: int,
    hostname: str,
    loglevel: str = "INFO",
    heartbeat_interval: float | None = None,
) -> int:
    """Run a worker until it is shut down; returns Celery's exit code. Raises a ``TradewindException``
    with one line naming the URL when the metastore or the broker cannot be reached.
    ``heartbeat_interval``: seconds between the worker's heartbeats (None: the registry's default)."""
    # Plugins first: every task process forked from this one has their macros and timetables.
    plugins.load_now(settings.resolved_plugins_folder)
    # Before Celery's threads and connections exist, and before SQLAlchemy is imported: the fork
    # server forks from a process of one thread that shares the pages imported so far with the
    # worker, and each try's fork copies only what a task needs (its process asks the worker for
    # what it reads of the metastore: ``try_services.py``).
    warm_up()
    # What a fork server that died leaves (its tries' commands) becomes the worker's to stop.
    adopt_orphans()
    fork_server = ForkServer(settings)
    fork_server.start()
    try:
        check_metastore(settings)
        # Only now SQLAlchemy, Celery, kombu and redis-py are imported: the fork server holds none of them.
        from tradewind.worker.celery_worker import run_celery_worker
        from tradewind.worker.registry import DEFAULT_HEARTBEAT_INTERVAL_S

        return run_celery_worker(
            settings,
            fork_server,
            queues=queues,
            concurrency=concurrency,
            hostname=hostname,
            loglevel=loglevel,
            heartbeat_interval=DEFAULT_HEARTBEAT_INTERVAL_S if heartbeat_interval is None else heartbeat_interval,
        )
    finally:
        fork_server.close()


def check_metastore(settings: Settings) -> None:
    """Reachable and migrated; the engine is disposed (the worker's threads share one of their own)."""
    from tradewind.metastore.engine import create_engine_from_settings
    from tradewind.metastore.schema_version import ensure_migrated

    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
    finally:
        engine.dispose()
