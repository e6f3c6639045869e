"""Waking the schedulers after a person's action: one "state changed" event per run on Redis, so a
scheduler acts within milliseconds instead of at its next timer tick. Best effort: the action is
committed already, and a scheduler that misses the event finds the change on its timer.

A command-line verb makes its ``SchedulerWaker`` before it opens its transaction: the Redis client
(and its import, a large part of a fresh process's start) is ready when the transaction commits,
so the event follows the commit by a connection to Redis rather than by the import."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradewind.queue.events import EventBus

logger = logging.getLogger(__name__)


class SchedulerWaker:
    """Publishes ``state_changed`` events over one Redis connection; does nothing for a broker
    that is not Redis. Never raises: waking is only a speed-up."""

    def __init__(self, broker_url: str | None) -> None:
        from tradewind.queue.events import make_event_bus
        from tradewind.queue.redis_keys import is_redis_url

        self._bus: EventBus | None = None
        try:
            if broker_url and is_redis_url(broker_url):
                self._bus = make_event_bus(broker_url)
        except Exception:  # noqa: BLE001 - a malformed URL costs the wake-up, never the action
            logger.debug("could not prepare to wake the schedulers", exc_info=True)

    def wake(self, dag_id: str, run_ids: Sequence[str] = ()) -> None:
        """Publish ``state_changed`` for each run of ``run_ids`` (for the DAG alone when there is none)."""
        self.wake_runs([(dag_id, run_id) for run_id in run_ids or [""]])

    def wake_runs(self, runs: Iterable[tuple[str, str]]) -> None:
        """Publish ``state_changed`` for each (dag_id, run_id) of ``runs`` — of any DAGs (a bulk
        action on the lists); an empty run id stands for the DAG alone."""
        if self._bus is None:
            return
        try:
            for dag_id, run_id in dict.fromkeys(runs):
                self._bus.publish_state_changed(dag_id, run_id)
        except Exception:  # noqa: BLE001 - the scheduler's timer covers a lost event
            logger.debug("could not wake the schedulers", exc_info=True)

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._bus is not None:
            self._bus.close()
            self._bus = None

    def __enter__(self) -> SchedulerWaker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def wake_schedulers(broker_url: str | None, dag_id: str, run_ids: Sequence[str] = ()) -> None:
    """Publish ``state_changed`` for each run of ``run_ids`` (for the DAG alone when there is none)."""
    with SchedulerWaker(broker_url) as waker:
        waker.wake(dag_id, run_ids)


def wake_runs(broker_url: str | None, runs: Iterable[tuple[str, str]]) -> None:
    """Publish ``state_changed`` for each (dag_id, run_id) of ``runs``, over one connection."""
    with SchedulerWaker(broker_url) as waker:
        waker.wake_runs(runs)
