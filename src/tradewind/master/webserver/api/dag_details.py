"""``/api/v1/dags/<dag_id>/details`` and ``/tasks``: a DAG's settings and its tasks, read from its
serialized structure (the webserver never imports DAG files). No SubDAGs (``sub_dag`` is never
given) and no extra links (``extra_links`` is always empty)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.dags import DAG_PROPERTIES, dag_json
from tradewind.master.webserver.api.request_check import arg, requested_order
from tradewind.master.webserver.api.spec import (
    NOT_FOUND,
    array,
    boolean,
    date_time,
    free_object,
    integer,
    number,
    obj,
    operation,
    order_by,
    path_param,
    ref,
    string,
    strings,
)
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.metastore import dag_overview, dags
from tradewind.sdk.serialization import SerializedDAG, SerializedTask
from tradewind.sdk.timetables.datasets import dataset_condition

bp = Blueprint("api_dag_details", __name__, url_prefix=f"{API_PREFIX}/dags/<dag_id>")

TASK_ORDER_FIELDS = ("task_id", "start_date", "end_date", "priority_weight", "retries", "pool", "owner")


@bp.get("/details")
def get_dag_details(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = dags.load_dag(session, dag_id)
    row = dag_overview.get_dag_row(session, dag_id)
    assert row is not None
    answer = dag_json(row, dag.data) | _details(dag, row.last_parsed)
    wanted = arg("fields")
    if wanted:
        unknown = sorted(set(wanted) - set(answer))
        if unknown:
            abort(400, description=f"fields names no field of a DAG's details: {', '.join(unknown)}")
        answer = {name: value for name, value in answer.items() if name in wanted}
    return jsonify(answer)


@bp.get("/tasks")
def get_tasks(dag_id: str) -> ResponseReturnValue:
    dag = dags.load_dag(get_session(), dag_id)
    field, descending = requested_order(TASK_ORDER_FIELDS)
    tasks = [task_json(task) for task in dag.tasks]
    present = sorted((t for t in tasks if t[field] is not None), key=lambda t: t[field], reverse=descending)
    return jsonify(tasks=present + [t for t in tasks if t[field] is None], total_entries=len(tasks))


@bp.get("/tasks/<task_id>")
def get_task(dag_id: str, task_id: str) -> ResponseReturnValue:
    return jsonify(task_json(dags.load_dag(get_session(), dag_id).get_task(task_id)))


def _dataset_expression(dag: SerializedDAG) -> Any:
    """The condition a DAG scheduled on datasets waits on, as Airflow shows it (``{"all": [...]}``,
    ``{"any": [...]}``, ``{"alias": name}``; a single dataset as ``{"any": [uri]}``); None otherwise."""
    condition = dataset_condition(dag.timetable)
    if condition is None:
        return None
    expression = condition.as_expression()
    return expression if isinstance(expression, dict) else {"any": [expression]}


def _details(dag: SerializedDAG, last_parsed: Any) -> dict[str, Any]:
    return {
        "timezone": str(dag.start_date.tzinfo) if dag.start_date is not None and dag.start_date.tzinfo else "UTC",
        "catchup": dag.resolved_catchup(get_settings().catchup_by_default),
        "orientation": dag.orientation,
        "concurrency": dag.max_active_tasks,
        "start_date": iso(dag.start_date),
        "dag_run_timeout": time_delta(dag.dagrun_timeout),
        "dataset_expression": _dataset_expression(dag),
        "doc_md": dag.doc_md,
        "params": dag.data.get("params", {}),
        "end_date": iso(dag.end_date),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "last_parsed": iso(last_parsed),
        "template_search_path": _search_path(dag.template_searchpath),
        "render_template_as_native_obj": dag.render_template_as_native_obj,
    }


def _search_path(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def time_delta(seconds: float | None) -> dict[str, Any] | None:
    """A duration in seconds as Airflow's ``TimeDelta``."""
    if seconds is None:
        return None
    delta = timedelta(seconds=seconds)
    return {"__type": "TimeDelta", "days": delta.days, "seconds": delta.seconds, "microseconds": delta.microseconds}


