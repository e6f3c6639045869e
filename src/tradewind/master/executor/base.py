"""What the scheduler needs of an executor: send task-instance messages to queues, say which failed.

An executor holds no state the metastore does not have. A message it could not send leaves its
task instance ``queued``; the scheduler's queued-timeout duty sends it again later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tradewind.queue.messages import QueueItem, TaskMessage

__all__ = ["Executor", "QueueItem"]


class Executor(Protocol):
    def send(self, items: Sequence[QueueItem]) -> list[TaskMessage]:
        """Publish every message to its queue, in order; return those that could not be published.

        Must return within a bounded time even when the broker is down or hangs."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...
