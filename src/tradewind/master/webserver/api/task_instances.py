"""``/api/v1/dags/<dag_id>/dagRuns/<run_id>/taskInstances``: list (``~`` for every DAG or run, and the
``~/taskInstances/list`` batch query), read, mark, note, and the tries of task instances.

Marks go through ``tradewind.actions`` as the pages' do; a ``PATCH`` is a dry run unless it says
``"dry_run": false``, as in Airflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.actions.plan import ActionOptions
from tradewind.decisions.task_dependencies import unmet_dependencies
from tradewind.errors import TaskNotFound
from tradewind.master.webserver.api import API_PREFIX, task_instance_json
from tradewind.master.webserver.api.request_check import (
    arg,
    body,
    parse_timestamp,
    requested_order,
    sorted_page,
)
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    FORBIDDEN,
    NOT_FOUND,
    PAGE,
    array,
    boolean,
    date_time,
    integer,
    number,
    obj,
    operation,
    order_by,
    path_param,
    query_param,
    string,
    strings,
)
from tradewind.master.webserver.api.task_instance_json import TI_STATES, reference_json, ti_json, try_json
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.actions import run_action
from tradewind.metastore import dags, runs, searches, task_instances
from tradewind.metastore.models import TaskInstance
from tradewind.scheduling.task_standing import read_standing
from tradewind.states import TaskInstanceState

bp = Blueprint("api_task_instances", __name__, url_prefix=f"{API_PREFIX}/dags")

ALL = "~"
_RUN = "/<dag_id>/dagRuns/<dag_run_id>/taskInstances"
DATE_FILTERS = {"execution_date": "logical_date", "start_date": "start_date", "end_date": "end_date"}
MAPPED_ORDER = ("map_index", "state", "start_date", "end_date", "duration", "try_number", "pool", "queue")
MARK_STATES = ["success", "failed", "skipped"]


@bp.get(_RUN)
def get_task_instances(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    if dag_id != ALL and dag_run_id != ALL:
        runs.get_run(get_session(), dag_id, dag_run_id)
    search = ti_search(
        {name: arg(name) for name in _query_filter_names()},
        any_of={
            "dag_id": None if dag_id == ALL else [dag_id],
            "run_id": None if dag_run_id == ALL else [dag_run_id],
        },
        limit=arg("limit"),
        offset=arg("offset"),
    )
    return _answer(search)


@bp.post("/~/dagRuns/~/taskInstances/list")
def get_task_instances_batch() -> ResponseReturnValue:
    form = body()
    search = ti_search(
        form,
        any_of={"dag_id": form.get("dag_ids"), "run_id": form.get("dag_run_ids"), "task_id": form.get("task_ids")},
        limit=form.get("page_limit", 100),
        offset=form.get("page_offset", 0),
    )
    return _answer(search)


@bp.get(f"{_RUN}/<task_id>/listMapped")
def get_mapped_task_instances(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    """A mapped task's task instances by map index; 404 for a task that is not mapped."""
    session = get_session()
    dag = dags.load_dag(session, dag_id)
    if not dag.get_task(task_id).is_mapped:
        abort(404, description=f"task {task_id!r} of DAG {dag_id!r} is not mapped")
    runs.get_run(session, dag_id, dag_run_id)
    order = arg("order_by")
    requested_order(MAPPED_ORDER)
    search = ti_search(
        {name: arg(name) for name in _query_filter_names()},
        any_of={"dag_id": [dag_id], "run_id": [dag_run_id], "task_id": [task_id]},
        limit=arg("limit"),
        offset=arg("offset"),
        order=order,
        mapped_only=True,
    )
    return _answer(search)


def _answer(search: searches.Search) -> ResponseReturnValue:
    rows, total = searches.search_task_instances(get_session(), search)
    return jsonify(task_instances=[ti_json(ti, logical_date) for ti, logical_date in rows], total_entries=total)


