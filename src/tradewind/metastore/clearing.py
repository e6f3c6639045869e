"""Clearing task instances: read what a clear needs, lock the runs, and apply a planned clear.

What to clear is decided purely (``tradewind.master.actions.clear``); this module reads its inputs
and writes its outcome. A cleared task instance goes back to ``none`` (a running one to
``restarting``, which its worker's heartbeat notices and stops) with a fresh set of tries, and a
finished run goes back to ``queued`` so a scheduler picks it up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.metastore import runs, task_instances
from tradewind.metastore.models import DagRun, TaskInstance
from tradewind.states import DagRunState


class ClearedTI(Protocol):
    """One task instance to clear, as the pure clear plan describes it."""

    run_id: str
    task_id: str
    map_index: int
    from_state: str
    to_state: str
    max_tries: int


def runs_between(
    session: Session,
    dag_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    run_ids: Collection[str] | None = None,
    lock: bool = False,
) -> list[DagRun]:
    """The DAG's runs with a logical date in ``[start, end]`` (open ends when None), or the named
    ones, oldest first. ``lock`` holds them (``FOR UPDATE``, waiting for a scheduler that is deciding
    about them) until the transaction ends, so a clear and a scheduler never act on a run at once."""
    query = select(DagRun).where(DagRun.dag_id == dag_id)
    if start is not None:
        query = query.where(DagRun.logical_date >= start)
    if end is not None:
        query = query.where(DagRun.logical_date <= end)
    if run_ids is not None:
        query = query.where(DagRun.run_id.in_(list(run_ids)))
    query = query.order_by(DagRun.logical_date, DagRun.id)
    if lock:
        query = query.with_for_update(of=DagRun)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def task_instances_of(session: Session, dag_id: str, run_ids: Collection[str]) -> list[TaskInstance]:
    if not run_ids:
        return []
    return list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids)))
            .order_by(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index)
            .execution_options(populate_existing=True)
        )
    )


def apply_clear(
    session: Session,
    dag_id: str,
    targets: Sequence[ClearedTI],
    requeue_run_ids: Collection[str],
    *,
    now: datetime | None = None,
) -> int:
    """Write a planned clear; returns how many task instances it changed.

    Each change is a compare-and-set from the state the plan read, so a task instance that moved
    on meanwhile is left alone. Finished runs in ``requeue_run_ids`` go back to ``queued``.
    """
    now = now or datetime.now(UTC)
    by_run: dict[str, list[task_instances.Change]] = defaultdict(list)
    for target in targets:
        by_run[target.run_id].append(
            (
                target.task_id,
                target.map_index,
                target.from_state,
                target.to_state,
                {"max_tries": target.max_tries, "retry_at": None, "next_poke_at": None, "first_poke_at": None},
            )
        )
    changed = 0
    for run_id, changes in by_run.items():
        changed += task_instances.transition_many(session, dag_id, run_id, changes, manual=True, now=now)
    for run in runs_between(session, dag_id, run_ids=requeue_run_ids):
        if DagRunState(run.state) in (DagRunState.SUCCESS, DagRunState.FAILED):
            runs.set_run_state(session, run, DagRunState.QUEUED, now=now)
    return changed
