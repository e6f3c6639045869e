"""A worker follows up on the run of the try it just ended, so the next task starts in
milliseconds instead of waiting for a scheduler tick and a round trip through the queue.

It does exactly what the scheduler does for that one run, with the scheduler's own code and
locks: the run's row lock (skipped — and left to the scheduler — when a scheduler holds it), the
pure planner, then the queueing critical section with every global limit (parallelism, pools,
max_active_tasks). Of what that queues, this worker runs one task itself and sends the rest
through the broker. PostgreSQL only: on SQLite one scheduler owns all scheduling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import task_instances
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.messages import QueueItem, TaskMessage
from tradewind.scheduling.dag_cache import DagCache
from tradewind.scheduling.queueing import queue_task_instances
from tradewind.scheduling.run_progress import progress_runs
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

Sender = Callable[[Sequence[QueueItem]], None]


class FollowUp:
    """One pool process's follow-up: its DAG cache and what it knows of each run's DAG version."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, queues: Sequence[str],
                 sender: Sender) -> None:
        self.factory = factory
        self.settings = settings
        self.queues = set(queues)
        self.sender = sender
        self.cache = DagCache()
        self.checked: dict[tuple[str, str], Any] = {}

    def next_message(self, key: TIKey, *, state: str | None = None, task: Any = None) -> TaskMessage | None:
        """Plan ``key``'s run now; send what became queued and return one message to run here.

        ``state`` and ``task`` (the try's end and its live task) let it skip planning when that end
        cannot have made anything ready — a fan-out's 200 parallel tasks would otherwise each plan
        the whole run."""
        try:
            if task is not None and self._nothing_can_follow(key, state, task):
                return None
            items = self._plan(key)
        except Exception:  # noqa: BLE001 - a failed follow-up only costs latency: the scheduler goes on
            logger.exception("following up on run %s of %s failed; the scheduler will", key.run_id, key.dag_id)
            return None
        if not items:
            return None
        mine = next((i for i, (_, queue) in enumerate(items) if queue in self.queues), None)
        local = items.pop(mine)[0] if mine is not None else None
        if items:
            try:
                self.sender(items)
            except Exception:  # noqa: BLE001 - they stay queued; the scheduler's queued timeout re-sends
                logger.exception("sending %d follow-up task instances failed", len(items))
        return local

    def _nothing_can_follow(self, key: TIKey, state: str | None, task: Any) -> bool:
        """True when the try succeeded and each downstream task (all under all_success, the only
        rule for which a success cannot skip or fail anything) still waits for another upstream."""
        downstream = [task.dag.get_task(t) for t in task.downstream_task_ids] if task.dag is not None else []
        if state != "success" or not downstream or any(str(d.trigger_rule) != "all_success" for d in downstream):
            return False
        upstream = {u for d in downstream for u in d.upstream_task_ids}
        with session_scope(self.factory) as session:
            states = task_instances.states_of(session, key.dag_id, key.run_id, sorted(upstream))
        return all(
            any(s != "success" for u in d.upstream_task_ids for s in states.get(u, ["none"]))
            for d in downstream
        )

    def _plan(self, key: TIKey) -> list[QueueItem]:
        now = datetime.now(UTC)
        run = (key.dag_id, key.run_id)
        if len(self.checked) > 10_000:
            self.checked.clear()
        with session_scope(self.factory) as session:
            report = progress_runs(session, self.cache, self.settings, now, named=[run], checked=self.checked,
                                   only_named=True)
            if report.examined == 0:
                return []  # a scheduler holds the run, or it is over, paused or not the cluster's
            if report.finished:
                return []
            return list(queue_task_instances(session, self.cache, self.settings, now, run=run).messages)
