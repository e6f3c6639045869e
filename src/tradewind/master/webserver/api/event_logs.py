"""``/api/v1/eventLogs``: the audit log of every action (who paused, triggered, cleared, marked…,
from the UI, the API or the CLI). An event's ``extra`` is JSON text, as in Airflow."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import arg, requested_order
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    NOT_FOUND,
    PAGE,
    collection,
    date_time,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    query_param,
    string,
)
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit
from tradewind.metastore.models import AuditLog

bp = Blueprint("api_event_logs", __name__, url_prefix=f"{API_PREFIX}/eventLogs")

_EQUAL = ("dag_id", "task_id", "run_id", "map_index", "event", "owner")


@bp.get("")
def get_event_logs() -> ResponseReturnValue:
    order = arg("order_by")
    requested_order(audit.EVENT_COLUMNS)
    if arg("try_number") is not None:
        # tradewind's audit log records actions on task instances, never a try of one.
        return jsonify(event_logs=[], total_entries=0)
    rows, total = audit.search_events(
        get_session(),
        equal={name: arg(name) for name in _EQUAL if arg(name) is not None},
        before=arg("before"),
        after=arg("after"),
        included=_names(arg("included_events")),
        excluded=_names(arg("excluded_events")),
        order=order,
        limit=arg("limit"),
        offset=arg("offset"),
    )
    return jsonify(event_logs=[event_json(e) for e in rows], total_entries=total)


@bp.get("/<event_log_id>")
def get_event_log(event_log_id: str) -> ResponseReturnValue:
    event = audit.get_event(get_session(), int(event_log_id))
    if event is None:
        abort(404, description=f"no event with id {event_log_id}")
    return jsonify(event_json(event))


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def event_json(e: AuditLog) -> dict[str, Any]:
    return {
        "event_log_id": e.id,
        "when": iso(e.dttm),
        "dag_id": e.dag_id,
        "task_id": e.task_id,
        "run_id": e.run_id,
        "map_index": e.map_index,
        "try_number": None,
        "event": e.event,
        "execution_date": None,
        "owner": e.owner,
        "extra": json.dumps(masking.details(e.extra), sort_keys=True) if e.extra is not None else None,
    }


OPENAPI_SCHEMAS: dict[str, Any] = {
    "EventLog": obj(
        {
            "event_log_id": integer(read_only=True),
            "when": date_time(nullable=False, read_only=True),
            "dag_id": string(nullable=True, read_only=True),
            "task_id": string(nullable=True, read_only=True),
            "run_id": string(nullable=True, read_only=True),
            "map_index": integer(nullable=True, read_only=True),
            "try_number": integer(nullable=True, read_only=True, description="Always null: actions, not tries."),
            "event": string(read_only=True),
            "execution_date": date_time(read_only=True, description="Always null: see run_id."),
            "owner": string(nullable=True, read_only=True),
            "extra": string(nullable=True, read_only=True, description="JSON text: the action's details."),
        }
    ),
    "EventLogCollection": collection("event_logs", "EventLog"),
}

_TEXT = string()
OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/eventLogs": {
        "get": operation(
            "get_event_logs",
            "The audit log",
            "EventLog",
            ok="EventLogCollection",
            params=(
                *PAGE,
                order_by(tuple(audit.EVENT_COLUMNS), "event_log_id"),
                *(query_param(name, integer() if name == "map_index" else _TEXT) for name in _EQUAL),
                query_param("try_number", integer()),
                query_param("before", date_time(nullable=False), description="Only events before this time."),
                query_param("after", date_time(nullable=False), description="Only events after this time."),
                query_param("included_events", _TEXT, description="Only these events (comma-separated)."),
                query_param("excluded_events", _TEXT, description="Not these events (comma-separated)."),
            ),
            errors=(BAD_REQUEST,),
        ),
    },
    f"{API_PREFIX}/eventLogs/{{event_log_id}}": {
        "parameters": [path_param("event_log_id", integer())],
        "get": operation("get_event_log", "One event", "EventLog", ok="EventLog", errors=(NOT_FOUND,)),
    },
}
