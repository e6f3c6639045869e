"""``/api/v1/dagWarnings``: tradewind reports a DAG's problems as import errors of its file, so there
are no DAG warnings; the list is empty, filtered as Airflow's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.spec import (
    PAGE,
    collection,
    date_time,
    obj,
    operation,
    order_by,
    query_param,
    string,
)

bp = Blueprint("api_dag_warnings", __name__, url_prefix=f"{API_PREFIX}/dagWarnings")


@bp.get("")
def get_dag_warnings() -> ResponseReturnValue:
    return jsonify(dag_warnings=[], total_entries=0)


OPENAPI_SCHEMAS: dict[str, Any] = {
    "DagWarning": obj(
        {
            "dag_id": string(read_only=True),
            "warning_type": string(read_only=True),
            "message": string(read_only=True),
            "timestamp": date_time(nullable=False, read_only=True),
        }
    ),
    "DagWarningCollection": collection("dag_warnings", "DagWarning"),
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dagWarnings": {
        "get": operation(
            "get_dag_warnings",
            "DAG warnings (none: problems are import errors)",
            "DagWarning",
            ok="DagWarningCollection",
            params=(
                query_param("dag_id", string()),
                query_param("warning_type", string()),
                *PAGE,
                order_by(("dag_id", "warning_type", "timestamp"), "timestamp"),
            ),
        )
    }
}
