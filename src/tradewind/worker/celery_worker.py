"""The Celery side of a worker: its app, its task, its health monitor and registration, and the
Celery worker itself with the ``threads`` pool (``main.run_worker`` starts it once the fork server
is forked, so that the fork server never holds Celery).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tradewind.queue.app import check_broker, make_celery_app, prepare_to_publish
from tradewind.settings import Settings
from tradewind.worker import shutdown
from tradewind.worker.celery_task import register
from tradewind.worker.consumer import CONSUMER_PATH, broker_link
from tradewind.worker.fork_server import ForkServer
from tradewind.worker.monitor import WorkerHealthMonitor
from tradewind.worker.registry import WorkerRegistration
from tradewind.worker.thread_pool import ThreadPool

logger = logging.getLogger(__name__)

NODE_PREFIX = "tradewind@"
#: Messages waiting beside a free slot for this many heartbeats, with nothing received, is a stall.
STALL_AFTER_HEARTBEATS = 3
MIN_STALL_AFTER_S = 5.0


def run_celery_worker(
    settings: Settings,
    fork_server: ForkServer,
    *,
    queues: Sequence[str],
    concurrency: int,
    hostname: str,
    loglevel: str,
    heartbeat_interval: float,
) -> int:
    """Run the Celery worker until it is shut down; returns its exit code."""
    app = make_celery_app(settings, worker=True)
    app.conf.worker_consumer = CONSUMER_PATH
    check_broker(app, settings)
    prepare_to_publish(app)  # a follow-up sends the tasks its try's end made ready
    register(app, settings, hostname=hostname, queues=queues, concurrency=concurrency, fork_server=fork_server)
    monitor = WorkerHealthMonitor(
        settings,
        broker_link(app),
        queues=queues,
        concurrency=concurrency,
        stall_after=max(STALL_AFTER_HEARTBEATS * heartbeat_interval, MIN_STALL_AFTER_S),
    )
    monitor.connect_signals()
    registration = WorkerRegistration(
        settings,
        hostname=hostname,
        queues=queues,
        concurrency=concurrency,
        heartbeat_interval=heartbeat_interval,
        monitor=monitor,
    )
    registration.connect_signals()
    shutdown.connect_signals()
    worker = app.Worker(
        hostname=NODE_PREFIX + hostname,
        pool_cls=ThreadPool,
        concurrency=concurrency,
        queues=list(queues),
        loglevel=loglevel.upper(),
        without_gossip=True,
        without_mingle=True,
        # Liveness is the metastore heartbeat (registry); Celery's event heartbeat would only add traffic.
        without_heartbeat=True,
    )
    worker.start()
    return int(worker.exitcode or 0)
