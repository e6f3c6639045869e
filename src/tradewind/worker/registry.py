"""The worker's row in the metastore: registered when Celery is ready, heartbeated by a daemon
thread, marked offline on shutdown. Runs in the worker's process, beside the slots' threads.

The row is what ``tradewind workers list``, ``/health`` and ``/metrics`` show: each heartbeat
carries the health monitor's verdict (``problem``, NULL while healthy) and the count of broker
reconnects. The scheduler's zombie detection uses the task instances' own heartbeats, so a missed
worker heartbeat only makes the worker look stale, it never fails a task.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from tradewind.metastore import workers
from tradewind.metastore.engine import (
    create_engine_from_settings,
    make_session_factory,
    session_scope,
)
from tradewind.settings import Settings
from tradewind.version import __version__
from tradewind.worker.monitor import WorkerHealthMonitor

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL_S = 5.0


class WorkerRegistration:
    """Registers one worker and keeps its heartbeat fresh while the worker runs."""

    def __init__(
        self,
        settings: Settings,
        *,
        hostname: str,
        queues: Sequence[str],
        concurrency: int,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        monitor: WorkerHealthMonitor | None = None,
    ) -> None:
        self.hostname = hostname
        self.monitor = monitor
        self.queues = list(queues)
        self.concurrency = concurrency
        self.heartbeat_interval = heartbeat_interval
        self.engine = create_engine_from_settings(settings)
        self.factory = make_session_factory(self.engine)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._registered = False

    def connect_signals(self) -> None:
        from celery.signals import (  # type: ignore[import-untyped]
            worker_ready,
            worker_shutdown,
        )

        # weak=False: these are bound methods of an object nothing else may keep alive.
        worker_ready.connect(self._on_ready, weak=False)
        worker_shutdown.connect(self._on_shutdown, weak=False)

    def register(self) -> None:
        with session_scope(self.factory) as session:
            workers.register(
                session,
                self.hostname,
                queues=self.queues,
                concurrency=self.concurrency,
                pid=os.getpid(),
                version=__version__,
            )
        self._registered = True
        logger.info(
            "worker %s registered (queues %s, concurrency %s)", self.hostname, ",".join(self.queues), self.concurrency
        )

    def start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="tradewind-worker-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop heartbeating and mark the worker offline."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_interval + 5)
        try:
            with session_scope(self.factory) as session:
                workers.unregister(session, self.hostname)
            logger.info("worker %s unregistered", self.hostname)
        except Exception as exc:  # noqa: BLE001 - shutting down: its heartbeat will simply go stale
            logger.warning("worker %s could not mark itself offline: %s", self.hostname, exc)
        if self.monitor is not None:
            self.monitor.close()
        self.engine.dispose()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            try:
                if not self._registered:
                    self.register()
                    continue
                report = self.monitor.check() if self.monitor is not None else None
                with session_scope(self.factory) as session:
                    workers.heartbeat(
                        session,
                        self.hostname,
                        problem=report.problem if report is not None else None,
                        broker_reconnects=report.broker_reconnects if report is not None else None,
                    )
            except Exception as exc:  # noqa: BLE001 - a Postgres blip: try again next beat
                logger.warning("worker heartbeat failed (%s); retrying in %g s", exc, self.heartbeat_interval)

    def _on_ready(self, sender: Any = None, **kwargs: Any) -> None:
        try:
            self.register()
        except Exception as exc:  # noqa: BLE001 - the heartbeat thread registers it once Postgres is back
            logger.warning("worker %s could not register yet: %s", self.hostname, exc)
        self.start_heartbeat()

    def _on_shutdown(self, sender: Any = None, **kwargs: Any) -> None:
        if os.getpid() == self._pid:
            self.stop()
