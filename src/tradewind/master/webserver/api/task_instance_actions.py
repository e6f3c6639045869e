"""``/api/v1/dags/<dag_id>/clearTaskInstances`` and ``/updateTaskInstancesState``: clear or mark many
task instances at once, through ``tradewind.actions`` as the pages do.

Both are dry runs unless the body says ``"dry_run": false``, and a clear takes only failed task
instances unless it says ``"only_failed": false`` — Airflow's defaults. They answer references to
the task instances they change (or would change); tradewind adds each one's ``map_index``, its
``state`` and ``new_state``, and ``dry_run``, ``total_entries`` and (when applied) ``changed``.
There are no SubDAGs: ``include_subdags`` and ``include_parentdag`` change nothing, and a cleared
run always goes back to queued (``reset_dag_runs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.actions.plan import ActionOptions, ActionPlan
from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import body, parse_timestamp
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    FORBIDDEN,
    NOT_FOUND,
    array,
    boolean,
    date_time,
    integer,
    obj,
    operation,
    path_param,
    ref,
    string,
)
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.actions import preview, run_action
from tradewind.metastore import clearing

bp = Blueprint("api_task_instance_actions", __name__, url_prefix=f"{API_PREFIX}/dags/<dag_id>")


@bp.post("/clearTaskInstances")
@require_role("Op")
def post_clear_task_instances(dag_id: str) -> ResponseReturnValue:
    form = body()
    task_ids, map_indexes = _task_ids_and_map_indexes(form.get("task_ids"))
    run_id = form.get("dag_run_id")
    start, end = (_time(form, name) for name in ("start_date", "end_date"))
    if run_id is not None and (start or end):
        abort(400, description="give dag_run_id or start_date/end_date, not both")
    options = ActionOptions(
        task_ids=task_ids,
        run_id=run_id,
        start=start,
        end=end,
        map_indexes=map_indexes,
        upstream=form.get("include_upstream", False),
        downstream=form.get("include_downstream", False),
        past=form.get("include_past", False),
        future=form.get("include_future", False),
        only_failed=form.get("only_failed", True),
        only_running=form.get("only_running", False),
    )
    if options.only_failed and options.only_running:
        abort(400, description="only_failed and only_running cannot both be true")
    return _act(dag_id, "clear", options, dry_run=form.get("dry_run", True))


@bp.post("/updateTaskInstancesState")
@require_role("Op")
def post_set_task_instances_state(dag_id: str) -> ResponseReturnValue:
    form = body()
    if "task_id" not in form or "new_state" not in form:
        abort(400, description="task_id and new_state are needed")
    run_id = form.get("dag_run_id")
    if run_id is None and form.get("execution_date") is None:
        abort(400, description="dag_run_id or execution_date is needed")
    if run_id is None:
        at = parse_timestamp(form["execution_date"], "execution_date")
        found = [r for r in clearing.runs_between(get_session(), dag_id, start=at, end=at)]
        if not found:
            abort(404, description=f"DAG {dag_id!r} has no run at {at.isoformat()}")
        run_id = found[0].run_id
    options = ActionOptions(
        task_ids=(form["task_id"],),
        run_id=run_id,
        upstream=form.get("include_upstream", False),
        downstream=form.get("include_downstream", False),
        past=form.get("include_past", False),
        future=form.get("include_future", False),
    )
    return _act(dag_id, form["new_state"], options, dry_run=form.get("dry_run", True))


def _time(form: dict[str, Any], name: str) -> datetime | None:
    value = form.get(name)
    return parse_timestamp(value, name) if value is not None else None


def _task_ids_and_map_indexes(value: Any) -> tuple[tuple[str, ...] | None, tuple[tuple[str, int], ...]]:
    """Airflow's ``task_ids``: task ids, or ``[task_id, map_index]`` pairs for mapped task instances."""
    if not value:
        return None, ()
    for item in value:
        if not isinstance(item, str) and not (isinstance(item[0], str) and type(item[1]) is int):
            abort(400, description=f"task_ids: {item!r} is not a task id nor a [task_id, map_index] pair")
    pairs = tuple((t[0], t[1]) for t in value if not isinstance(t, str))
    whole = {t for t in value if isinstance(t, str)}
    if whole & {task_id for task_id, _ in pairs}:
        abort(400, description="task_ids names a task both whole and by map index")
    ids = tuple(dict.fromkeys(t if isinstance(t, str) else t[0] for t in value))
    return ids, pairs


