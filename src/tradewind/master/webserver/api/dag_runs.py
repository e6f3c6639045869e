"""``/api/v1/dags/<dag_id>/dagRuns``: list (``~`` for every DAG, and the ``~/dagRuns/list`` batch
query), read, trigger, set state, clear, delete and note DAG runs.

Every change goes through ``tradewind.actions`` as the pages' do. tradewind's extra on a run is
``queued_at``; a run made by ``tradewind dags test`` shows as ``manual``, as Airflow records those.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.actions.plan import ActionOptions
from tradewind.actions.wake import wake_schedulers
from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.datasets import dataset_event_json
from tradewind.master.webserver.api.request_check import arg, body, parse_timestamp, requested_order
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    NOT_FOUND,
    PAGE,
    array,
    boolean,
    collection,
    date_time,
    free_object,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    ref,
    string,
    strings,
)
from tradewind.master.webserver.api.task_instance_json import ti_json
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.views.actions import preview, run_action
from tradewind.metastore import dataset_reads, runs, searches, task_instances
from tradewind.metastore.models import DagRun
from tradewind.states import DagRunState, DagRunType

bp = Blueprint("api_dag_runs", __name__, url_prefix=f"{API_PREFIX}/dags")

ALL = "~"
#: The API's order_by names and the columns they sort on.
ORDER_FIELDS = {
    "id": "id",
    "state": "state",
    "dag_id": "dag_id",
    "execution_date": "logical_date",
    "logical_date": "logical_date",
    "dag_run_id": "run_id",
    "start_date": "start_date",
    "end_date": "end_date",
    "updated_at": "updated_at",
    "external_trigger": "external_trigger",
}
#: The date filters and the columns they filter on.
DATE_FILTERS = {
    "execution_date": "logical_date",
    "start_date": "start_date",
    "end_date": "end_date",
    "updated_at": "updated_at",
}
RUN_STATES = [s.value for s in DagRunState]


@bp.get("/<dag_id>/dagRuns")
def get_dag_runs(dag_id: str) -> ResponseReturnValue:
    values = {name: arg(name) for name in _filter_names()}
    search = run_search(
        values,
        dag_ids=None if dag_id == ALL else [dag_id],
        states=arg("state") or None,
        order=arg("order_by"),
        limit=arg("limit"),
        offset=arg("offset"),
    )
    rows, total = searches.search_runs(get_session(), search)
    return jsonify(dag_runs=[_fields(run_json(run)) for run in rows], total_entries=total)


@bp.post("/~/dagRuns/list")
def get_dag_runs_batch() -> ResponseReturnValue:
    """The runs of several DAGs at once, filtered as ``get_dag_runs`` (a POST so the lists can be long)."""
    form = body()
    search = run_search(
        form,
        dag_ids=form.get("dag_ids"),
        states=form.get("states"),
        order=form.get("order_by", "id"),
        limit=form.get("page_limit", 100),
        offset=form.get("page_offset", 0),
    )
    rows, total = searches.search_runs(get_session(), search)
    return jsonify(dag_runs=[run_json(run) for run in rows], total_entries=total)


def _filter_names() -> list[str]:
    return [f"{name}_{end}" for name in DATE_FILTERS for end in ("gte", "lte")]


def run_search(
    values: Mapping[str, Any],
    *,
    dag_ids: list[str] | None,
    states: list[str] | None,
    order: str,
    limit: int,
    offset: int,
) -> searches.Search:
    """The search a list request describes; 400 for an order_by that names no field."""
    field, _ = requested_order(tuple(ORDER_FIELDS), order)
    spans = {
        column: searches.Span(_time(values, f"{name}_gte"), _time(values, f"{name}_lte"))
        for name, column in DATE_FILTERS.items()
    }
    any_of: dict[str, list[Any]] = {}
    if dag_ids is not None:
        any_of["dag_id"] = dag_ids
    if states:
        any_of["state"] = states
    return searches.Search(
        spans=spans,
        any_of=any_of,
        order=("-" if order.startswith("-") else "") + ORDER_FIELDS[field],
        limit=limit,
        offset=offset,
    )


def _time(values: Mapping[str, Any], name: str) -> datetime | None:
    value = values.get(name)
    return parse_timestamp(value, name) if isinstance(value, str) else value


def _fields(answer: dict[str, Any]) -> dict[str, Any]:
    wanted = arg("fields")
    if not wanted:
        return answer
    unknown = sorted(set(wanted) - set(answer))
    if unknown:
        abort(400, description=f"fields names no field of a DAG run: {', '.join(unknown)}")
    return {name: value for name, value in answer.items() if name in wanted}


@bp.get("/<dag_id>/dagRuns/<dag_run_id>")
def get_dag_run(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    return jsonify(_fields(run_json(runs.get_run(get_session(), dag_id, dag_run_id))))


@bp.post("/<dag_id>/dagRuns")
@require_role("Op")
def post_dag_run(dag_id: str) -> ResponseReturnValue:
    form = body()
    given = {name: form[name] for name in ("logical_date", "execution_date") if form.get(name) is not None}
    if len(given) == 2 and given["logical_date"] != given["execution_date"]:
        abort(400, description="logical_date and execution_date are the same thing; give one of them")
    logical_date = parse_timestamp(next(iter(given.values())), next(iter(given))) if given else None
    run_id = form.get("dag_run_id")
    if run_id is not None and not run_id.strip():
        abort(400, description="dag_run_id must not be empty")
    session = get_session()
    run = actions.trigger_dag(
        session,
        dag_id,
        conf=form.get("conf") or {},
        run_id=run_id,
        logical_date=logical_date,
        owner=current_username(),
        source="api",
    )
    if form.get("note"):
        actions.set_note(session, dag_id, run.run_id, form["note"], owner=current_username(), source="api")
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, [run.run_id])
    return jsonify(run_json(runs.get_run(session, dag_id, run.run_id)))


@bp.patch("/<dag_id>/dagRuns/<dag_run_id>")
@require_role("Op")
def update_dag_run_state(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    session = get_session()
    actions.set_run_state(session, dag_id, dag_run_id, body()["state"], owner=current_username(), source="api")
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, [dag_run_id])
    return jsonify(run_json(runs.get_run(session, dag_id, dag_run_id)))


@bp.delete("/<dag_id>/dagRuns/<dag_run_id>")
@require_role("Op")
def delete_dag_run(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    """As Airflow: 204 and no body; 404 when there is no such run."""
    session = get_session()
    actions.delete_run(session, dag_id, dag_run_id, owner=current_username(), source="api")
    session.commit()
    # A deleted running try frees its pool slot and its run's place under max_active_runs.
    wake_schedulers(get_settings().broker_url, dag_id, [])
    return Response(status=204)


@bp.post("/<dag_id>/dagRuns/<dag_run_id>/clear")
@require_role("Op")
def clear_dag_run(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    """A dry run answers the task instances a clear would reset; otherwise the run, cleared."""
    form = body()
    session = get_session()
    runs.get_run(session, dag_id, dag_run_id)
    options = ActionOptions(run_id=dag_run_id, only_failed=form.get("only_failed", False))
    if form.get("dry_run", True):
        plan = preview(dag_id, "clear", options)
        keys = {(c.task_id, c.map_index) for c in plan.changes}
        tis = [ti for ti in task_instances.get_tis(session, dag_id, dag_run_id) if (ti.task_id, ti.map_index) in keys]
        run = runs.get_run(session, dag_id, dag_run_id)
        return jsonify(task_instances=[ti_json(ti, run.logical_date) for ti in tis], total_entries=len(tis))
    run_action(dag_id, "clear", options, source="api")
    return jsonify(run_json(runs.get_run(session, dag_id, dag_run_id)))


@bp.patch("/<dag_id>/dagRuns/<dag_run_id>/setNote")
@require_role("Op")
def set_dag_run_note(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    session = get_session()
    actions.set_note(session, dag_id, dag_run_id, body()["note"], owner=current_username(), source="api")
    session.commit()
    return jsonify(run_json(runs.get_run(session, dag_id, dag_run_id)))


@bp.get("/<dag_id>/dagRuns/<dag_run_id>/upstreamDatasetEvents")
def get_upstream_dataset_events(dag_id: str, dag_run_id: str) -> ResponseReturnValue:
    """The events that went into a dataset-triggered run (none for any other run)."""
    session = get_session()
    runs.get_run(session, dag_id, dag_run_id)
    events = dataset_reads.events_of_run(session, dag_id, dag_run_id)
    return jsonify(dataset_events=[dataset_event_json(e) for e in events], total_entries=len(events))


def run_json(run: DagRun) -> dict[str, Any]:
    run_type = DagRunType.MANUAL.value if run.run_type == DagRunType.DAGS_TEST.value else run.run_type
    return {
        "dag_run_id": run.run_id,
        "dag_id": run.dag_id,
        "logical_date": iso(run.logical_date),
        "execution_date": iso(run.logical_date),
        "start_date": iso(run.start_date),
        "end_date": iso(run.end_date),
        "data_interval_start": iso(run.data_interval_start),
        "data_interval_end": iso(run.data_interval_end),
        "last_scheduling_decision": iso(run.last_scheduling_decision),
        "run_type": run_type,
        "state": run.state,
        "external_trigger": run.external_trigger,
        "conf": masking.details(run.conf or {}),
        "note": run.note,
        "queued_at": iso(run.queued_at),
    }


# --- OpenAPI ---------------------------------------------------------------------------------------

_READ_TIME = date_time(read_only=True)
_DATE_PARAMS = tuple(
    param
    for name in DATE_FILTERS
    for param in (
        {"name": f"{name}_gte", "in": "query", "required": False, "schema": date_time(nullable=False)},
        {"name": f"{name}_lte", "in": "query", "required": False, "schema": date_time(nullable=False)},
    )
)
_FORM_DATES = {name: date_time(nullable=False) for name in _filter_names() if not name.startswith("updated_at")}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "DAGRun": obj(
        {
            "dag_run_id": string(nullable=True, description="Given, or made from the run type and logical date."),
            "dag_id": string(read_only=True),
            "logical_date": date_time(description="Default: now."),
            "execution_date": date_time(description="The same as logical_date (its older name)."),
            "start_date": _READ_TIME,
            "end_date": _READ_TIME,
            "data_interval_start": date_time(read_only=True),
            "data_interval_end": date_time(read_only=True),
            "last_scheduling_decision": _READ_TIME,
            "run_type": string(read_only=True, enum=["backfill", "manual", "scheduled", "dataset_triggered"]),
            "state": string(read_only=True, enum=RUN_STATES),
            "external_trigger": boolean(read_only=True),
            "conf": free_object(description="The run's configuration, checked against the DAG's params."),
            "note": string(nullable=True),
            "queued_at": date_time(read_only=True, description="tradewind: when the run was last queued."),
        }
    ),
    "DAGRunCollection": collection("dag_runs", "DAGRun"),
    "UpdateDagRunState": obj({"state": string(enum=["success", "failed", "queued"])}, required=("state",)),
    "ClearDagRun": obj(
        {
            "dry_run": boolean(default=True, description="Only answer what a clear would reset."),
            "only_failed": boolean(default=False, description="tradewind: clear only failed task instances."),
        }
    ),
    "SetDagRunNote": obj({"note": string()}, required=("note",)),
    "ListDagRunsForm": obj(
        {
            "order_by": string(),
            "page_offset": integer(minimum=0),
            "page_limit": integer(minimum=1, maximum=1000),
            "dag_ids": array(string()),
            "states": array(string(enum=RUN_STATES)),
            **_FORM_DATES,
        }
    ),
}

_DAG_ID = path_param("dag_id", description="A DAG id, or ~ for every DAG where a list is answered.")
_RUN_ID = path_param("dag_run_id")
_RUN = (_DAG_ID, _RUN_ID)
_WRITE = (BAD_REQUEST, FORBIDDEN, NOT_FOUND)

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dags/{{dag_id}}/dagRuns": {
        "parameters": [_DAG_ID],
        "get": operation(
            "get_dag_runs",
            "List a DAG's runs (~: every DAG's)",
            "DAGRun",
            ok="DAGRunCollection",
            params=(
                *PAGE,
                *_DATE_PARAMS,
                strings("state", "Only runs in one of these states.", enum=RUN_STATES),
                order_by(tuple(ORDER_FIELDS), "id"),
                strings("fields", "Answer only these fields of each run."),
            ),
            errors=(BAD_REQUEST,),
        ),
        "post": operation(
            "post_dag_run",
            "Trigger a run (Op)",
            "DAGRun",
            ok="DAGRun",
            body="DAGRun",
            errors=(*_WRITE, CONFLICT),
        ),
    },
    f"{API_PREFIX}/dags/~/dagRuns/list": {
        "post": operation(
            "get_dag_runs_batch",
            "List the runs of several DAGs",
            "DAGRun",
            ok="DAGRunCollection",
            body="ListDagRunsForm",
            body_required=False,
            errors=(BAD_REQUEST,),
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}": {
        "parameters": list(_RUN),
        "get": operation(
            "get_dag_run",
            "Read a run",
            "DAGRun",
            ok="DAGRun",
            params=(strings("fields", "Answer only these fields."),),
            errors=(NOT_FOUND,),
        ),
        "patch": operation(
            "update_dag_run_state",
            "Set a run's state (Op): success and failed mark its task instances, queued clears it",
            "DAGRun",
            ok="DAGRun",
            body="UpdateDagRunState",
            errors=_WRITE,
        ),
        "delete": operation(
            "delete_dag_run",
            "Delete a run with its task instances, XComs and logs (Op)",
            "DAGRun",
            ok=None,
            status="204",
            ok_description="Deleted.",
            errors=_WRITE,
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/clear": {
        "parameters": list(_RUN),
        "post": operation(
            "clear_dag_run",
            "Clear a run (Op); a dry run (the default) answers the task instances it would reset",
            "DAGRun",
            ok={"anyOf": [ref("DAGRun"), ref("TaskInstanceCollection")]},
            body="ClearDagRun",
            errors=_WRITE,
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/setNote": {
        "parameters": list(_RUN),
        "patch": operation(
            "set_dag_run_note", "Write a note on a run (Op)", "DAGRun", ok="DAGRun", body="SetDagRunNote", errors=_WRITE
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/upstreamDatasetEvents": {
        "parameters": list(_RUN),
        "get": operation(
            "get_upstream_dataset_events",
            "The dataset events that triggered a run (none unless it is dataset_triggered)",
            "DAGRun",
            ok="DatasetEventCollection",
            errors=(NOT_FOUND,),
        ),
    },
}
