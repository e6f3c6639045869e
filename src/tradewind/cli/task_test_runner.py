"""``tradewind tasks test``: run one task in this process, with nothing written anywhere.

Like Airflow's ``tasks test``: dependencies are ignored, the log goes to the terminal, XCom
stays in memory, and the task instance's state in the metastore is not touched.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from tradewind.errors import TradewindException
from tradewind.sdk.context import RunInfo
from tradewind.sdk.runtime import InMemoryXComBackend
from tradewind.sdk.schedules import manual_run_interval
from tradewind.secrets import masker
from tradewind.settings import Settings
from tradewind.worker.outcome import Outcome
from tradewind.worker.task_process import LOG_FORMAT, TryRequest, run_try


def unrecorded_run(dag: Any, logical_date: datetime, *, conf: dict[str, Any], purpose: str) -> RunInfo:
    """The run a manual trigger at ``logical_date`` would create, kept in memory only."""
    interval = manual_run_interval(dag.timetable, logical_date)
    return RunInfo(
        dag_id=dag.dag_id,
        run_id=f"__tradewind_{purpose}__{logical_date.isoformat()}",
        run_type="manual",
        logical_date=logical_date,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        conf=conf,
        start_date=datetime.now(UTC),
        external_trigger=True,
    )


def single_try(dag: Any, task_id: str, run: RunInfo, *, map_index: int, xcom_max_bytes: int, verb: str) -> TryRequest:
    """The first try of one task instance of ``run``, outside any worker; raises when ``map_index``
    does not fit the task (a mapped task needs one, another task none)."""
    task = dag.get_task(task_id)
    mapped = bool(getattr(task, "is_mapped", False))
    if mapped and map_index < 0:
        raise TradewindException(f"task {task_id!r} is mapped: give --map-index to {verb} one of its task instances")
    if not mapped and map_index >= 0:
        raise TradewindException(f"task {task_id!r} is not mapped: --map-index applies to mapped tasks only")
    return TryRequest(
        task=task,
        run=run,
        try_number=1,
        max_tries=0,
        map_index=map_index,
        hostname="",
        first_poke_at=None,
        xcom_max_bytes=xcom_max_bytes,
    )


def run_task_alone(
    dag: Any,
    task_id: str,
    *,
    logical_date: datetime | None,
    conf: dict[str, Any],
    settings: Settings,
    map_index: int = -1,
) -> Outcome:
    """Run ``task_id`` once; a mapped task runs the element ``map_index`` of what it maps over
    (another task's output is empty here, so only literal mappings have elements)."""
    logical_date = logical_date or datetime.now(UTC)
    run = unrecorded_run(dag, logical_date, conf=conf, purpose="tasks_test")
    request = single_try(dag, task_id, run, map_index=map_index, xcom_max_bytes=settings.xcom_max_bytes, verb="test")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    masker.mask_handler(handler)
    task_logger = logging.getLogger("tradewind.task")
    task_logger.addHandler(handler)
    task_logger.setLevel(logging.INFO)
    # The terminal gets each line once, from this handler, not again through the root logger.
    task_logger.propagate = False
    try:
        # Like a worker's task log, the terminal never shows a secret the task fetched.
        with masker.masked_standard_streams():
            return run_try(request, InMemoryXComBackend(task_id), lambda rendered: None, lambda: None)
    finally:
        task_logger.removeHandler(handler)
        task_logger.propagate = True