def _query_filter_names() -> list[str]:
    ranges = [*DATE_FILTERS, "updated_at", "duration"]
    return [f"{name}_{end}" for name in ranges for end in ("gte", "lte")] + ["state", "pool", "queue", "executor"]


def ti_search(
    values: Mapping[str, Any],
    *,
    any_of: Mapping[str, list[str] | None],
    limit: int,
    offset: int,
    order: str | None = None,
    mapped_only: bool = False,
) -> searches.Search:
    """The search a list request describes (query parameters or a batch form, by the same names)."""
    spans = {
        column: searches.Span(_time(values, f"{name}_gte"), _time(values, f"{name}_lte"))
        for name, column in {**DATE_FILTERS, "updated_at": "updated_at"}.items()
    }
    spans["duration"] = searches.Span(values.get("duration_gte"), values.get("duration_lte"))
    if mapped_only:
        spans["map_index"] = searches.Span(0, None)
    chosen: dict[str, list[Any]] = {name: list(found) for name, found in any_of.items() if found is not None}
    if values.get("state"):
        chosen["state"] = [state or TaskInstanceState.NONE.value for state in values["state"]]
    for name in ("pool", "queue"):
        if values.get(name):
            chosen[name] = list(values[name])
    if values.get("executor"):
        chosen["task_id"] = []  # no task instance names an executor of its own
    return searches.Search(spans=spans, any_of=chosen, order=order, limit=limit, offset=offset)


def _time(values: Mapping[str, Any], name: str) -> datetime | None:
    value = values.get(name)
    return parse_timestamp(value, name) if isinstance(value, str) else value


