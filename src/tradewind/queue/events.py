"""The event channel that wakes schedulers the moment something happens (Redis pub/sub).

A worker publishes "task ended" for a run; a scheduler waiting for work wakes at once instead of
at its next timer tick. Events are only hints: a lost event costs latency, never correctness,
because the scheduler also looks on a timer. Without Redis (standalone), the timer is all there is.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tradewind.queue.redis_keys import STATE_CHANGED_CHANNEL, TASK_ENDED_CHANNEL, is_redis_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str
    dag_id: str
    run_id: str


class EventBus(Protocol):
    def publish_task_ended(self, dag_id: str, run_id: str) -> None: ...

    def publish_state_changed(self, dag_id: str, run_id: str) -> None: ...

    def wait(self, timeout: float) -> list[Event]:
        """Block up to ``timeout`` seconds for events; return all that arrived (maybe none)."""
        ...

    def close(self) -> None: ...


class TimerOnlyBus:
    """No event channel: publishing does nothing and waiting is sleeping."""

    def publish_task_ended(self, dag_id: str, run_id: str) -> None:
        return None

    def publish_state_changed(self, dag_id: str, run_id: str) -> None:
        return None

    def wait(self, timeout: float) -> list[Event]:
        if timeout > 0:
            time.sleep(timeout)
        return []

    def close(self) -> None:
        return None


class RedisEventBus:
    """Pub/sub over Redis. Publishing never raises: a dead Redis only costs the wake-up."""

    def __init__(self, url: str, *, subscribe: bool = False) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        self._pubsub: Any = None
        if subscribe:
            self._subscribe()

    def _subscribe(self) -> None:
        try:
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(TASK_ENDED_CHANNEL, STATE_CHANGED_CHANNEL)
        except Exception as exc:  # noqa: BLE001 - Redis down: fall back to the timer until it is back
            logger.warning("cannot subscribe to scheduler events (%s); using the timer", exc)
            self._pubsub = None

    def _publish(self, channel: str, dag_id: str, run_id: str) -> None:
        try:
            self._client.publish(channel, json.dumps({"dag_id": dag_id, "run_id": run_id}))
        except Exception as exc:  # noqa: BLE001 - an event is a hint; the timer covers its loss
            logger.debug("event not published (%s)", exc)

    def publish_task_ended(self, dag_id: str, run_id: str) -> None:
        self._publish(TASK_ENDED_CHANNEL, dag_id, run_id)

    def publish_state_changed(self, dag_id: str, run_id: str) -> None:
        self._publish(STATE_CHANGED_CHANNEL, dag_id, run_id)

    def wait(self, timeout: float) -> list[Event]:
        if self._pubsub is None:
            self._subscribe()
            if self._pubsub is None:
                time.sleep(max(timeout, 0.0))
                return []
        events: list[Event] = []
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            message = self._pubsub.get_message(timeout=max(timeout, 0.0))
            while message is not None:
                events.append(_decode(message))
                # Drain whatever else is already there, without waiting again.
                message = self._pubsub.get_message(timeout=0.0)
        except Exception as exc:  # noqa: BLE001 - reconnect on the next wait
            logger.warning("scheduler event channel lost (%s); reconnecting", exc)
            self._pubsub = None
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
        return events

    def close(self) -> None:
        try:
            if self._pubsub is not None:
                self._pubsub.close()
            self._client.close()
        except Exception:  # noqa: BLE001
            pass


def _decode(message: dict[str, Any]) -> Event:
    channel = message.get("channel")
    channel = channel.decode() if isinstance(channel, bytes) else str(channel)
    try:
        data = json.loads(message.get("data") or b"{}")
    except (ValueError, TypeError):
        data = {}
    kind = "task_ended" if channel == TASK_ENDED_CHANNEL else "state_changed"
    return Event(kind=kind, dag_id=str(data.get("dag_id", "")), run_id=str(data.get("run_id", "")))


class PublishingInBackground:
    """An event bus whose publishing never waits: the events go to a thread of the bus's own,
    which publishes them in order. A worker's slot starts its next task instead of waiting for Redis (a
    round trip each time a task ends; seconds, up to the socket timeout, while Redis cannot be
    reached). An event still waiting to be published is not queued twice, and past ``max_pending``
    waiting events new ones are dropped: events are hints, the scheduler's timer covers them."""

    def __init__(self, bus: EventBus, *, max_pending: int = 1000) -> None:
        self._bus = bus
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._pending: set[tuple[str, str, str]] = set()
        self._queue: queue.SimpleQueue[tuple[str, str, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False
        self._abandoned = False

    def publish_task_ended(self, dag_id: str, run_id: str) -> None:
        self._put(("task_ended", dag_id, run_id))

    def publish_state_changed(self, dag_id: str, run_id: str) -> None:
        self._put(("state_changed", dag_id, run_id))

    def wait(self, timeout: float) -> list[Event]:
        return self._bus.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Publish what is waiting (for ``timeout`` seconds at most: what is left then is dropped),
        then close the bus."""
        with self._lock:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)
            self._abandoned = True  # what is still waiting is dropped, not published on a closed bus
        self._bus.close()

    def _put(self, event: tuple[str, str, str]) -> None:
        if self._thread is not None and self._pid != os.getpid():
            # A copy forked from the process that started the thread (no thread here, and its
            # lock may have been held at the fork): publish directly.
            self._publish(event)
            return
        with self._lock:
            if self._closed or event in self._pending:
                return
            if len(self._pending) >= self._max_pending:
                logger.debug("event %s dropped: %d events wait to be published", event, len(self._pending))
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._publish_all, name="event-publisher", daemon=True)
                self._thread.start()
                self._pid = os.getpid()
            self._pending.add(event)
            self._queue.put(event)

    def _publish_all(self) -> None:
        while (event := self._queue.get()) is not None and not self._abandoned:
            with self._lock:
                self._pending.discard(event)
            self._publish(event)

    def _publish(self, event: tuple[str, str, str]) -> None:
        kind, dag_id, run_id = event
        try:
            if kind == "task_ended":
                self._bus.publish_task_ended(dag_id, run_id)
            else:
                self._bus.publish_state_changed(dag_id, run_id)
        except Exception as exc:  # noqa: BLE001 - an event is a hint; the thread goes on with the next
            logger.debug("event %s not published (%s)", event, exc)


def make_event_bus(broker_url: str | None, *, subscribe: bool = False) -> EventBus:
    """Redis pub/sub when the broker is Redis; the timer alone otherwise."""
    if broker_url and is_redis_url(broker_url):
        return RedisEventBus(broker_url, subscribe=subscribe)
    return TimerOnlyBus()
