"""A worker follows up on the run of the try it just ended, so the next task starts in
milliseconds instead of waiting for a scheduler tick and a round trip through the queue.

It does exactly what the scheduler does for that one run, inside the transaction that writes the
try's end (so the next task is claimed the moment the previous one is recorded), with the scheduler's own code and
locks: the run's row lock (skipped — and left to the scheduler — when a scheduler holds it), the
pure planner, then the queueing critical section with every global limit (parallelism, pools,
max_active_tasks). Of what that queues, this worker runs one task itself and sends the rest
through the broker. PostgreSQL only: on SQLite one scheduler owns all scheduling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import task_instances
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.messages import QueueItem, TaskMessage
from tradewind.scheduling.dag_cache import DagCache
from tradewind.scheduling.queueing import queue_task_instances
from tradewind.scheduling.run_progress import progress_runs
from tradewind.settings import Settings
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import ClaimedTry, Reporter
from tradewind.worker.runner import RunnerOptions
from tradewind.worker.task_facts import TaskFacts

logger = logging.getLogger(__name__)

Sender = Callable[[Sequence[QueueItem]], None]


class FollowUp:
    """A worker's follow-up, shared by its threads: its DAG cache and what it knows of each run's
    DAG version."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        queues: Sequence[str],
        sender: Sender,
        options: RunnerOptions,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.options = options
        self.queues = set(queues)
        self.sender = sender
        self.cache = DagCache()
        # Each thread its own (the worker's slots follow up at the same time).
        self._local = threading.local()

    @property
    def checked(self) -> dict[tuple[str, str], Any]:
        """What this thread's follow-ups know of each run's DAG version (see ``progress_runs``), as
        committed: a follow-up works on a copy, kept once its transaction commits."""
        return self._per_thread("checked")

    @property
    def waiting_on(self) -> dict[tuple[str, str, str], str]:
        """(dag id, run id, downstream task id) -> an upstream task this thread last found it still
        waiting for: looked at first next time, since it most likely still is (``_nothing_can_follow``)."""
        return self._per_thread("waiting_on")

    def _per_thread(self, name: str) -> dict[Any, Any]:
        """This thread's memo ``name``, emptied once it holds more than 10,000 entries."""
        memo: dict[Any, Any] | None = getattr(self._local, name, None)
        if memo is None or len(memo) > 10_000:
            memo = {}
            setattr(self._local, name, memo)
        return memo

    def plan_in(
        self,
        session: Session,
        key: TIKey,
        outcome: Outcome,
        facts: TaskFacts | None,
        *,
        hostname: str,
        pid: int,
        claim_one: bool = True,
    ) -> Followed | None:
        """Inside the transaction that ends ``key``'s try: plan its run, queue what the limits admit,
        and claim one of those tasks for this worker (unless ``claim_one`` is false: the worker is
        shutting down, and all of them go through the broker). Nothing when a scheduler holds the run.
        ``facts``: the ended task's (None when unknown: the run is then always planned)."""
        if facts is not None and self._nothing_can_follow(session, key, str(outcome.state), facts):
            return None
        now = datetime.now(UTC)
        run = (key.dag_id, key.run_id)
        # What this follow-up learns of the run's DAG version (its task instances synced with it) is
        # kept only if its transaction commits: rolled back, the sync is undone too.
        checked, working = self.checked, dict(self.checked)

        def keep(_: Session) -> None:
            checked.clear()
            checked.update(working)

        event.listen(session, "after_commit", keep, once=True)
        # A run whose DAG has a DAG-level callback is ended by a scheduler, which runs the callback.
        report = progress_runs(
            session,
            self.cache,
            self.settings,
            now,
            named=[run],
            checked=working,
            only_named=True,
            end_runs_with_callbacks=False,
        )
        if report.examined == 0 or report.finished:
            return None  # a scheduler holds the run, or it is over, paused or not the cluster's
        items = list(queue_task_instances(session, self.cache, self.settings, now, run=run).messages)
        followed = Followed(rest=items)
        mine = next((i for i, (_, queue) in enumerate(items) if queue in self.queues), None) if claim_one else None
        if mine is not None:
            item = items.pop(mine)
            message = item[0]
            reporter = self.options.reporter(
                self.factory,
                TIKey(message.dag_id, message.run_id, message.task_id, message.map_index),
                message.try_number,
            )
            claimed = reporter.claim_in(session, hostname=hostname, pid=pid)
            if claimed is not None:
                followed.local, followed.reporter, followed.claimed = message, reporter, claimed
            else:
                items.append(item)
        return followed

    def send(self, items: Sequence[QueueItem]) -> None:
        if not items:
            return
        try:
            self.sender(items)
        except Exception:  # noqa: BLE001 - they stay queued; the scheduler's queued timeout re-sends
            logger.exception("sending %d follow-up task instances failed", len(items))

    def _nothing_can_follow(self, session: Session, key: TIKey, state: str, facts: TaskFacts) -> bool:
        """True when the try succeeded and each downstream task (all under all_success, the only
        rule for which a success cannot skip or fail anything) still waits for another upstream."""
        waits = facts.downstream_waits
        if state != "success" or not waits:
            return False
        upstream = {u for _, upstream_ids in waits for u in upstream_ids}
        if upstream == {key.task_id} and key.map_index < 0:
            return False  # this (unmapped) task instance was the only one they waited for
        # (An upstream task instance not created yet counts as finished here: the full follow-up
        # then runs, which is only slower.)
        return all(self._still_waits(session, key, downstream, upstream_ids) for downstream, upstream_ids in waits)

    def _still_waits(self, session: Session, key: TIKey, downstream: str, upstream: Collection[str]) -> bool:
        """Whether a task instance of one of ``upstream`` has not succeeded. The upstream task found
        unfinished last time is asked about first, alone: in a fan-in of hundreds, each try but the
        last finds one, and a question about one task is much lighter than one about all of them."""
        waiting_on, memo = self.waiting_on, (key.dag_id, key.run_id, downstream)
        last = waiting_on.get(memo)
        if (
            last is not None
            and last in upstream
            and last != key.task_id
            and task_instances.one_not_in_state(session, key.dag_id, key.run_id, [last], "success") is not None
        ):
            return True
        found = task_instances.one_not_in_state(session, key.dag_id, key.run_id, sorted(upstream), "success")
        if found is None:
            waiting_on.pop(memo, None)
            return False
        waiting_on[memo] = found
        return True


@dataclass
class Followed:
    """What a follow-up decided: one task claimed for this worker, the rest to send."""

    rest: list[QueueItem] = field(default_factory=list)
    local: TaskMessage | None = None
    reporter: Reporter | None = None
    claimed: ClaimedTry | None = None
