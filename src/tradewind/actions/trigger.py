"""Triggering a DAG by hand and backfilling a date range, decided purely: the run a trigger creates
(a conf that does not fit the DAG's or a task's params is refused before anything is written) and
the intervals a backfill fills. ``apply.trigger_dag`` and ``apply.backfill_dag`` write them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradewind.errors import ParamValidationError
from tradewind.run_ids import check_logical_date, check_run_id
from tradewind.sdk.params import merge_params
from tradewind.sdk.schedules import DagRunInfo, intervals_between, manual_run_interval
from tradewind.sdk.serialization import SerializedDAG


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
    """The run a trigger creates; raises ``ParamValidationError`` for a conf the params refuse,
    ``InvalidInput`` for a run id or logical date no run may have (``tradewind.run_ids``)."""
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
    check_logical_date(at)
    if run_id is not None:
        check_run_id(run_id)
    interval = manual_run_interval(dag.timetable, at)
    return ManualRun(
        run_id=run_id or f"manual__{at.isoformat()}",
        logical_date=at,
        data_interval=(interval.start, interval.end),
        conf=conf,
    )


def backfill_runs(dag: SerializedDAG, start: datetime, end: datetime, taken: Collection[datetime]) -> list[DagRunInfo]:
    """The scheduled intervals with a logical date in ``[start, end]`` that have no run yet."""
    infos = intervals_between(dag.timetable, start, end, start_date=dag.start_date, end_date=dag.end_date)
    return [info for info in infos if info.logical_date not in taken]
