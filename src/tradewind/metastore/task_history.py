"""What the Task Duration, Task Tries and Landing Times charts and the Calendar read: a DAG's
recent runs and, per task and run, its duration, tries and end — aggregated in the database (a
mapped task counts as its slowest instance), in two queries however many tasks and runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagRun, TaskInstance


@dataclass(frozen=True)
class HistoryRun:
    run_id: str
    logical_date: datetime
    data_interval_end: datetime | None
    state: str
    run_type: str


@dataclass(frozen=True)
class TaskInRun:
    """One task in one run: its longest instance's seconds, its highest try, its latest end."""

    task_id: str
    run_id: str
    duration: float | None
    try_number: int
    end_date: datetime | None


def recent_runs(session: Session, dag_id: str, limit: int) -> list[HistoryRun]:
    """The ``limit`` newest runs of the DAG, oldest first."""
    rows = session.execute(
        sa.select(DagRun.run_id, DagRun.logical_date, DagRun.data_interval_end, DagRun.state, DagRun.run_type)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc(), DagRun.id.desc())
        .limit(limit)
    ).all()
    return [HistoryRun(*row) for row in reversed(rows)]


def tasks_in_runs(session: Session, dag_id: str, run_ids: Sequence[str]) -> list[TaskInRun]:
    """Per task and run of ``run_ids``: its duration, tries and end, mapped instances folded."""
    if not run_ids:
        return []
    rows = session.execute(
        sa.select(
            TaskInstance.task_id,
            TaskInstance.run_id,
            sa.func.max(TaskInstance.duration),
            sa.func.max(TaskInstance.try_number),
            sa.func.max(TaskInstance.end_date),
        )
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids)))
        .group_by(TaskInstance.task_id, TaskInstance.run_id)
    ).all()
    return [TaskInRun(task_id, run_id, duration, tries or 0, end) for task_id, run_id, duration, tries, end in rows]


def run_states_by_day(session: Session, dag_id: str, first: date, last: date) -> dict[date, dict[str, int]]:
    """For each day from ``first`` to ``last`` (by logical date, UTC) with runs: state -> count."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    rows = session.execute(
        sa.select(DagRun.logical_date, DagRun.state).where(
            DagRun.dag_id == dag_id, DagRun.logical_date >= start, DagRun.logical_date < end
        )
    ).all()
    days: dict[date, dict[str, int]] = {}
    for logical_date, state in rows:
        counts = days.setdefault(logical_date.astimezone(UTC).date(), {})
        counts[state] = counts.get(state, 0) + 1
    return days
