"""The worker's health monitor: at each heartbeat it asks the broker how many messages wait in the
worker's queues, reads how the consumer's connection stands and how many messages the worker
holds, and lets ``health.HealthJudge`` decide. Runs in the worker's main process, on the
heartbeat thread; a verdict other than healthy is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tradewind.queue.depth import QueueDepthProbe
from tradewind.settings import Settings
from tradewind.worker.consumer import BrokerLink
from tradewind.worker.health import HealthJudge, HealthSample

logger = logging.getLogger(__name__)


class DepthProbe(Protocol):
    def depths(self, queues: Sequence[str]) -> dict[str, int]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class HealthReport:
    problem: str | None
    broker_reconnects: int


class WorkerHealthMonitor:
    def __init__(
        self,
        settings: Settings,
        link: BrokerLink,
        *,
        queues: Sequence[str],
        concurrency: int,
        stall_after: float,
        probe: DepthProbe | None = None,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[], int] | None = None,
    ) -> None:
        self.link = link
        self.queues = list(queues)
        self.concurrency = concurrency
        self.judge = HealthJudge(stall_after)
        self.probe: DepthProbe = probe if probe is not None else QueueDepthProbe(settings)
        self.clock = clock
        self.busy = busy or _busy
        self._last_problem: str | None = None

    def connect_signals(self) -> None:
        from celery.signals import task_received  # type: ignore[import-untyped]

        task_received.connect(self._on_received, weak=False)

    def check(self) -> HealthReport:
        waiting: int | None = None
        broker_error: str | None = None
        try:
            waiting = sum(self.probe.depths(self.queues).values())
        except Exception as exc:  # noqa: BLE001 - any failure to ask means "cannot reach the broker"
            broker_error = str(exc) or type(exc).__name__
            self.probe.close()
        sample = HealthSample(
            now=self.clock(),
            broker_error=broker_error,
            consumer_connected=self.link.connected,
            waiting=waiting,
            busy=self.busy(),
            concurrency=self.concurrency,
            last_received=self.link.last_received,
        )
        problem = self.judge.judge(sample)
        self._log_change(problem, broker_error or (None if self.link.connected else self.link.last_error))
        return HealthReport(problem, self.link.reconnects)

    def close(self) -> None:
        self.probe.close()

    def _log_change(self, problem: str | None, detail: str | None) -> None:
        if problem != self._last_problem:
            if problem is None:
                logger.info("worker healthy again")
            else:
                logger.warning("worker unhealthy: %s%s", problem, f" ({detail})" if detail else "")
        self._last_problem = problem

    def _on_received(self, sender: Any = None, **kwargs: Any) -> None:
        self.link.on_received(self.clock())


def _busy() -> int:
    """Messages the worker has received and not finished (reserved, running or being acked)."""
    from celery.worker import state  # type: ignore[import-untyped]

    return len(state.reserved_requests)
