"""Whether a worker can do its work, judged from what its main process sees: the pure rule.

A worker is unhealthy when it cannot reach its broker, when its consumer has lost the broker
connection and not got it back, or when it has stopped consuming: messages wait in its queues
and it has a free slot, yet it has received nothing for ``stall_after`` seconds. Its heartbeat
carries the verdict to the metastore (``worker.problem``), where ``/health``, ``/metrics`` and
``tradewind workers list`` read it. The texts name no host: ``/health`` is public.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HealthSample:
    """What the worker's main process sees at one heartbeat (``now`` and times: monotonic seconds)."""

    now: float
    #: Why the broker could not be asked how many messages wait (None: it answered).
    broker_error: str | None
    #: Whether the consumer holds a broker connection.
    consumer_connected: bool
    #: Messages waiting in the worker's queues (None: unknown).
    waiting: int | None
    #: Messages received and not yet finished.
    busy: int
    concurrency: int
    #: When the consumer last received a message (None: never).
    last_received: float | None


class HealthJudge:
    """Turns successive samples into a problem (a one-line reason) or None, remembering how long
    messages have waited beside a free slot."""

    def __init__(self, stall_after: float) -> None:
        self.stall_after = stall_after
        self._waiting_since: float | None = None

    def judge(self, sample: HealthSample) -> str | None:
        if sample.broker_error is not None:
            self._waiting_since = None
            return "cannot reach the broker"
        if not sample.consumer_connected:
            self._waiting_since = None
            return "lost its broker connection; reconnecting"
        starved = bool(sample.waiting) and sample.busy < sample.concurrency
        received_since = (
            self._waiting_since is not None
            and sample.last_received is not None
            and sample.last_received >= self._waiting_since
        )
        if not starved or received_since:
            self._waiting_since = sample.now if starved else None
            return None
        if self._waiting_since is None:
            self._waiting_since = sample.now
        if sample.now - self._waiting_since < self.stall_after:
            return None
        free = sample.concurrency - sample.busy
        return (
            f"not consuming: {sample.waiting} message(s) wait in its queues and {free} of "
            f"{sample.concurrency} slots are free, but nothing was received for "
            f"{sample.now - self._waiting_since:.0f} s"
        )
