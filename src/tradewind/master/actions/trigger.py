"""Triggering a DAG by hand and backfilling a date range: new runs a scheduler then runs.

The run is created ``queued`` with all its task instances in one transaction and the action is
written to the audit log; the caller commits and then publishes ``state_changed`` so a scheduler
acts at once. A conf that does not fit the DAG's (or a task's) params is refused before anything is
written. ``manual_run`` and ``backfill_runs`` decide purely; ``trigger_dag`` and ``backfill_dag``
write.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.errors import DagNotFound, ParamValidationError
from tradewind.metastore import audit, dags, runs, scheduling
from tradewind.metastore.models import DagRun
from tradewind.scheduling.run_driver import task_rows
from tradewind.sdk.params import merge_params
from tradewind.sdk.schedules import DagRunInfo, intervals_between, manual_run_interval
from tradewind.sdk.serialization import SerializedDAG, deserialize_dag
from tradewind.states import DagRunState


@dataclass(frozen=True)
class ManualRun:
    run_id: str
    logical_date: datetime
    data_interval: tuple[datetime, datetime]
    conf: dict[str, Any]


def manual_run(
    dag: SerializedDAG,
    *,
    conf: Mapping[str, Any] | None,
    run_id: str | None,
    logical_date: datetime | None,
    now: datetime,
) -> ManualRun:
    """The run a trigger creates; raises ``ParamValidationError`` for a conf the params refuse."""
    conf = dict(conf or {})
    merge_params(dag.params, {}, conf)
    for task_id, task in dag.task_dict.items():
        try:
            merge_params(dag.params, task.params, conf)
        except ParamValidationError as exc:
            raise ParamValidationError(f"task {task_id!r}: {exc}") from None
    at = logical_date or now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    interval = manual_run_interval(dag.schedule, at, start_date=dag.start_date)
    return ManualRun(
        run_id=run_id or f"manual__{at.isoformat()}",
        logical_date=at,
        data_interval=(interval.start, interval.end),
        conf=conf,
    )


def backfill_runs(dag: SerializedDAG, start: datetime, end: datetime, taken: Collection[datetime]) -> list[DagRunInfo]:
    """The scheduled intervals with a logical date in ``[start, end]`` that have no run yet."""
    infos = intervals_between(dag.schedule, start, end, start_date=dag.start_date, end_date=dag.end_date)
    return [info for info in infos if info.logical_date not in taken]


def load_dag(session: Session, dag_id: str) -> SerializedDAG:
    """The DAG as last parsed; ``DagNotFound`` when it is unknown or its file is gone."""
    row = dags.get_dag(session, dag_id)
    if row is None or not row.is_active or row.serialized is None:
        raise DagNotFound(f"DAG {dag_id!r} not found; see `tradewind dags list`")
    return deserialize_dag(row.serialized)


def trigger_dag(
    session: Session,
    dag_id: str,
    *,
    conf: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    logical_date: datetime | None = None,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> DagRun:
    """Create a queued manual run; raises ``DagNotFound``, ``ParamValidationError`` or
    ``DagRunAlreadyExists`` (same run id or logical date) with nothing written."""
    now = now or datetime.now(UTC)
    dag = load_dag(session, dag_id)
    planned = manual_run(dag, conf=conf, run_id=run_id, logical_date=logical_date, now=now)
    run = runs.create_run(
        session,
        dag_id=dag_id,
        run_id=planned.run_id,
        run_type="manual",
        logical_date=planned.logical_date,
        data_interval=planned.data_interval,
        conf=planned.conf,
        state=DagRunState.QUEUED,
        external_trigger=True,
        task_rows=task_rows(dag),
        now=now,
    )
    audit.record(
        session,
        "trigger",
        owner=owner,
        dag_id=dag_id,
        run_id=run.run_id,
        extra={"source": source, "conf": planned.conf},
        now=now,
    )
    return run


def backfill_dag(
    session: Session,
    dag_id: str,
    start: datetime,
    end: datetime,
    *,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> tuple[list[DagRun], int]:
    """Create a queued backfill run for every interval in ``[start, end]`` without a run; returns the
    new runs and how many intervals already had one."""
    now = now or datetime.now(UTC)
    dag = load_dag(session, dag_id)
    taken = scheduling.logical_dates_since(session, dag_id, None)
    every = intervals_between(dag.schedule, start, end, start_date=dag.start_date, end_date=dag.end_date)
    created = [
        runs.create_run(
            session,
            dag_id=dag_id,
            run_id=f"backfill__{info.logical_date.isoformat()}",
            run_type="backfill",
            logical_date=info.logical_date,
            data_interval=(info.data_interval.start, info.data_interval.end),
            state=DagRunState.QUEUED,
            task_rows=task_rows(dag),
            now=now,
        )
        for info in backfill_runs(dag, start, end, taken)
    ]
    audit.record(
        session,
        "backfill",
        owner=owner,
        dag_id=dag_id,
        extra={"source": source, "start": start.isoformat(), "end": end.isoformat(), "created": len(created)},
        now=now,
    )
    return created, len(every) - len(created)
