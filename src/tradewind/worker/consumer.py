"""The worker's Celery consumer: reconnects to the broker every couple of seconds while it is gone,
and tells the worker's health monitor how the connection stands (``BrokerLink``).

Celery's own consumer retries a lost broker with kombu's default back-off, 2 s growing to 30 s, so
after a five-minute Redis outage a worker could sit idle for half a minute after Redis is back.
Here the interval stays at most ``RECONNECT_INTERVAL_MAX_S``: a worker resumes within seconds.
Everything else — which queues, the event loop, what a lost connection does to running tasks —
is Celery's (``queue/app.py`` lists the settings).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer  # type: ignore[import-untyped]
from celery.worker.state import maybe_shutdown  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

#: Longest wait between two attempts to reach a broker that went away (seconds).
RECONNECT_INTERVAL_MAX_S = 2.0
#: Import path the worker gives Celery's ``worker_consumer`` setting.
CONSUMER_PATH = "tradewind.worker.consumer:Consumer"


class BrokerLink:
    """How the consumer's broker connection stands, shared with the health monitor's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connected = False
        #: Times the consumer connected again after having been connected.
        self.reconnects = 0
        self.last_error: str | None = None
        #: When the consumer last received a message (monotonic seconds).
        self.last_received: float | None = None
        self._ever_connected = False

    def on_connected(self) -> None:
        with self._lock:
            if self._ever_connected:
                self.reconnects += 1
            self._ever_connected = True
            self.connected = True
            self.last_error = None

    def on_lost(self, error: BaseException | str) -> None:
        with self._lock:
            self.connected = False
            self.last_error = str(error) or type(error).__name__

    def on_received(self, when: float | None = None) -> None:
        self.last_received = time.monotonic() if when is None else when


def broker_link(app: Any) -> BrokerLink:
    """The app's link (one per worker process), created on first use."""
    link = getattr(app, "tradewind_broker_link", None)
    if link is None:
        link = BrokerLink()
        app.tradewind_broker_link = link
    return link


class Consumer(CeleryConsumer):  # type: ignore[misc]
    def connect(self) -> Any:
        """The consuming connection, once the broker answers; counted as a reconnect after the first."""
        conn = super().connect()
        broker_link(self.app).on_connected()
        return conn

    def ensure_connected(self, conn: Any) -> Any:
        link = broker_link(self.app)

        def on_error(exc: BaseException, interval: float) -> None:
            link.on_lost(exc)
            logger.error(
                "consumer: cannot reach the broker at %s: %s; trying again in %.1f s", conn.as_uri(), exc, interval
            )

        # Always retry (the worker sets broker_connection_retry*), never for long between tries.
        conn = conn.ensure_connection(
            on_error,
            self.app.conf.broker_connection_max_retries,
            interval_start=0.5,
            interval_step=0.5,
            interval_max=RECONNECT_INTERVAL_MAX_S,
            callback=maybe_shutdown,
        )
        return conn

    def on_connection_error_after_connected(self, exc: BaseException) -> None:
        broker_link(self.app).on_lost(exc)
        super().on_connection_error_after_connected(exc)
