"""``/api/v1/datasets``, their events (read, and sent from outside with ``POST``) and the events
queued for each consumer DAG, as Airflow 2.10's API has them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.actions.dataset_events import consumers_of, send_dataset_event
from tradewind.actions.wake import wake_schedulers
from tradewind.errors import DatasetNotFound
from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import arg, body, requested_order
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    FORBIDDEN,
    PAGE,
    array,
    collection,
    date_time,
    free_object,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    query_param,
    ref,
    string,
)
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.metastore import audit, dags, dataset_reads, runs

bp = Blueprint("api_datasets", __name__, url_prefix=API_PREFIX)

_EVENT_FILTERS = ("dataset_id", "source_dag_id", "source_task_id", "source_run_id", "source_map_index")


@bp.get("/datasets")
def get_datasets() -> ResponseReturnValue:
    field, descending = requested_order(("id", "uri"))
    dag_ids = [d.strip() for d in (arg("dag_ids") or "").split(",") if d.strip()]
    rows, total = dataset_reads.list_datasets(
        get_session(),
        uri_pattern=arg("uri_pattern"),
        dag_ids=dag_ids or None,
        order_by=f"-{field}" if descending else field,
        limit=arg("limit"),
        offset=arg("offset") or 0,
    )
    return jsonify(datasets=[dataset_json(d) for d in rows], total_entries=total)


@bp.get("/datasets/<path:uri>")
def get_dataset(uri: str) -> ResponseReturnValue:
    found = dataset_reads.get_dataset(get_session(), uri)
    if found is None:
        raise DatasetNotFound(f"Dataset with uri {uri!r} not found")
    return jsonify(dataset_json(found))


@bp.get("/datasets/events")
def get_dataset_events() -> ResponseReturnValue:
    field, descending = requested_order(("timestamp", "dataset_id"))
    filters = {name: arg(name) for name in _EVENT_FILTERS if arg(name) is not None}
    session = get_session()
    rows = dataset_reads.list_events(
        session,
        **filters,
        order_by=f"-{field}" if descending else field,
        limit=arg("limit"),
        offset=arg("offset") or 0,
    )
    total = dataset_reads.count_events(session, **filters)
    return jsonify(dataset_events=[dataset_event_json(e) for e in rows], total_entries=total)


@bp.post("/datasets/events")
@require_role("Op")
def create_dataset_event() -> ResponseReturnValue:
    session = get_session()
    data = body()
    uri = data["dataset_uri"]
    event = send_dataset_event(session, uri, data.get("extra"))
    consumers = consumers_of(session, uri)
    audit.record(session, "dataset_event.create", owner=current_username(), extra={"uri": uri, "source": "api"})
    answer = dataset_event_json(event)
    session.commit()
    for dag_id in consumers:
        wake_schedulers(get_settings().broker_url, dag_id, [])
    return jsonify(answer)


@bp.get("/datasets/queuedEvent/<path:uri>")
def get_dataset_queued_events(uri: str) -> ResponseReturnValue:
    found = dataset_reads.queued(get_session(), uri=uri, before=arg("before"))
    if not found:
        abort(404, description=f"Queue event with dataset uri: `{uri}` was not found")
    return jsonify(queued_collection(found))


@bp.delete("/datasets/queuedEvent/<path:uri>")
@require_role("Op")
def delete_dataset_queued_events(uri: str) -> ResponseReturnValue:
    return _delete_queued(f"Queue event with dataset uri: `{uri}` was not found", uri=uri)


@bp.get("/dags/<dag_id>/datasets/queuedEvent")
def get_dag_dataset_queued_events(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dags.load_dag(session, dag_id)
    found = dataset_reads.queued(session, dag_id=dag_id, before=arg("before"))
    if not found:
        abort(404, description=f"Queue event with dag_id: `{dag_id}` was not found")
    return jsonify(queued_collection(found))


@bp.delete("/dags/<dag_id>/datasets/queuedEvent")
@require_role("Op")
def delete_dag_dataset_queued_events(dag_id: str) -> ResponseReturnValue:
    dags.load_dag(get_session(), dag_id)
    return _delete_queued(f"Queue event with dag_id: `{dag_id}` was not found", dag_id=dag_id)


@bp.get("/dags/<dag_id>/datasets/queuedEvent/<path:uri>")
def get_dag_dataset_queued_event(dag_id: str, uri: str) -> ResponseReturnValue:
    session = get_session()
    dags.load_dag(session, dag_id)
    found = dataset_reads.queued(session, dag_id=dag_id, uri=uri, before=arg("before"))
    if not found:
        abort(404, description=f"Queue event with dag_id: `{dag_id}` and dataset uri: `{uri}` was not found")
    return jsonify(queued_json(found[0]))


@bp.delete("/dags/<dag_id>/datasets/queuedEvent/<path:uri>")
@require_role("Op")
def delete_dag_dataset_queued_event(dag_id: str, uri: str) -> ResponseReturnValue:
    dags.load_dag(get_session(), dag_id)
    missing = f"Queue event with dag_id: `{dag_id}` and dataset uri: `{uri}` was not found"
    return _delete_queued(missing, dag_id=dag_id, uri=uri)


def _delete_queued(missing: str, **where: str) -> ResponseReturnValue:
    session = get_session()
    if not dataset_reads.delete_queued(session, before=arg("before"), **where):
        abort(404, description=missing)
    audit.record(session, "dataset_queued_event.delete", owner=current_username(), extra={**where, "source": "api"})
    session.commit()
    return "", 204


def dataset_json(d: dataset_reads.DatasetInfo) -> dict[str, Any]:
    return {
        "id": d.id,
        "uri": d.uri,
        "extra": d.extra,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "consuming_dags": [
            {"dag_id": r.dag_id, "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}
            for r in d.consuming_dags
        ],
        "producing_tasks": [
            {"dag_id": r.dag_id, "task_id": r.task_id, "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}
            for r in d.producing_tasks
        ],
    }


def dataset_event_json(e: dataset_reads.EventInfo) -> dict[str, Any]:
    return {
        "dataset_id": e.dataset_id,
        "dataset_uri": e.dataset_uri,
        "extra": e.extra,
        "source_dag_id": e.source_dag_id,
        "source_task_id": e.source_task_id,
        "source_run_id": e.source_run_id,
        "source_map_index": e.source_map_index,
        "created_dagruns": [_basic_run(dag_id, run_id) for dag_id, run_id in e.created_dagruns],
        "timestamp": iso(e.timestamp),
    }


def _basic_run(dag_id: str, run_id: str) -> dict[str, Any]:
    run = runs.get_run(get_session(), dag_id, run_id)
    return {
        "run_id": run.run_id,
        "dag_id": run.dag_id,
        "logical_date": iso(run.logical_date),
        "start_date": iso(run.start_date),
        "end_date": iso(run.end_date),
        "data_interval_start": iso(run.data_interval_start),
        "data_interval_end": iso(run.data_interval_end),
        "state": run.state,
    }


def queued_json(q: dataset_reads.QueuedInfo) -> dict[str, Any]:
    return {"uri": q.uri, "dag_id": q.dag_id, "created_at": iso(q.created_at)}


def queued_collection(found: list[dataset_reads.QueuedInfo]) -> dict[str, Any]:
    # Airflow's spec names the list ``datasets``, its server ``queued_events``: both are given.
    listed = [queued_json(q) for q in found]
    return {"datasets": listed, "queued_events": listed, "total_entries": len(found)}


_STAMP = string()
OPENAPI_SCHEMAS: dict[str, Any] = {
    "DagScheduleDatasetReference": obj({"dag_id": string(nullable=True), "created_at": _STAMP, "updated_at": _STAMP}),
    "TaskOutletDatasetReference": obj(
        {"dag_id": string(nullable=True), "task_id": string(nullable=True), "created_at": _STAMP, "updated_at": _STAMP}
    ),
    "Dataset": obj(
        {
            "id": integer(),
            "uri": string(),
            "extra": free_object(nullable=True),
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "consuming_dags": array(ref("DagScheduleDatasetReference")),
            "producing_tasks": array(ref("TaskOutletDatasetReference")),
        }
    ),
    "DatasetCollection": collection("datasets", "Dataset"),
    "BasicDAGRun": obj(
        {
            "run_id": string(),
            "dag_id": string(read_only=True),
            "logical_date": date_time(nullable=False),
            "start_date": date_time(read_only=True),
            "end_date": date_time(read_only=True),
            "data_interval_start": date_time(read_only=True),
            "data_interval_end": date_time(read_only=True),
            "state": string(),
        }
    ),
    "DatasetEvent": obj(
        {
            "dataset_id": integer(),
            "dataset_uri": string(),
            "extra": free_object(nullable=True),
            "source_dag_id": string(nullable=True),
            "source_task_id": string(nullable=True),
            "source_run_id": string(nullable=True),
            "source_map_index": integer(nullable=True),
            "created_dagruns": array(ref("BasicDAGRun")),
            "timestamp": _STAMP,
        }
    ),
    "DatasetEventCollection": collection("dataset_events", "DatasetEvent"),
    "CreateDatasetEvent": obj(
        {"dataset_uri": string(), "extra": free_object(nullable=True)}, required=("dataset_uri",)
    ),
    "QueuedEvent": obj({"uri": string(), "dag_id": string(), "created_at": date_time(nullable=False)}),
    "QueuedEventCollection": obj(
        {
            "datasets": array(ref("QueuedEvent")),
            "queued_events": array(ref("QueuedEvent"), description="The same list, as Airflow's server names it."),
            "total_entries": integer(),
        },
        required=("datasets", "total_entries"),
    ),
}

_URI = path_param("uri", description="The dataset's URI.")
_DAG = path_param("dag_id")
_BEFORE = query_param("before", date_time(nullable=False), description="Only events queued before this time.")
_NOTHING = ("404", "No such dataset, DAG or queued event.")
_WRITE = (BAD_REQUEST, FORBIDDEN, _NOTHING)


def _get(op: str, summary: str, ok: str, **extra: Any) -> dict[str, Any]:
    return operation(op, summary, "Dataset", ok=ok, errors=extra.pop("errors", (_NOTHING,)), **extra)


def _delete(op: str, summary: str, **extra: Any) -> dict[str, Any]:
    return operation(op, summary, "Dataset", ok=None, status="204", ok_description="Deleted.", errors=_WRITE, **extra)


OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/datasets": {
        "get": _get(
            "get_datasets",
            "Datasets, with the DAGs that produce and consume each",
            "DatasetCollection",
            params=(
                *PAGE,
                order_by(("id", "uri"), "id"),
                query_param("uri_pattern", string()),
                query_param("dag_ids", string()),
            ),
            errors=(),
        )
    },
    f"{API_PREFIX}/datasets/{{uri}}": {"parameters": [_URI], "get": _get("get_dataset", "One dataset", "Dataset")},
    f"{API_PREFIX}/datasets/events": {
        "get": _get(
            "get_dataset_events",
            "Dataset events",
            "DatasetEventCollection",
            params=(
                *PAGE,
                order_by(("timestamp", "dataset_id"), "timestamp"),
                query_param("dataset_id", integer()),
                query_param("source_dag_id", string()),
                query_param("source_task_id", string()),
                query_param("source_run_id", string()),
                query_param("source_map_index", integer()),
            ),
            errors=(),
        ),
        "post": operation(
            "create_dataset_event",
            "Send an event of a known dataset (Op); its consumers get it queued",
            "Dataset",
            ok="DatasetEvent",
            body="CreateDatasetEvent",
            errors=_WRITE,
        ),
    },
    f"{API_PREFIX}/datasets/queuedEvent/{{uri}}": {
        "parameters": [_URI],
        "get": _get(
            "get_dataset_queued_events", "A dataset's queued events", "QueuedEventCollection", params=(_BEFORE,)
        ),
        "delete": _delete("delete_dataset_queued_events", "Delete a dataset's queued events (Op)", params=(_BEFORE,)),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/datasets/queuedEvent": {
        "parameters": [_DAG],
        "get": _get(
            "get_dag_dataset_queued_events", "A DAG's queued events", "QueuedEventCollection", params=(_BEFORE,)
        ),
        "delete": _delete("delete_dag_dataset_queued_events", "Delete a DAG's queued events (Op)", params=(_BEFORE,)),
    },
    f"{API_PREFIX}/dags/{{dag_id}}/datasets/queuedEvent/{{uri}}": {
        "parameters": [_DAG, _URI],
        "get": _get(
            "get_dag_dataset_queued_event", "A DAG's queued event of a dataset", "QueuedEvent", params=(_BEFORE,)
        ),
        "delete": _delete(
            "delete_dag_dataset_queued_event", "Delete a DAG's queued event of a dataset (Op)", params=(_BEFORE,)
        ),
    },
}