def find_ti(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> tuple[TaskInstance, datetime]:
    """The task instance and its run's logical date; 404 naming what is missing."""
    session = get_session()
    run = runs.get_run(session, dag_id, run_id)
    ti = task_instances.get_ti(session, dag_id, run_id, task_id, map_index)
    if ti is None:
        which = f" with map index {map_index}" if map_index >= 0 else ""
        raise TaskNotFound(f"run {run_id!r} of {dag_id!r} has no task instance {task_id!r}{which}")
    return ti, run.logical_date


# Map indexes and try numbers are strings in the routes, so that a bad one is a 400 from request_check
# after the login check, not a 404 before it.


@bp.get(f"{_RUN}/<task_id>")
def get_task_instance(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    return jsonify(ti_json(*find_ti(dag_id, dag_run_id, task_id)))


@bp.get(f"{_RUN}/<task_id>/<map_index>")
def get_mapped_task_instance(dag_id: str, dag_run_id: str, task_id: str, map_index: str) -> ResponseReturnValue:
    return jsonify(ti_json(*find_ti(dag_id, dag_run_id, task_id, int(map_index))))


@bp.patch(f"{_RUN}/<task_id>")
@require_role("Op")
def patch_task_instance(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    return _mark_one(dag_id, dag_run_id, task_id, -1)


@bp.patch(f"{_RUN}/<task_id>/<map_index>")
@require_role("Op")
def patch_mapped_task_instance(dag_id: str, dag_run_id: str, task_id: str, map_index: str) -> ResponseReturnValue:
    return _mark_one(dag_id, dag_run_id, task_id, int(map_index))


def _mark_one(dag_id: str, run_id: str, task_id: str, map_index: int) -> ResponseReturnValue:
    """Set one task instance's state (unless a dry run); answers a reference to it, as Airflow."""
    form = body()
    ti, logical_date = find_ti(dag_id, run_id, task_id, map_index)
    if not form.get("dry_run", True):
        if "new_state" not in form:
            abort(400, description="new_state is needed: success, failed or skipped")
        options = ActionOptions(task_ids=(task_id,), run_id=run_id, map_index=ti.map_index)
        run_action(dag_id, form["new_state"], options, source="api")
    return jsonify(reference_json(dag_id, run_id, task_id, logical_date))


@bp.patch(f"{_RUN}/<task_id>/setNote")
@require_role("Op")
def set_task_instance_note(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    return _note(dag_id, dag_run_id, task_id, -1)


@bp.patch(f"{_RUN}/<task_id>/<map_index>/setNote")
@require_role("Op")
def set_mapped_task_instance_note(dag_id: str, dag_run_id: str, task_id: str, map_index: str) -> ResponseReturnValue:
    return _note(dag_id, dag_run_id, task_id, int(map_index))


def _note(dag_id: str, run_id: str, task_id: str, map_index: int) -> ResponseReturnValue:
    session = get_session()
    note = body()["note"]
    actions.set_note(
        session, dag_id, run_id, note, task_id=task_id, map_index=map_index, owner=current_username(), source="api"
    )
    session.commit()
    return jsonify(ti_json(*find_ti(dag_id, run_id, task_id, map_index)))


@bp.get(f"{_RUN}/<task_id>/tries")
def get_task_instance_tries(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    return _tries(dag_id, dag_run_id, task_id, -1)


@bp.get(f"{_RUN}/<task_id>/<map_index>/tries")
def get_mapped_task_instance_tries(dag_id: str, dag_run_id: str, task_id: str, map_index: str) -> ResponseReturnValue:
    return _tries(dag_id, dag_run_id, task_id, int(map_index))


def _tries(dag_id: str, run_id: str, task_id: str, map_index: int) -> ResponseReturnValue:
    ti, _ = find_ti(dag_id, run_id, task_id, map_index)
    key = task_instances.TIKey(dag_id, run_id, task_id, map_index)
    tries = [try_json(t, ti) for t in task_instances.list_tries(get_session(), key)]
    order = ("try_number", "start_date", "end_date", "duration", "state")
    return jsonify(task_instances_history=sorted_page(tries, order), total_entries=len(tries))


@bp.get(f"{_RUN}/<task_id>/tries/<task_try_number>")
def get_task_instance_try_details(
    dag_id: str, dag_run_id: str, task_id: str, task_try_number: int
) -> ResponseReturnValue:
    return _try(dag_id, dag_run_id, task_id, -1, int(task_try_number))


@bp.get(f"{_RUN}/<task_id>/<map_index>/tries/<task_try_number>")
def get_mapped_task_instance_try_details(
    dag_id: str, dag_run_id: str, task_id: str, map_index: str, task_try_number: str
) -> ResponseReturnValue:
    return _try(dag_id, dag_run_id, task_id, int(map_index), int(task_try_number))


def _try(dag_id: str, run_id: str, task_id: str, map_index: int, number: int) -> ResponseReturnValue:
    ti, _ = find_ti(dag_id, run_id, task_id, map_index)
    key = task_instances.TIKey(dag_id, run_id, task_id, map_index)
    found = next((t for t in task_instances.list_tries(get_session(), key) if t.try_number == number), None)
    if found is None:
        abort(404, description=f"task instance {task_id!r} has no recorded try {number} (it is at try {ti.try_number})")
    return jsonify(try_json(found, ti))


@bp.get(f"{_RUN}/<task_id>/links")
def get_extra_links(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    """tradewind's operators define no extra links."""
    find_ti(dag_id, dag_run_id, task_id, arg("map_index"))
    return jsonify(extra_links=[])


@bp.get(f"{_RUN}/<task_id>/dependencies")
def get_task_instance_dependencies(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    return _dependencies(dag_id, dag_run_id, task_id, -1)


@bp.get(f"{_RUN}/<task_id>/<map_index>/dependencies")
def get_mapped_task_instance_dependencies(
    dag_id: str, dag_run_id: str, task_id: str, map_index: str
) -> ResponseReturnValue:
    return _dependencies(dag_id, dag_run_id, task_id, int(map_index))


def _dependencies(dag_id: str, run_id: str, task_id: str, map_index: int) -> ResponseReturnValue:
    """Why the task instance is not queued, as ``tradewind tasks failed-deps`` says it: each unmet
    dependency's name and reason (none: it may run)."""
    session = get_session()
    standing = read_standing(session, dag_id, runs.get_run(session, dag_id, run_id), task_id, map_index)
    unmet = unmet_dependencies(standing, datetime.now(UTC))
    return jsonify(dependencies=[{"name": d.name, "reason": d.reason} for d in unmet])


# --- OpenAPI ---------------------------------------------------------------------------------------

_FILTER_PARAMS = (
    *(
        query_param(f"{name}_{end}", date_time(nullable=False))
        for name in (*DATE_FILTERS, "updated_at")
        for end in ("gte", "lte")
    ),
    query_param("duration_gte", number(), description="Only those that ran at least this many seconds."),
    query_param("duration_lte", number(), description="Only those that ran at most this many seconds."),
    strings("state", "Only those in one of these states (none: no state yet).", enum=TI_STATES),
    strings("pool", "Only those in one of these pools."),
    strings("queue", "Only those on one of these queues."),
    strings("executor", "Only those run by one of these executors (none: one executor runs every task)."),
)
_FORM_RANGES = {f"{name}_{end}": date_time(nullable=False) for name in DATE_FILTERS for end in ("gte", "lte")} | {
    "duration_gte": number(),
    "duration_lte": number(),
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    **task_instance_json.OPENAPI_SCHEMAS,
    "TaskInstanceDependencyCollection": obj(
        {"dependencies": array(obj({"name": string(read_only=True), "reason": string(read_only=True)}))}
    ),
    "ListTaskInstanceForm": obj(
        {
            "page_offset": integer(minimum=0),
            "page_limit": integer(minimum=1, maximum=1000),
            "dag_ids": array(string()),
            "dag_run_ids": array(string()),
            "task_ids": array(string()),
            **_FORM_RANGES,
            "state": array(string(nullable=True, enum=TI_STATES)),
            "pool": array(string()),
            "queue": array(string()),
            "executor": array(string()),
        }
    ),
    "UpdateTaskInstance": obj(
        {
            "dry_run": boolean(default=True, description="Only answer which task instance it would set."),
            "new_state": string(enum=MARK_STATES),
        }
    ),
    "SetTaskInstanceNote": obj({"note": string()}, required=("note",)),
    "ExtraLinkCollection": obj({"extra_links": array(obj({"name": string(), "href": string()}))}),
}

_DAG_ID = path_param("dag_id", description="A DAG id, or ~ for every DAG where a list is answered.")
_RUN_ID = path_param("dag_run_id", description="A run id, or ~ for every run where a list is answered.")
_TASK = path_param("task_id")
_MAP = path_param("map_index", integer())
_TRY = path_param("task_try_number", integer())
_P = f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/taskInstances"
_ONE = (NOT_FOUND,)
_WRITE = (BAD_REQUEST, FORBIDDEN, NOT_FOUND)
_TRIES_PARAMS = (*PAGE, order_by(("try_number", "start_date", "end_date", "duration", "state"), "try_number"))


def _one(op: str, summary: str, ok: str, **extra: Any) -> dict[str, Any]:
    return operation(op, summary, "TaskInstance", ok=ok, errors=extra.pop("errors", _ONE), **extra)


OPENAPI_PATHS: dict[str, Any] = {
    _P: {
        "parameters": [_DAG_ID, _RUN_ID],
        "get": _one(
            "get_task_instances",
            "List a run's task instances (~ for every DAG or run)",
            "TaskInstanceCollection",
            params=(*PAGE, *_FILTER_PARAMS),
            errors=(BAD_REQUEST, NOT_FOUND),
        ),
    },
    f"{API_PREFIX}/dags/~/dagRuns/~/taskInstances/list": {
        "post": operation(
            "get_task_instances_batch",
            "List the task instances of several DAGs and runs",
            "TaskInstance",
            ok="TaskInstanceCollection",
            body="ListTaskInstanceForm",
            body_required=False,
            errors=(BAD_REQUEST,),
        ),
    },
    f"{_P}/{{task_id}}": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK],
        "get": _one("get_task_instance", "Read a task instance", "TaskInstance"),
        "patch": _one(
            "patch_task_instance",
            "Set a task instance's state (Op); a dry run unless dry_run is false",
            "TaskInstanceReference",
            body="UpdateTaskInstance",
            errors=_WRITE,
        ),
    },
    f"{_P}/{{task_id}}/{{map_index}}": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK, _MAP],
        "get": _one("get_mapped_task_instance", "Read one mapped task instance", "TaskInstance"),
        "patch": _one(
            "patch_mapped_task_instance",
            "Set a mapped task instance's state (Op); a dry run unless dry_run is false",
            "TaskInstanceReference",
            body="UpdateTaskInstance",
            errors=_WRITE,
        ),
    },
    f"{_P}/{{task_id}}/listMapped": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK],
        "get": _one(
            "get_mapped_task_instances",
            "List a mapped task's task instances",
            "TaskInstanceCollection",
            params=(*PAGE, *_FILTER_PARAMS, order_by(MAPPED_ORDER, "map_index")),
            errors=(BAD_REQUEST, NOT_FOUND),
        ),
    },
    f"{_P}/{{task_id}}/setNote": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK],
        "patch": _one(
            "set_task_instance_note",
            "Write a note on a task instance (Op)",
            "TaskInstance",
            body="SetTaskInstanceNote",
            errors=_WRITE,
        ),
    },
    f"{_P}/{{task_id}}/{{map_index}}/setNote": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK, _MAP],
        "patch": _one(
            "set_mapped_task_instance_note",
            "Write a note on a mapped task instance (Op)",
            "TaskInstance",
            body="SetTaskInstanceNote",
            errors=_WRITE,
        ),
    },
    f"{_P}/{{task_id}}/tries": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK],
        "get": _one(
            "get_task_instance_tries",
            "A task instance's tries",
            "TaskInstanceHistoryCollection",
            params=_TRIES_PARAMS,
            errors=(BAD_REQUEST, NOT_FOUND),
        ),
    },
    f"{_P}/{{task_id}}/{{map_index}}/tries": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK, _MAP],
        "get": _one(
            "get_mapped_task_instance_tries",
            "A mapped task instance's tries",
            "TaskInstanceHistoryCollection",
            params=_TRIES_PARAMS,
            errors=(BAD_REQUEST, NOT_FOUND),
        ),
    },
    f"{_P}/{{task_id}}/tries/{{task_try_number}}": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK, _TRY],
        "get": _one("get_task_instance_try_details", "One try of a task instance", "TaskInstanceHistory"),
    },
    f"{_P}/{{task_id}}/{{map_index}}/tries/{{task_try_number}}": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK, _MAP, _TRY],
        "get": _one("get_mapped_task_instance_try_details", "One try of a mapped task instance", "TaskInstanceHistory"),
    },
    f"{_P}/{{task_id}}/dependencies": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK],
        "get": _one(
            "get_task_instance_dependencies",
            "Why a task instance is not queued: its unmet dependencies",
            "TaskInstanceDependencyCollection",
        ),
    },
    f"{_P}/{{task_id}}/{{map_index}}/dependencies": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK, _MAP],
        "get": _one(
            "get_mapped_task_instance_dependencies",
            "Why a mapped task instance is not queued: its unmet dependencies",
            "TaskInstanceDependencyCollection",
        ),
    },
    f"{_P}/{{task_id}}/links": {
        "parameters": [_DAG_ID, _RUN_ID, _TASK],
        "get": _one(
            "get_extra_links",
            "A task instance's extra links (always none)",
            "ExtraLinkCollection",
            params=(
                query_param(
                    "map_index", {"type": "integer", "minimum": -1, "default": -1}, description="-1: not mapped."
                ),
            ),
        ),
    },
}
