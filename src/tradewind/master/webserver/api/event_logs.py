"""``/api/v1/eventLogs``: the audit log of every action (pools moved to ``pools.py``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX, DEFAULT_LIMIT, MAX_LIMIT, problem_response, query_int
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit

bp = Blueprint("api_event_logs", __name__, url_prefix=API_PREFIX)


@bp.get("/eventLogs")
def list_event_logs() -> ResponseReturnValue:
    limit = query_int("limit", DEFAULT_LIMIT, maximum=MAX_LIMIT)
    rows = audit.list_events(get_session(), dag_id=request.args.get("dag_id") or None, limit=limit)
    return jsonify(
        event_logs=[
            {
                "event_log_id": e.id,
                "when": e.dttm.isoformat(),
                "event": e.event,
                "owner": e.owner,
                "dag_id": e.dag_id,
                "run_id": e.run_id,
                "task_id": e.task_id,
                "map_index": e.map_index,
                "extra": masking.details(e.extra),
            }
            for e in rows
        ],
        total_entries=len(rows),
    )


def _get(op_id: str, summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "tags": ["Monitoring"],
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": problem_response("Bad input."),
                "401": problem_response("No or invalid credentials."),
            },
        }
    }


OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/eventLogs": _get(
        "get_event_logs",
        "The audit log, latest first (?dag_id, ?limit)",
        [
            {"name": "dag_id", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
        ],
    ),
}
