"""Reads about a DAG's earlier runs: the run before a logical date and its task states, and runs at a
given logical date of another DAG (``depends_on_past``, ``ExternalTaskSensor``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagRun, TaskInstance
from tradewind.states import DagRunType

#: Runs of `tradewind dags test` stand alone: they are nobody's previous run.


def previous_run(session: Session, dag_id: str, logical_date: datetime, *, scheduled_only: bool) -> DagRun | None:
    """The DAG's latest run with a logical date before ``logical_date`` (manual runs left out when
    ``scheduled_only``)."""
    query = select(DagRun).where(
        DagRun.dag_id == dag_id, DagRun.logical_date < logical_date, DagRun.run_type != DagRunType.DAGS_TEST
    )
    if scheduled_only:
        query = query.where(DagRun.run_type != "manual")
    return session.scalars(query.order_by(DagRun.logical_date.desc()).limit(1)).first()


def task_states(session: Session, dag_id: str, run_id: str, task_ids: Sequence[str]) -> dict[str, list[str]]:
    """task_id -> states of its task instances (every map index) in the run."""
    found: dict[str, list[str]] = {}
    if not task_ids:
        return found
    rows = session.execute(
        select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id.in_(list(task_ids))
        )
    )
    for task_id, state in rows:
        found.setdefault(task_id, []).append(state)
    return found


def tasks_with_earlier_instances(
    session: Session, dag_id: str, logical_date: datetime, task_ids: Collection[str]
) -> set[str]:
    """Which of ``task_ids`` have an instance in a run of the DAG before ``logical_date``."""
    if not task_ids:
        return set()
    return set(
        session.scalars(
            select(TaskInstance.task_id)
            .distinct()
            .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.task_id.in_(list(task_ids)),
                DagRun.logical_date < logical_date,
                DagRun.run_type != DagRunType.DAGS_TEST,
            )
        )
    )


def runs_at(session: Session, dag_id: str, logical_dates: Sequence[datetime]) -> list[DagRun]:
    """The DAG's runs at any of ``logical_dates``."""
    if not logical_dates:
        return []
    return list(
        session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.logical_date.in_(list(logical_dates)))
            .execution_options(populate_existing=True)
        )
    )


def count_task_states(
    session: Session, dag_id: str, logical_dates: Sequence[datetime], task_ids: Sequence[str]
) -> dict[str, int]:
    """state -> how many task instances of ``task_ids`` are in it, over the DAG's runs at
    ``logical_dates`` (what ``ExternalTaskSensor`` counts)."""
    if not logical_dates or not task_ids:
        return {}
    rows = session.execute(
        select(TaskInstance.state, func.count())
        .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.task_id.in_(list(task_ids)),
            DagRun.logical_date.in_(list(logical_dates)),
        )
        .group_by(TaskInstance.state)
    )
    return {state: int(count) for state, count in rows}
