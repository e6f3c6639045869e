"""The reads a person's clear or mark needs: a DAG's runs (locked while the action is applied, so a
scheduler never decides about them at the same time) and their task instances. What changes is
decided and written by ``tradewind.actions``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagRun, TaskInstance


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
