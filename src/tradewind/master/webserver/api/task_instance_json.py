"""A task instance, one of its tries, and a reference to one, as the API answers them (Airflow's
``TaskInstance``, ``TaskInstanceHistory`` and ``TaskInstanceReference``), with their schemas.

As in Airflow, a task instance that has no state yet answers ``state: null`` and one that never ran
``hostname: ""``. tradewind has no SLAs, triggers or per-task executors: ``sla_miss``, ``trigger``,
``triggerer_job`` and ``executor`` are always null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradewind.master.webserver.api import iso
from tradewind.master.webserver.api.spec import (
    collection,
    date_time,
    free_object,
    integer,
    number,
    obj,
    string,
)
from tradewind.metastore.models import TaskInstance, TaskTry
from tradewind.states import TaskInstanceState, shown_state

TI_STATES = [s.value for s in TaskInstanceState]


def ti_json(ti: TaskInstance, logical_date: datetime) -> dict[str, Any]:
    """``ti`` of the run at ``logical_date``."""
    return {
        "task_id": ti.task_id,
        "task_display_name": ti.task_id,
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "execution_date": iso(logical_date),
        "start_date": iso(ti.start_date),
        "end_date": iso(ti.end_date),
        "duration": ti.duration,
        "state": shown_state(ti.state),
        "try_number": ti.try_number,
        "map_index": ti.map_index,
        "max_tries": ti.max_tries,
        "hostname": ti.hostname or "",
        "unixname": "",
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "queue": ti.queue,
        "priority_weight": ti.priority_weight,
        "operator": ti.operator,
        "queued_when": iso(ti.queued_dttm),
        "pid": ti.pid,
        "executor": None,
        "executor_config": "{}",
        "sla_miss": None,
        "rendered_map_index": None,
        "rendered_fields": ti.rendered_fields or {},
        "trigger": None,
        "triggerer_job": None,
        "note": ti.note,
    }


def try_json(tried: TaskTry, ti: TaskInstance) -> dict[str, Any]:
    """One recorded try of ``ti``."""
    return {
        "task_id": tried.task_id,
        "task_display_name": tried.task_id,
        "dag_id": tried.dag_id,
        "dag_run_id": tried.run_id,
        "start_date": iso(tried.start_date),
        "end_date": iso(tried.end_date),
        "duration": tried.duration,
        "state": shown_state(tried.state),
        "try_number": tried.try_number,
        "map_index": tried.map_index,
        "max_tries": ti.max_tries,
        "hostname": tried.hostname or "",
        "unixname": "",
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "queue": ti.queue,
        "priority_weight": ti.priority_weight,
        "operator": tried.operator,
        "queued_when": iso(tried.queued_dttm),
        "pid": tried.pid,
        "executor": None,
        "executor_config": "{}",
    }


def reference_json(dag_id: str, run_id: str, task_id: str, logical_date: datetime | None) -> dict[str, Any]:
    return {"task_id": task_id, "dag_id": dag_id, "execution_date": iso(logical_date), "dag_run_id": run_id}


_TIME = date_time()
_TRY_FIELDS: dict[str, Any] = {
    "task_id": string(),
    "task_display_name": string(),
    "dag_id": string(),
    "dag_run_id": string(),
    "start_date": _TIME,
    "end_date": _TIME,
    "duration": number(nullable=True),
    "state": string(nullable=True, enum=TI_STATES),
    "try_number": integer(),
    "map_index": integer(),
    "max_tries": integer(),
    "hostname": string(description="Where it ran; empty before it ran."),
    "unixname": string(description="Always empty: tradewind does not record the user."),
    "pool": string(),
    "pool_slots": integer(),
    "queue": string(nullable=True),
    "priority_weight": integer(nullable=True),
    "operator": string(nullable=True),
    "queued_when": string(nullable=True),
    "pid": integer(nullable=True),
    "executor": string(nullable=True, description="Always null: one executor for every task."),
    "executor_config": string(),
}
_ALWAYS_NULL = {"type": "object", "nullable": True, "description": "Always null in tradewind."}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "TaskInstance": obj(
        {
            **_TRY_FIELDS,
            "execution_date": date_time(nullable=False),
            "sla_miss": _ALWAYS_NULL,
            "rendered_map_index": string(nullable=True),
            "rendered_fields": free_object(description="The templated fields as the last try rendered them."),
            "trigger": _ALWAYS_NULL,
            "triggerer_job": _ALWAYS_NULL,
            "note": string(nullable=True),
        }
    ),
    "TaskInstanceCollection": collection("task_instances", "TaskInstance"),
    "TaskInstanceHistory": obj(_TRY_FIELDS),
    "TaskInstanceHistoryCollection": collection("task_instances_history", "TaskInstanceHistory"),
    "TaskInstanceReference": obj(
        {
            "task_id": string(read_only=True),
            "dag_id": string(read_only=True),
            "execution_date": date_time(read_only=True),
            "dag_run_id": string(read_only=True),
        }
    ),
}
