"""``/api/v1/dags/<dag_id>/dagRuns/<run_id>/taskInstances/<task_id>/logs/<task_try_number>``: one
try's log, as text (the default) or, when JSON is asked for, ``{"content", "continuation_token"}``.

Pass the ``continuation_token`` back as ``token`` to read only what the try logged since.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.dag_sources import wants_json
from tradewind.master.webserver.api.request_check import arg
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    NOT_FOUND,
    boolean,
    integer,
    obj,
    operation,
    path_param,
    query_param,
    string,
)
from tradewind.master.webserver.api.task_instances import find_ti
from tradewind.master.webserver.db import get_session
from tradewind.metastore import logs, task_instances

bp = Blueprint("api_task_logs", __name__, url_prefix=f"{API_PREFIX}/dags/<dag_id>/dagRuns/<dag_run_id>")


@bp.get("/taskInstances/<task_id>/logs/<task_try_number>")
def get_log(dag_id: str, dag_run_id: str, task_id: str, task_try_number: str) -> ResponseReturnValue:
    # The try number is checked by request_check (a string here, so a bad one is a 400, not a 404).
    number = int(task_try_number)
    ti, _ = find_ti(dag_id, dag_run_id, task_id, arg("map_index"))
    if number < 1 or number > max(ti.try_number, 1):
        abort(404, description=f"{task_id!r} has no try {number} (it is at try {ti.try_number})")
    after = -1
    if arg("token"):
        if not arg("token").lstrip("-").isdigit():
            abort(400, description=f"token must be a continuation_token this endpoint answered, not {arg('token')!r}")
        after = int(arg("token"))
    key = task_instances.TIKey(dag_id, dag_run_id, task_id, ti.map_index)
    text, last_seq = logs.read_log(get_session(), key, number, after_seq=after)
    if wants_json():
        return jsonify(continuation_token=str(last_seq), content=text)
    return Response(text, mimetype="text/plain")


OPENAPI_SCHEMAS: dict[str, Any] = {
    "TaskLog": obj(
        {
            "continuation_token": string(description="Pass as token to read only what comes after."),
            "content": string(),
        }
    )
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/logs/{{task_try_number}}": {
        "parameters": [
            path_param("dag_id"),
            path_param("dag_run_id"),
            path_param("task_id"),
            path_param("task_try_number", integer(minimum=0)),
        ],
        "get": operation(
            "get_log",
            "One try's log (text/plain, or JSON when asked for)",
            "TaskInstance",
            ok="TaskLog",
            text=True,
            params=(
                query_param("full_content", boolean(), description="Accepted; the whole log is always read."),
                query_param("map_index", {"type": "integer", "minimum": -1, "default": -1}),
                query_param("token", string(), description="A continuation_token from an earlier answer."),
            ),
            errors=(BAD_REQUEST, NOT_FOUND),
        ),
    }
}
