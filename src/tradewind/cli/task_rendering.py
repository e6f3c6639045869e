"""``tradewind tasks render``: a task instance's templated fields rendered as its try would render
them (its run's logical date, data interval and conf), secrets masked, nothing run or recorded.

Values it would pull from XCom render as None: rendering here reads no other task's output.
"""

from __future__ import annotations

from typing import Any

from tradewind.cli.task_test_runner import single_try
from tradewind.sdk.context import RunInfo, set_current_context
from tradewind.sdk.runtime import InMemoryXComBackend
from tradewind.sdk.templating import render_task_fields
from tradewind.secrets import masker
from tradewind.worker.task_process import runtime_task_instance, task_and_context


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


def render_fields(dag: Any, task_id: str, run: RunInfo, *, map_index: int, xcom_max_bytes: int) -> dict[str, Any]:
    """``template_fields`` name -> rendered value (secrets the rendering fetched masked), in the
    order the operator declares them."""
    request = single_try(dag, task_id, run, map_index=map_index, xcom_max_bytes=xcom_max_bytes, verb="render")
    ti = runtime_task_instance(request, InMemoryXComBackend(task_id))
    task, context = task_and_context(request, ti)
    with set_current_context(context):
        rendered = render_task_fields(task, context)
    return dict(masker.redact_value(rendered))
