"""``/api/v1/dags/<dag_id>/dagRuns`` and their task instances: list, read, trigger, set state, clear,
delete, logs and XComs.

Clears and marks go through ``actions.apply`` as the pages do; ``dry_run`` answers with the
same plan the pages preview, and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.actions.plan import ActionOptions, ActionPlan
from tradewind.actions.wake import wake_schedulers
from tradewind.errors import TaskNotFound
from tradewind.master.webserver.api import (
    API_PREFIX,
    LIMIT_PARAMETER,
    OFFSET_PARAMETER,
    json_object,
    page_args,
    problem_response,
    query_bool,
    query_int,
)
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.views.actions import preview, run_action
from tradewind.metastore import logs, runs, task_instances, xcoms
from tradewind.metastore.column_limits import INT32
from tradewind.metastore.dags import load_dag
from tradewind.metastore.models import DagRun, TaskInstance
from tradewind.states import DagRunState

bp = Blueprint("api_dag_runs", __name__, url_prefix=f"{API_PREFIX}/dags/<dag_id>")

RUN_STATES = ("success", "failed", "queued")


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        abort(400, description=f"{name} must be true or false, not {value!r}")
    return value


def _username() -> str:
    user = current_user()
    assert user is not None
    return user.username


# --- runs ------------------------------------------------------------------------------------------


@bp.get("/dagRuns")
def list_dag_runs(dag_id: str) -> ResponseReturnValue:
    limit, offset = page_args()
    state = request.args.get("state") or None
    if state is not None and state not in {s.value for s in DagRunState}:
        abort(400, description=f"state must be one of {', '.join(s.value for s in DagRunState)}, not {state!r}")
    rows = runs.list_runs(get_session(), dag_id, states=[state] if state else None)
    return jsonify(dag_runs=[run_json(run) for run in rows[offset : offset + limit]], total_entries=len(rows))


@bp.get("/dagRuns/<dag_run_id>")
def get_dag_run(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    return jsonify(run_json(runs.get_run(get_session(), dag_id, dag_run_id)))


@bp.post("/dagRuns")
@require_role("Op")
def trigger_dag_run(dag_id: str) -> ResponseReturnValue:
    body = json_object()
    conf = body.get("conf") or {}
    if not isinstance(conf, dict):
        abort(400, description="conf must be a JSON object")
    run_id = body.get("dag_run_id")
    if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
        abort(400, description="dag_run_id must be a non-empty string")
    logical_date = None
    if body.get("logical_date") is not None:
        try:
            logical_date = datetime.fromisoformat(str(body["logical_date"]))
        except ValueError:
            abort(400, description=f"logical_date must be an ISO 8601 date-time, not {body['logical_date']!r}")
    session = get_session()
    run = actions.trigger_dag(
        session, dag_id, conf=conf, run_id=run_id, logical_date=logical_date, owner=_username(), source="api"
    )
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, [run.run_id])
    return jsonify(run_json(run))


@bp.patch("/dagRuns/<dag_run_id>")
@require_role("Op")
def set_dag_run_state(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    state = json_object().get("state")
    if state not in RUN_STATES:
        abort(400, description=f"state must be one of {', '.join(RUN_STATES)}, not {state!r}")
    session = get_session()
    actions.set_run_state(session, dag_id, dag_run_id, state, owner=_username(), source="api")
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, [dag_run_id])
    return jsonify(run_json(runs.get_run(session, dag_id, dag_run_id)))


@bp.delete("/dagRuns/<dag_run_id>")
@require_role("Op")
def delete_dag_run(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    """As Airflow: 204 and no body; 404 when there is no such run."""
    session = get_session()
    actions.delete_run(session, dag_id, dag_run_id, owner=_username(), source="api")
    session.commit()
    # A deleted running try frees its pool slot and its run's place under max_active_runs.
    wake_schedulers(get_settings().broker_url, dag_id, [])
    return Response(status=204)


@bp.post("/dagRuns/<dag_run_id>/clear")
@require_role("Op")
def clear_dag_run(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    body = json_object()
    runs.get_run(get_session(), dag_id, dag_run_id)
    options = ActionOptions(run_id=dag_run_id, only_failed=_bool(body, "only_failed", False))
    return _act(dag_id, "clear", options, dry_run=_bool(body, "dry_run", True))


@bp.post("/clearTaskInstances")
@require_role("Op")
def clear_task_instances(dag_id: str) -> ResponseReturnValue:
    body = json_object()
    task_ids, map_indexes = _task_ids_and_map_indexes(body.get("task_ids"))
    run_id = body.get("dag_run_id")
    if run_id is not None and not isinstance(run_id, str):
        abort(400, description="dag_run_id must be a string")
    options = ActionOptions(
        task_ids=task_ids,
        run_id=run_id,
        map_indexes=map_indexes,
        upstream=_bool(body, "include_upstream", False),
        downstream=_bool(body, "include_downstream", False),
        past=_bool(body, "include_past", False),
        future=_bool(body, "include_future", False),
        only_failed=_bool(body, "only_failed", False),
    )
    return _act(dag_id, "clear", options, dry_run=_bool(body, "dry_run", True))


def _task_ids_and_map_indexes(value: Any) -> tuple[tuple[str, ...] | None, tuple[tuple[str, int], ...]]:
    """Airflow's ``task_ids``: task ids, or ``[task_id, map_index]`` pairs for mapped task instances."""
    if value is None or value == []:
        return None, ()

    def is_pair(item: Any) -> bool:
        return (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and not isinstance(item[1], bool)
        )

    if not isinstance(value, list) or not all(isinstance(t, str) or is_pair(t) for t in value):
        abort(400, description="task_ids must be a list of task ids or [task_id, map_index] pairs")
    pairs = tuple((t[0], t[1]) for t in value if not isinstance(t, str))
    whole = {t for t in value if isinstance(t, str)}
    if whole & {task_id for task_id, _ in pairs}:
        abort(400, description="task_ids names a task both whole and by map index")
    ids = tuple(dict.fromkeys(t if isinstance(t, str) else t[0] for t in value))
    return ids, pairs


