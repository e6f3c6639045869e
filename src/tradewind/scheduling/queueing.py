"""Queueing: move the scheduled task instances the limits allow to ``queued``, and say
which messages to send.

The whole duty is a critical section (a PostgreSQL advisory lock; another scheduler inside it means
this one skips a tick), so the global limits are exact with several schedulers. The candidate rows
are also locked ``FOR UPDATE SKIP LOCKED`` and each moves by compare-and-set on its state and try:
a (task instance, try) is queued, and so sent, once. The caller commits *before* sending; a crash
in between leaves the task instance queued, and the liveness duty sends it again after the queued
timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tradewind.decisions.admission import Candidate, Limits, Usage, admit
from tradewind.metastore import scheduling, task_instances
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.messages import QueueItem, TaskMessage
from tradewind.scheduling.dag_cache import DagCache
from tradewind.scheduling.failed_tries import fail_try
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI

logger = logging.getLogger(__name__)

#: Most scheduled task instances considered in one tick (Airflow's ``max_tis_per_query``).
MAX_CANDIDATES = 512
DEFAULT_QUEUE = "default"


@dataclass
class QueueingReport:
    #: Messages for the task instances this call queued, highest priority first.
    messages: list[QueueItem] = field(default_factory=list)
    unknown_pool: list[TIKey] = field(default_factory=list)
    removed: list[TIKey] = field(default_factory=list)
    #: Another scheduler was queueing; nothing was done.
    busy: bool = False


def message_for(key: TIKey, try_number: int, queue: str | None) -> QueueItem:
    return (TaskMessage(key.dag_id, key.run_id, key.task_id, key.map_index, try_number), queue or DEFAULT_QUEUE)


def queue_task_instances(
    session: Session, cache: DagCache, settings: Settings, now: datetime, *, run: tuple[str, str] | None = None
) -> QueueingReport:
    """``run`` limits the candidates to one run's task instances (a worker following up on its run);
    the limits still count every queued and running task instance."""
    report = QueueingReport()
    if run is None and not scheduling.any_scheduled(session):
        # Nothing to queue: leave the critical section free, so that a worker following up on its
        # run (which it just planned, uncommitted) queues and claims its next task itself.
        return report
    if not scheduling.try_lock_queueing(session):
        report.busy = True
        return report
    slot_use, pool_slots, deferred_held = scheduling.slot_use_and_limits(session)
    usage = Usage.from_rows((u.dag_id, u.task_id, u.pool, u.count, u.slots) for u in slot_use)
    # Deferred task instances hold no worker slot; in a pool with include_deferred they hold its slots.
    usage.pool_slots.update(deferred_held)
    limits = Limits(parallelism=settings.parallelism, pools=pool_slots, max_active_tasks={})
    free = limits.free_parallelism(usage)
    if free <= 0:
        return report
    rows = scheduling.lock_schedulable(
        session,
        limit=min(MAX_CANDIDATES, free * 4 + 16),
        live_stale_before=now - timedelta(seconds=settings.zombie_threshold),
        skip_pools=limits.full_pools(usage),
        run=run,
    )
    dags = cache.get_many(session, {row.key.dag_id for row in rows})
    limits = Limits(
        limits.parallelism,
        limits.pools,
        {dag_id: int(cached.dag.max_active_tasks or 0) for dag_id, cached in dags.items()},
    )
    candidates: list[Candidate] = []
    removed: list[task_instances.KeyedChange] = []
    for row in rows:
        cached = dags.get(row.key.dag_id)
        if cached is None:
            continue  # its DAG cannot be read now; it waits
        task = cached.dag.task_dict.get(row.key.task_id)
        if task is None:
            removed.append((row.key, row.try_number, TI.SCHEDULED, TI.REMOVED, {}))
            continue
        candidates.append(
            Candidate(
                dag_id=row.key.dag_id,
                run_id=row.key.run_id,
                task_id=row.key.task_id,
                map_index=row.key.map_index,
                try_number=row.try_number,
                pool=row.pool,
                pool_slots=row.pool_slots,
                queue=row.queue,
                max_active_tis_per_dag=task.data.get("max_active_tis_per_dag"),
            )
        )
    admission = admit(candidates, usage, limits)
    if removed:
        report.removed = task_instances.transition_each(session, removed, now=now)
    if admission.unknown_pool:
        report.unknown_pool = _fail_unknown_pool(session, admission.unknown_pool, now)
    if admission.queue:
        moved = set(
            task_instances.transition_each(
                session,
                [(_key(c), c.try_number, TI.SCHEDULED, TI.QUEUED, {"queued_dttm": now}) for c in admission.queue],
                now=now,
            )
        )
        report.messages = [message_for(_key(c), c.try_number, c.queue) for c in admission.queue if _key(c) in moved]
    return report


def _key(candidate: Candidate) -> TIKey:
    return TIKey(candidate.dag_id, candidate.run_id, candidate.task_id, candidate.map_index)


def _fail_unknown_pool(session: Session, candidates: list[Candidate], now: datetime) -> list[TIKey]:
    """A task instance whose pool does not exist can never run: it fails, saying why in its log."""
    failed: list[TIKey] = []
    for candidate in candidates:
        reason = f"the task's pool {candidate.pool!r} does not exist; create the pool or change the task's pool"
        if fail_try(session, _key(candidate), candidate.try_number, reason, now, expected_state=TI.SCHEDULED):
            failed.append(_key(candidate))
    return failed
