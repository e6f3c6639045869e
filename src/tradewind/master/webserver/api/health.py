"""``/api/v1/health``: the same public document as ``/health`` (Airflow's ``HealthInfo`` plus
tradewind's workers), where API clients look for it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.spec import (
    array,
    date_time,
    integer,
    json_body,
    number,
    obj,
    operation,
    ref,
    string,
)
from tradewind.master.webserver.auth import public
from tradewind.master.webserver.views.health import health_report

bp = Blueprint("api_health", __name__, url_prefix=f"{API_PREFIX}/health")


@bp.get("")
@public
def get_health() -> ResponseReturnValue:
    report, status = health_report()
    return jsonify(report), status


_STATUS = string(nullable=True, enum=["healthy", "unhealthy"])


def _role(heartbeat: str, what: str) -> dict[str, Any]:
    return obj({"status": _STATUS, heartbeat: date_time(read_only=True, description=what)})


OPENAPI_SCHEMAS: dict[str, Any] = {
    "HealthInfo": obj(
        {
            "metadatabase": obj({"status": _STATUS}),
            "scheduler": obj(
                {
                    "status": _STATUS,
                    "latest_scheduler_heartbeat": date_time(read_only=True),
                    "age_seconds": number(nullable=True, description="tradewind: seconds since that heartbeat."),
                }
            ),
            "triggerer": _role("latest_triggerer_heartbeat", "Always null: no triggerer yet."),
            "dag_processor": _role("latest_dag_processor_heartbeat", "Always null: the scheduler parses DAG files."),
            "workers": array(ref("WorkerHealth"), description="tradewind: the live workers."),
        }
    ),
    "WorkerHealth": obj(
        {
            "hostname": string(),
            "status": string(enum=["healthy", "unhealthy"]),
            "problem": string(nullable=True, description="Why the worker cannot work, if it cannot."),
            "queues": array(string()),
            "last_heartbeat": date_time(nullable=False),
            "running": integer(),
            "broker_reconnects": integer(),
        }
    ),
}

_GET = operation(
    "get_health",
    "Metastore, scheduler and worker health (no login needed; also at /health)",
    "Monitoring",
    ok="HealthInfo",
    ok_description="The metastore answers (whatever the scheduler's state).",
    public=True,
)
_GET["responses"]["503"] = json_body("HealthInfo", "The metastore does not answer.")

OPENAPI_PATHS: dict[str, Any] = {f"{API_PREFIX}/health": {"get": _GET}}