def _act(dag_id: str, kind: str, options: ActionOptions, *, dry_run: bool) -> ResponseReturnValue:
    if dry_run:
        return jsonify(plan_json(dag_id, preview(dag_id, kind, options), dry_run=True))
    plan, changed = run_action(dag_id, kind, options, source="api")
    return jsonify(plan_json(dag_id, plan, dry_run=False) | {"changed": changed})


def plan_json(dag_id: str, plan: ActionPlan, *, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "task_instances": [
            {
                "dag_id": dag_id,
                "dag_run_id": c.run_id,
                "task_id": c.task_id,
                "map_index": c.map_index,
                "state": c.from_state,
                "new_state": c.to_state,
            }
            for c in plan.changes
        ],
        "total_entries": len(plan.changes),
    }


# --- task instances -------------------------------------------------------------------------------


@bp.get("/dagRuns/<dag_run_id>/taskInstances")
def list_task_instances(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    session = get_session()
    runs.get_run(session, dag_id, dag_run_id)
    rows = task_instances.get_tis(session, dag_id, dag_run_id)
    return jsonify(task_instances=[ti_json(ti) for ti in rows], total_entries=len(rows))


def _ti(dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> TaskInstance:
    session = get_session()
    runs.get_run(session, dag_id, run_id)
    if map_index is None:
        map_index = query_int("map_index", -1, minimum=-1)
    ti = task_instances.get_ti(session, dag_id, run_id, task_id, map_index)
    if ti is None:
        which = f" with map index {map_index}" if map_index >= 0 else ""
        raise TaskNotFound(f"run {run_id!r} of {dag_id!r} has no task instance {task_id!r}{which}")
    return ti


@bp.get("/dagRuns/<dag_run_id>/taskInstances/<task_id>")
def get_task_instance(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    return jsonify(ti_json(_ti(dag_id, dag_run_id, task_id)))


@bp.get("/dagRuns/<dag_run_id>/taskInstances/<task_id>/<map_index>")
def get_mapped_task_instance(dag_id: str, dag_run_id: str, task_id: str, map_index: str) -> ResponseReturnValue:
    """One mapped task instance (Airflow's ``get_mapped_task_instance``)."""
    # A string in the route, so that a bad map index is a 404 after the login check, not before it.
    if not map_index.isdigit() or int(map_index) > INT32[1]:
        abort(404, description=f"map_index must be a whole number up to {INT32[1]}, not {map_index[:30]!r}")
    return jsonify(ti_json(_ti(dag_id, dag_run_id, task_id, int(map_index))))


@bp.get("/dagRuns/<dag_run_id>/taskInstances/<task_id>/listMapped")
def list_mapped_task_instances(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    """The task instances of a mapped task by map index (``?state``, ``limit``, ``offset``), as
    Airflow's ``get_mapped_task_instances``; 404 for a task that is not mapped."""
    session = get_session()
    dag = load_dag(session, dag_id)
    if not dag.has_task(task_id):
        raise TaskNotFound(f"DAG {dag_id!r} has no task {task_id!r}")
    if not getattr(dag.get_task(task_id), "is_mapped", False):
        abort(404, description=f"task {task_id!r} of DAG {dag_id!r} is not mapped")
    runs.get_run(session, dag_id, dag_run_id)
    limit, offset = page_args()
    states = set(request.args.getlist("state"))
    rows = [
        ti
        for ti in task_instances.get_tis(session, dag_id, dag_run_id)
        if ti.task_id == task_id and ti.map_index >= 0 and (not states or ti.state in states)
    ]
    return jsonify(task_instances=[ti_json(ti) for ti in rows[offset : offset + limit]], total_entries=len(rows))


@bp.patch("/dagRuns/<dag_run_id>/taskInstances/<task_id>")
@require_role("Op")
def set_task_instance_state(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    body = json_object()
    state = body.get("new_state")
    if state not in ("success", "failed"):
        abort(400, description=f"new_state must be success or failed, not {state!r}")
    ti = _ti(dag_id, dag_run_id, task_id)
    options = ActionOptions(
        task_ids=(task_id,),
        run_id=dag_run_id,
        map_index=ti.map_index,
        upstream=_bool(body, "include_upstream", False),
        downstream=_bool(body, "include_downstream", False),
        past=_bool(body, "include_past", False),
        future=_bool(body, "include_future", False),
    )
    return _act(dag_id, state, options, dry_run=_bool(body, "dry_run", False))


@bp.get("/dagRuns/<dag_run_id>/taskInstances/<task_id>/logs/<try_number>")
def get_log(dag_id: str, dag_run_id: str, task_id: str, try_number: str) -> ResponseReturnValue:
    ti = _ti(dag_id, dag_run_id, task_id)
    # A string in the route, so that a bad try number is a 404 after the login check, not before it.
    number = int(try_number) if try_number.isdigit() else 0
    if number < 1 or number > max(ti.try_number, 1):
        abort(404, description=f"{task_id!r} has no try {try_number!r} (it is at try {ti.try_number})")
    key = task_instances.TIKey(dag_id, dag_run_id, task_id, ti.map_index)
    text, last_seq = logs.read_log(get_session(), key, number)
    if query_bool("full_content") is not None or request.accept_mimetypes.best == "application/json":
        return jsonify(content=text, continuation_token=str(last_seq))
    return Response(text, mimetype="text/plain")


@bp.get("/dagRuns/<dag_run_id>/taskInstances/<task_id>/xcomEntries")
def list_xcom_entries(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    ti = _ti(dag_id, dag_run_id, task_id)
    rows = [x for x in xcoms.list_xcoms(get_session(), dag_id, dag_run_id, task_id) if x.map_index == ti.map_index]
    return jsonify(
        xcom_entries=[
            {
                "key": x.key,
                "value": x.value,
                "map_index": x.map_index,
                "task_id": x.task_id,
                "dag_id": dag_id,
                "dag_run_id": dag_run_id,
                "timestamp": _iso(x.timestamp),
            }
            for x in rows
        ],
        total_entries=len(rows),
    )


def run_json(run: DagRun) -> dict[str, Any]:
    return {
        "dag_id": run.dag_id,
        "dag_run_id": run.run_id,
        "run_type": run.run_type,
        "state": run.state,
        "logical_date": _iso(run.logical_date),
        "data_interval_start": _iso(run.data_interval_start),
        "data_interval_end": _iso(run.data_interval_end),
        "conf": run.conf or {},
        "external_trigger": run.external_trigger,
        "queued_at": _iso(run.queued_at),
        "start_date": _iso(run.start_date),
        "end_date": _iso(run.end_date),
    }


def ti_json(ti: TaskInstance) -> dict[str, Any]:
    return {
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "operator": ti.operator,
        "queued_when": _iso(ti.queued_dttm),
        "start_date": _iso(ti.start_date),
        "end_date": _iso(ti.end_date),
        "duration": ti.duration,
        "hostname": ti.hostname,
        "pid": ti.pid,
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "queue": ti.queue,
        "priority_weight": ti.priority_weight,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# --- OpenAPI ---------------------------------------------------------------------------------------

_P = f"{API_PREFIX}/dags/{{dag_id}}"
_PATH = {"name": "dag_id", "in": "path", "required": True, "schema": {"type": "string"}}
_RUN = {"name": "dag_run_id", "in": "path", "required": True, "schema": {"type": "string"}}
_TASK = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
_TRY = {"name": "try_number", "in": "path", "required": True, "schema": {"type": "integer"}}
_MAP = {"name": "map_index", "in": "path", "required": True, "schema": {"type": "integer"}}
_OBJ = {"application/json": {"schema": {"type": "object"}}}
_TEXT = {"text/plain": {"schema": {"type": "string"}}, **_OBJ}


def _op(
    op_id: str,
    summary: str,
    params: list[dict[str, Any]],
    *,
    body: bool = False,
    text: bool = False,
    write: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": _TEXT if text else _OBJ},
        "401": problem_response("No or invalid credentials."),
        "404": problem_response("No such DAG, run or task instance."),
    }
    if body or write:
        responses["400"] = problem_response("Bad input.")
    if write:
        responses["403"] = problem_response("Needs the Op role.")
        responses["409"] = problem_response("Already exists.")
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": ["DAGRun"],
        "parameters": params,
        "responses": responses,
    }
    if body:
        operation["requestBody"] = {"required": True, "content": _OBJ}
    return operation


OPENAPI_PATHS: dict[str, Any] = {
    f"{_P}/dagRuns": {
        "get": _op(
            "get_dag_runs",
            "List a DAG's runs (?state)",
            [
                _PATH,
                LIMIT_PARAMETER,
                OFFSET_PARAMETER,
                {"name": "state", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
        ),
        "post": _op("post_dag_run", "Trigger a run", [_PATH], body=True, write=True),
    },
    f"{_P}/dagRuns/{{dag_run_id}}": {
        "get": _op("get_dag_run", "Read a run", [_PATH, _RUN]),
        "patch": _op(
            "update_dag_run_state", "Set a run's state (success, failed, queued)", [_PATH, _RUN], body=True, write=True
        ),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/clear": {
        "post": _op("clear_dag_run", "Clear a run (dry_run by default)", [_PATH, _RUN], body=True, write=True),
    },
    f"{_P}/clearTaskInstances": {
        "post": _op(
            "post_clear_task_instances", "Clear task instances (dry_run by default)", [_PATH], body=True, write=True
        ),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/taskInstances": {
        "get": _op("get_task_instances", "List a run's task instances", [_PATH, _RUN]),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}": {
        "get": _op("get_task_instance", "Read a task instance", [_PATH, _RUN, _TASK]),
        "patch": _op(
            "patch_task_instance", "Mark a task instance success or failed", [_PATH, _RUN, _TASK], body=True, write=True
        ),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/listMapped": {
        "get": _op(
            "get_mapped_task_instances",
            "List a mapped task's task instances (?state)",
            [
                _PATH,
                _RUN,
                _TASK,
                LIMIT_PARAMETER,
                OFFSET_PARAMETER,
                {"name": "state", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
        ),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/{{map_index}}": {
        "get": _op("get_mapped_task_instance", "Read one mapped task instance", [_PATH, _RUN, _TASK, _MAP]),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/logs/{{try_number}}": {
        "get": _op("get_log", "A try's log (text, or JSON with ?full_content)", [_PATH, _RUN, _TASK, _TRY], text=True),
    },
    f"{_P}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/xcomEntries": {
        "get": _op("get_xcom_entries", "A task instance's XComs", [_PATH, _RUN, _TASK]),
    },
}
