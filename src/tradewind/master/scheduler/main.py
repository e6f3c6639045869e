"""``tradewind scheduler``'s entry point: check the metastore and the broker, then run the loop until
SIGTERM or SIGINT, and end the scheduler job cleanly.

On SQLite a file lock makes sure only one scheduler runs; on PostgreSQL any number may.
"""

from __future__ import annotations

import logging
import threading

from tradewind.master.executor.celery_executor import CeleryExecutor
from tradewind.master.scheduler.loop import Scheduler
from tradewind.master.scheduler.single_scheduler import SchedulerLock
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.metastore.schema_version import ensure_migrated
from tradewind.queue.events import make_event_bus
from tradewind.redaction import redact
from tradewind.sdk import plugins
from tradewind.settings import Settings
from tradewind.stop_signals import stop_on_signals

logger = logging.getLogger(__name__)

#: Seconds to wait for the broker at start before giving up with a clear error.


def run_scheduler(settings: Settings, *, stop: threading.Event | None = None) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT); returns the exit code. Raises a
    ``TradewindException`` with one line when another scheduler holds SQLite, or the metastore or
    the broker cannot be reached."""
    from tradewind.queue.app import check_broker, make_celery_app, prepare_to_publish

    # Custom timetables come from plugins; the scheduler reads them from stored DAGs.
    plugins.load_now(settings.resolved_plugins_folder)
    lock = SchedulerLock(settings) if settings.is_sqlite else None
    if lock is not None:
        lock.acquire()
    engine = create_engine_from_settings(settings)
    executor: CeleryExecutor | None = None
    events = None
    try:
        ensure_migrated(engine, settings)
        app = make_celery_app(settings)
        check_broker(app, settings)
        prepare_to_publish(app)
        executor = CeleryExecutor(app)
        events = make_event_bus(settings.broker_url, subscribe=True)
        # On PostgreSQL each worker plans the run of the task it ended (``worker/follow_up.py``).
        follow_ups = engine.dialect.name == "postgresql"
        scheduler = Scheduler(settings, make_session_factory(engine), executor, events, gather_task_ended=follow_ups)
        stop = stop or threading.Event()
        stop_on_signals(stop, "scheduler")
        logger.info(
            "scheduler running: metastore %s, broker %s, DAG folder %s",
            redact(settings.resolved_database_url),
            redact(settings.broker_url or "filesystem://"),
            settings.resolved_dags_folder,
        )
        scheduler.run(stop)
        return 0
    finally:
        if executor is not None:
            executor.close()
        if events is not None:
            events.close()
        engine.dispose()
        if lock is not None:
            lock.release()
