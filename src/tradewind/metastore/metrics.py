"""The numbers ``/metrics`` exports: task instances and runs by state, the scheduler's loop time,
and recent hand-off latencies — each one bounded query."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from tradewind.metastore import jobs
from tradewind.metastore.health import SCHEDULER_JOB_TYPE
from tradewind.metastore.models import DagRun, TaskInstance, TaskTry

#: How many of the latest started tries the hand-off histogram looks at.
HANDOFF_SAMPLE = 500


def task_instance_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(TaskInstance.state, func.count()).group_by(TaskInstance.state)).all()
    return {state: count for state, count in rows}


def run_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(DagRun.state, func.count()).group_by(DagRun.state)).all()
    return {state: count for state, count in rows}


def scheduler_loop_ms(session: Session) -> float | None:
    """The latest scheduler's last tick time as it reported in its heartbeat, or None."""
    job = jobs.latest_job(session, SCHEDULER_JOB_TYPE)
    value = (job.counters or {}).get("last_tick_ms") if job is not None else None
    return float(value) if isinstance(value, int | float) else None


def handoff_latencies(session: Session, sample: int = HANDOFF_SAMPLE) -> list[float]:
    """Seconds from the latest end of an earlier try in the same run to each of the ``sample``
    latest-starting tries' start. The run's structure is not stored per row, so "upstream" is
    approximated by "ended before this one started" — exact for chains, a lower bound otherwise."""
    other = aliased(TaskTry)
    recent = (
        select(TaskTry.dag_id, TaskTry.run_id, TaskTry.task_id, TaskTry.start_date)
        .where(TaskTry.start_date.is_not(None))
        .order_by(TaskTry.start_date.desc())
        .limit(sample)
        .subquery()
    )
    upstream_end = (
        select(func.max(other.end_date))
        .where(
            other.dag_id == recent.c.dag_id,
            other.run_id == recent.c.run_id,
            other.task_id != recent.c.task_id,
            other.end_date.is_not(None),
            other.end_date <= recent.c.start_date,
        )
        .scalar_subquery()
    )
    rows = session.execute(select(recent.c.start_date, upstream_end.label("upstream_end"))).all()
    return [(row.start_date - row.upstream_end).total_seconds() for row in rows if row.upstream_end is not None]
