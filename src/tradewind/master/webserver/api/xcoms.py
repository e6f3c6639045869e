"""``/api/v1/dags/<dag_id>/dagRuns/<run_id>/taskInstances/<task_id>/xcomEntries``: a task instance's
XComs, and one of them with its value. XCom values are JSON in tradewind; ``stringify`` (the
default) answers a value as Python's text of it, as Airflow does, ``stringify=false`` as JSON.
Secrets in a value are masked as on the task panel.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import arg, page_of
from tradewind.master.webserver.api.spec import (
    NOT_FOUND,
    PAGE,
    any_value,
    boolean,
    collection,
    date_time,
    integer,
    obj,
    operation,
    path_param,
    query_param,
    string,
)
from tradewind.master.webserver.api.task_instances import find_ti
from tradewind.master.webserver.db import get_session
from tradewind.metastore import runs, xcoms
from tradewind.metastore.models import XCom

bp = Blueprint(
    "api_xcoms", __name__, url_prefix=f"{API_PREFIX}/dags/<dag_id>/dagRuns/<dag_run_id>/taskInstances/<task_id>"
)


@bp.get("/xcomEntries")
def get_xcom_entries(dag_id: str, dag_run_id: str, task_id: str) -> ResponseReturnValue:
    session = get_session()
    logical_date = runs.get_run(session, dag_id, dag_run_id).logical_date
    rows = [
        x
        for x in xcoms.list_xcoms(session, dag_id, dag_run_id, task_id)
        if (arg("map_index") is None or x.map_index == arg("map_index"))
        and (arg("xcom_key") is None or x.key == arg("xcom_key"))
    ]
    return jsonify(xcom_entries=[_entry(x, logical_date) for x in page_of(rows)], total_entries=len(rows))


@bp.get("/xcomEntries/<path:xcom_key>")
def get_xcom_entry(dag_id: str, dag_run_id: str, task_id: str, xcom_key: str) -> ResponseReturnValue:
    map_index = arg("map_index")
    _, logical_date = find_ti(dag_id, dag_run_id, task_id, map_index)
    found = next(
        (
            x
            for x in xcoms.list_xcoms(get_session(), dag_id, dag_run_id, task_id)
            if x.key == xcom_key and x.map_index == map_index
        ),
        None,
    )
    if found is None:
        abort(404, description=f"task instance {task_id!r} of run {dag_run_id!r} has no XCom {xcom_key!r}")
    # What people see: the copy with the secrets the task's process knew masked (README, Security).
    shown = masking.xcom_value(found.key, found.value, found.display_value)
    value = str(shown) if arg("stringify") else shown
    return jsonify(_entry(found, logical_date) | {"value": value})


def _entry(x: XCom, logical_date: Any) -> dict[str, Any]:
    return {
        "key": x.key,
        "timestamp": iso(x.timestamp),
        "execution_date": iso(logical_date),
        "map_index": x.map_index,
        "task_id": x.task_id,
        "dag_id": x.dag_id,
    }


_ENTRY = {
    "key": string(),
    "timestamp": date_time(),
    "execution_date": date_time(),
    "map_index": integer(),
    "task_id": string(),
    "dag_id": string(),
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "XComCollectionItem": obj(_ENTRY),
    "XComCollection": collection("xcom_entries", "XComCollectionItem"),
    "XCom": obj({**_ENTRY, "value": any_value(description="Python's text of the value, or (stringify=false) JSON.")}),
}

_P = f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/xcomEntries"
_PATH = [path_param("dag_id"), path_param("dag_run_id"), path_param("task_id")]
_MAP_INDEX = query_param("map_index", integer(minimum=-1), description="Only this mapped task instance's.")

OPENAPI_PATHS: dict[str, Any] = {
    _P: {
        "parameters": _PATH,
        "get": operation(
            "get_xcom_entries",
            "A task instance's XComs (without their values)",
            "XCom",
            ok="XComCollection",
            params=(_MAP_INDEX, query_param("xcom_key", string()), *PAGE),
            errors=(NOT_FOUND,),
        ),
    },
    f"{_P}/{{xcom_key}}": {
        "parameters": [*_PATH, path_param("xcom_key")],
        "get": operation(
            "get_xcom_entry",
            "One XCom with its value",
            "XCom",
            ok="XCom",
            params=(
                query_param("map_index", {"type": "integer", "minimum": -1, "default": -1}),
                query_param("deserialize", boolean(default=False), description="Accepted: values are JSON already."),
                query_param("stringify", boolean(default=True), description="Answer the value as text."),
            ),
            errors=(NOT_FOUND,),
        ),
    },
}