def task_json(task: SerializedTask) -> dict[str, Any]:
    return {
        "class_ref": {"module_path": task.operator_module, "class_name": task.operator_name},
        "task_id": task.task_id,
        "task_display_name": task.label or task.task_id,
        "owner": task.owner or "airflow",
        "start_date": iso(task.start_date),
        "end_date": iso(task.end_date),
        "trigger_rule": task.trigger_rule,
        "extra_links": [],
        "depends_on_past": bool(task.depends_on_past),
        "is_mapped": bool(task.is_mapped),
        "wait_for_downstream": bool(task.wait_for_downstream),
        "retries": float(task.retries or 0),
        "queue": task.queue,
        "executor": None,
        "pool": task.pool,
        "pool_slots": float(task.pool_slots or 1),
        "execution_timeout": time_delta(task.execution_timeout),
        "retry_delay": time_delta(task.retry_delay),
        "retry_exponential_backoff": bool(task.retry_exponential_backoff),
        "priority_weight": float(task.priority_weight or 1),
        "weight_rule": task.weight_rule or "downstream",
        "ui_color": task.ui_color,
        "ui_fgcolor": task.ui_fgcolor,
        "template_fields": list(task.template_fields),
        "downstream_task_ids": sorted(task.downstream_task_ids),
        "doc_md": task.doc_md,
    }


# --- OpenAPI ---------------------------------------------------------------------------------------

_TRIGGER_RULES = [
    "all_success",
    "all_failed",
    "all_done",
    "all_done_setup_success",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_skipped",
    "none_failed_or_skipped",
    "none_failed_min_one_success",
    "dummy",
    "all_skipped",
    "always",
]
_READ_TIME = date_time(read_only=True)

OPENAPI_SCHEMAS: dict[str, Any] = {
    "DAGDetail": obj(
        {
            **DAG_PROPERTIES,
            "timezone": string(),
            "catchup": boolean(nullable=True, read_only=True),
            "orientation": string(nullable=True, read_only=True),
            "concurrency": number(nullable=True, read_only=True),
            "start_date": _READ_TIME,
            "dag_run_timeout": ref("TimeDelta"),
            "dataset_expression": free_object(
                nullable=True,
                description="The datasets condition the DAG is scheduled on; null for any other schedule.",
            ),
            "doc_md": string(nullable=True, read_only=True),
            "params": free_object(read_only=True, description="The DAG's params: value, description, schema."),
            "end_date": _READ_TIME,
            "is_paused_upon_creation": boolean(nullable=True, read_only=True),
            "last_parsed": _READ_TIME,
            "template_search_path": array(string(), nullable=True),
            "render_template_as_native_obj": boolean(nullable=True, read_only=True),
        }
    ),
    "ClassReference": obj({"module_path": string(read_only=True), "class_name": string(read_only=True)}),
    "Task": obj(
        {
            "class_ref": ref("ClassReference"),
            "task_id": string(read_only=True),
            "task_display_name": string(read_only=True),
            "owner": string(read_only=True),
            "start_date": _READ_TIME,
            "end_date": _READ_TIME,
            "trigger_rule": string(enum=_TRIGGER_RULES),
            "extra_links": array(free_object(), read_only=True, description="Always empty: no extra links."),
            "depends_on_past": boolean(read_only=True),
            "is_mapped": boolean(read_only=True),
            "wait_for_downstream": boolean(read_only=True),
            "retries": number(read_only=True),
            "queue": string(nullable=True, read_only=True),
            "executor": string(nullable=True, read_only=True),
            "pool": string(read_only=True),
            "pool_slots": number(read_only=True),
            "execution_timeout": ref("TimeDelta"),
            "retry_delay": ref("TimeDelta"),
            "retry_exponential_backoff": boolean(read_only=True),
            "priority_weight": number(read_only=True),
            "weight_rule": string(enum=["downstream", "upstream", "absolute"]),
            "ui_color": string(),
            "ui_fgcolor": string(),
            "template_fields": array(string(), read_only=True),
            "sub_dag": ref("DAG"),
            "downstream_task_ids": array(string(), read_only=True),
            "doc_md": string(nullable=True, read_only=True),
        }
    ),
    "TaskCollection": obj({"tasks": array(ref("Task")), "total_entries": integer()}),
}

_DAG_ID = path_param("dag_id")

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dags/{{dag_id}}/details": {
        "parameters": [_DAG_ID],
        "get": operation(
            "get_dag_details",
            "A DAG's settings as last parsed",
            "DAG",
            ok="DAGDetail",
            params=(strings("fields", "Answer only these fields."),),
            errors=(NOT_FOUND,),
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/tasks": {
        "parameters": [_DAG_ID],
        "get": operation(
            "get_tasks",
            "A DAG's tasks",
            "DAG",
            ok="TaskCollection",
            params=(order_by(TASK_ORDER_FIELDS, "task_id"),),
            errors=(("400", "A bad order_by."), NOT_FOUND),
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/tasks/{{task_id}}": {
        "parameters": [_DAG_ID, path_param("task_id")],
        "get": operation("get_task", "One task of a DAG", "DAG", ok="Task", errors=(NOT_FOUND,)),
    },
}
