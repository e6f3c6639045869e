"""``tradewind tasks render``: a task instance's templated fields rendered as its try would render
them (its run's logical date, data interval and conf), secrets masked, nothing run or recorded.

Values it would pull from XCom render as None: rendering here reads no other task's output.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradewind.errors import TradewindException
from tradewind.sdk.context import RunInfo, set_current_context
from tradewind.sdk.runtime import InMemoryXComBackend
from tradewind.sdk.schedules import manual_run_interval
from tradewind.sdk.templating import render_task_fields
from tradewind.secrets import masker
from tradewind.worker.task_process import TryRequest, runtime_task_instance, task_and_context


def stored_run(row: Any) -> RunInfo:
    """A run of the metastore, as a try's context sees it."""
    return RunInfo(
        dag_id=row.dag_id,
        run_id=row.run_id,
        run_type=row.run_type,
        logical_date=row.logical_date,
        data_interval_start=row.data_interval_start,
        data_interval_end=row.data_interval_end,
        conf=row.conf or {},
        start_date=row.start_date,
        external_trigger=row.external_trigger,
    )


def unrecorded_run(dag: Any, logical_date: datetime) -> RunInfo:
    """The run a manual trigger at ``logical_date`` would create, kept in memory (as Airflow renders
    for a date that has no run)."""
    interval = manual_run_interval(dag.schedule, logical_date, start_date=dag.start_date)
    return RunInfo(
        dag_id=dag.dag_id,
        run_id=f"__tradewind_tasks_render__{logical_date.isoformat()}",
        run_type="manual",
        logical_date=logical_date,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        external_trigger=True,
    )


def render_fields(dag: Any, task_id: str, run: RunInfo, *, map_index: int, xcom_max_bytes: int) -> dict[str, Any]:
    """``template_fields`` name -> rendered value (secrets the rendering fetched masked), in the
    order the operator declares them."""
    task = dag.get_task(task_id)
    mapped = bool(getattr(task, "is_mapped", False))
    if mapped and map_index < 0:
        raise TradewindException(f"task {task_id!r} is mapped: give --map-index to render one of its task instances")
    if not mapped and map_index >= 0:
        raise TradewindException(f"task {task_id!r} is not mapped: --map-index applies to mapped tasks only")
    request = TryRequest(
        task=task,
        run=run,
        try_number=1,
        max_tries=0,
        map_index=map_index,
        hostname="",
        first_poke_at=None,
        xcom_max_bytes=xcom_max_bytes,
    )
    ti = runtime_task_instance(request, InMemoryXComBackend(task_id))
    task, context = task_and_context(request, ti)
    with set_current_context(context):
        rendered = render_task_fields(task, context)
    return dict(masker.redact_value(rendered))