def _act(dag_id: str, kind: str, options: ActionOptions, *, dry_run: bool) -> ResponseReturnValue:
    if dry_run:
        return jsonify(_references(dag_id, preview(dag_id, kind, options)) | {"dry_run": True})
    plan, changed = run_action(dag_id, kind, options, source="api")
    return jsonify(_references(dag_id, plan) | {"dry_run": False, "changed": changed})


def _references(dag_id: str, plan: ActionPlan) -> dict[str, Any]:
    dates = {run.run_id: run.logical_date for run in clearing.runs_between(get_session(), dag_id, run_ids=plan.run_ids)}
    return {
        "task_instances": [
            {
                "task_id": c.task_id,
                "dag_id": dag_id,
                "execution_date": iso(dates.get(c.run_id)),
                "dag_run_id": c.run_id,
                "map_index": c.map_index,
                "state": c.from_state,
                "new_state": c.to_state,
            }
            for c in plan.changes
        ],
        "total_entries": len(plan.changes),
    }


# --- OpenAPI ---------------------------------------------------------------------------------------

_TASK_ID_OR_PAIR = {
    "anyOf": [
        string(),
        {"type": "array", "items": {"anyOf": [string(), integer()]}, "minItems": 2, "maxItems": 2},
    ],
    "description": "A task id, or [task_id, map_index] for one mapped task instance.",
}
_INCLUDE = {
    f"include_{which}": boolean(default=False, description=f"Also the {what}.")
    for which, what in (
        ("upstream", "tasks upstream of the chosen ones"),
        ("downstream", "tasks downstream of the chosen ones"),
        ("future", "runs after the chosen one"),
        ("past", "runs before the chosen one"),
    )
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "ClearTaskInstances": obj(
        {
            "dry_run": boolean(default=True, description="Only answer what the clear would reset."),
            "task_ids": {**array(_TASK_ID_OR_PAIR), "minItems": 1},
            "start_date": date_time(nullable=False, description="Only runs at or after this logical date."),
            "end_date": date_time(nullable=False, description="Only runs at or before this logical date."),
            "only_failed": boolean(default=True, description="Only failed and upstream_failed task instances."),
            "only_running": boolean(default=False, description="Only running task instances."),
            "include_subdags": boolean(description="Changes nothing: no SubDAGs."),
            "include_parentdag": boolean(description="Changes nothing: no SubDAGs."),
            "reset_dag_runs": boolean(description="Changes nothing: a cleared run always goes back to queued."),
            "dag_run_id": string(nullable=True, description="Only this run (and, with include_past/future, more)."),
            **_INCLUDE,
        }
    ),
    "UpdateTaskInstancesState": obj(
        {
            "dry_run": boolean(default=True, description="Only answer what would change."),
            "task_id": string(),
            "execution_date": date_time(nullable=False, description="The run, by logical date (or dag_run_id)."),
            "dag_run_id": string(),
            **_INCLUDE,
            "new_state": string(enum=["success", "failed", "skipped"]),
        }
    ),
    "TaskInstanceChange": obj(
        {
            "task_id": string(),
            "dag_id": string(),
            "execution_date": date_time(),
            "dag_run_id": string(),
            "map_index": integer(description="tradewind: the mapped task instance, or -1."),
            "state": string(description="tradewind: its state now."),
            "new_state": string(description="tradewind: the state it gets."),
        }
    ),
    "TaskInstanceReferenceCollection": obj(
        {
            "task_instances": array(ref("TaskInstanceChange")),
            "total_entries": integer(description="tradewind: how many task instances."),
            "dry_run": boolean(description="tradewind: whether nothing was changed."),
            "changed": integer(description="tradewind: how many were changed (0 if another action came first)."),
        }
    ),
}

_DAG_ID = path_param("dag_id")
_ERRORS = (BAD_REQUEST, FORBIDDEN, NOT_FOUND)

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dags/{{dag_id}}/clearTaskInstances": {
        "parameters": [_DAG_ID],
        "post": operation(
            "post_clear_task_instances",
            "Clear task instances (Op); a dry run of only the failed ones by default",
            "TaskInstance",
            ok="TaskInstanceReferenceCollection",
            body="ClearTaskInstances",
            errors=_ERRORS,
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/updateTaskInstancesState": {
        "parameters": [_DAG_ID],
        "post": operation(
            "post_set_task_instances_state",
            "Mark a task's instances success, failed or skipped (Op); a dry run by default",
            "TaskInstance",
            ok="TaskInstanceReferenceCollection",
            body="UpdateTaskInstancesState",
            errors=_ERRORS,
        ),
    },
}
