"""``tradewind triggerer``'s entry point: check the metastore, make the triggers' modules
importable, run the loop until SIGTERM or SIGINT, and hand the triggers back on the way out."""

from __future__ import annotations

import logging
import sys
import threading

from tradewind.compat import airflow_shim
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.metastore.schema_version import ensure_migrated
from tradewind.queue.events import make_event_bus
from tradewind.redaction import redact
from tradewind.sdk import plugins, runtime_services
from tradewind.settings import Settings
from tradewind.stop_signals import stop_on_signals
from tradewind.task_services import MetastoreServices
from tradewind.triggerer.loop import Triggerer

logger = logging.getLogger(__name__)


def importable_folders(settings: Settings) -> None:
    """Triggers are found by their class path: as in Airflow, the plugins and DAG folders are on
    ``sys.path``, and ``airflow.triggers.*`` paths resolve to tradewind's own classes."""
    airflow_shim.install()
    for folder in (settings.resolved_plugins_folder, settings.resolved_dags_folder):
        path = str(folder)
        if path not in sys.path:
            sys.path.append(path)


def run_triggerer(settings: Settings, *, stop: threading.Event | None = None) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT); returns the exit code."""
    importable_folders(settings)
    plugins.load_now(settings.resolved_plugins_folder)
    engine = create_engine_from_settings(settings)
    events = make_event_bus(settings.broker_url)
    try:
        ensure_migrated(engine, settings)
        factory = make_session_factory(engine)
        # Triggers that look at other DAGs (WorkflowTrigger, DagStateTrigger) read the metastore through these.
        runtime_services.install(MetastoreServices(settings, factory))
        stop = stop or threading.Event()
        stop_on_signals(stop, "triggerer")
        logger.info(
            "triggerer running: metastore %s, capacity %s",
            redact(settings.resolved_database_url),
            settings.triggerer_capacity,
        )
        Triggerer(settings, factory, events).run(stop)
        return 0
    finally:
        events.close()
        engine.dispose()
