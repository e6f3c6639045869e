"""``/api/v1/datasets``, their events and queued events: tradewind has no datasets yet, so every
list is empty and every single dataset or queued event is a 404, as Airflow answers for none."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.request_check import body
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
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import dags

bp = Blueprint("api_datasets", __name__, url_prefix=API_PREFIX)

_NONE = "tradewind has no datasets yet"


@bp.get("/datasets")
def get_datasets() -> ResponseReturnValue:
    return jsonify(datasets=[], total_entries=0)


@bp.get("/datasets/events")
def get_dataset_events() -> ResponseReturnValue:
    return jsonify(dataset_events=[], total_entries=0)


@bp.post("/datasets/events")
@require_role("Op")
def create_dataset_event() -> ResponseReturnValue:
    abort(404, description=f"no dataset with uri {body()['dataset_uri']!r}: {_NONE}")


@bp.get("/datasets/<path:uri>")
def get_dataset(uri: str) -> ResponseReturnValue:
    abort(404, description=f"no dataset with uri {uri!r}: {_NONE}")


@bp.get("/datasets/queuedEvent/<path:uri>")
def get_dataset_queued_events(uri: str) -> ResponseReturnValue:
    abort(404, description=f"no queued event of dataset {uri!r}: {_NONE}")


@bp.delete("/datasets/queuedEvent/<path:uri>")
@require_role("Op")
def delete_dataset_queued_events(uri: str) -> ResponseReturnValue:
    abort(404, description=f"no queued event of dataset {uri!r}: {_NONE}")


@bp.get("/dags/<dag_id>/datasets/queuedEvent")
def get_dag_dataset_queued_events(dag_id: str) -> ResponseReturnValue:
    dags.load_dag(get_session(), dag_id)
    abort(404, description=f"DAG {dag_id!r} has no queued dataset events: {_NONE}")


@bp.delete("/dags/<dag_id>/datasets/queuedEvent")
@require_role("Op")
def delete_dag_dataset_queued_events(dag_id: str) -> ResponseReturnValue:
    dags.load_dag(get_session(), dag_id)
    abort(404, description=f"DAG {dag_id!r} has no queued dataset events: {_NONE}")


@bp.get("/dags/<dag_id>/datasets/queuedEvent/<path:uri>")
def get_dag_dataset_queued_event(dag_id: str, uri: str) -> ResponseReturnValue:
    dags.load_dag(get_session(), dag_id)
    abort(404, description=f"DAG {dag_id!r} has no queued event of dataset {uri!r}: {_NONE}")


@bp.delete("/dags/<dag_id>/datasets/queuedEvent/<path:uri>")
@require_role("Op")
def delete_dag_dataset_queued_event(dag_id: str, uri: str) -> ResponseReturnValue:
    dags.load_dag(get_session(), dag_id)
    abort(404, description=f"DAG {dag_id!r} has no queued event of dataset {uri!r}: {_NONE}")


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
    "QueuedEventCollection": collection("datasets", "QueuedEvent"),
}

_URI = path_param("uri", description="The dataset's URI.")
_DAG = path_param("dag_id")
_BEFORE = query_param("before", date_time(nullable=False), description="Only events queued before this time.")
_NOTHING = ("404", f"Nothing: {_NONE}.")
_WRITE = (BAD_REQUEST, FORBIDDEN, _NOTHING)


def _get(op: str, summary: str, ok: str, **extra: Any) -> dict[str, Any]:
    return operation(op, summary, "Dataset", ok=ok, errors=extra.pop("errors", (_NOTHING,)), **extra)


def _delete(op: str, summary: str, **extra: Any) -> dict[str, Any]:
    return operation(op, summary, "Dataset", ok=None, status="204", ok_description="Deleted.", errors=_WRITE, **extra)


OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/datasets": {
        "get": _get(
            "get_datasets",
            "Datasets (none yet)",
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
            "Dataset events (none yet)",
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
            "Record a dataset event (Op; every URI is unknown yet)",
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
