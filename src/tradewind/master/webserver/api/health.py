"""``/api/v1/health``: the same public document as ``/health``, where API clients look for it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX, json_response
from tradewind.master.webserver.auth import public
from tradewind.master.webserver.views.health import health_report

bp = Blueprint("api_health", __name__, url_prefix=f"{API_PREFIX}/health")


@bp.get("")
@public
def health() -> ResponseReturnValue:
    report, status = health_report()
    return jsonify(report), status


_STATUS = {"type": "string", "enum": ["healthy", "unhealthy"]}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Health": {
        "type": "object",
        "properties": {
            "metastore": {"type": "object", "properties": {"status": _STATUS}},
            "scheduler": {
                "type": "object",
                "properties": {
                    "status": _STATUS,
                    "latest_heartbeat": {"type": "string", "format": "date-time", "nullable": True},
                    "age_seconds": {"type": "number", "nullable": True},
                },
            },
            "workers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "hostname": {"type": "string"},
                        "queues": {"type": "array", "items": {"type": "string"}},
                        "last_heartbeat": {"type": "string", "format": "date-time"},
                        "running": {"type": "integer"},
                    },
                },
            },
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/health": {
        "get": {
            "operationId": "get_health",
            "summary": "Metastore, scheduler and worker health (no login needed; also at /health)",
            "tags": ["Monitoring"],
            "security": [],
            "responses": {
                "200": json_response("The metastore answers (whatever the scheduler's state).", "Health"),
                "503": json_response("The metastore does not answer.", "Health"),
            },
        },
    },
}
