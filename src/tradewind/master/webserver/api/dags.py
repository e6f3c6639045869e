"""``/api/v1/dags``: list DAGs, read one, pause or unpause one or many, delete one (Airflow's ``DAG``
schema).

tradewind has no SubDAGs and no DAG pickling: ``root_dag_id``, ``last_pickled``, ``pickle_id`` and
friends are always null, ``is_subdag`` false, as in an Airflow without them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.errors import DagNotFound, TradewindException
from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.dag_sources import file_token
from tradewind.master.webserver.api.request_check import arg, body, requested_order
from tradewind.master.webserver.api.spec import (
    FORBIDDEN,
    NOT_FOUND,
    PAGE,
    UPDATE_MASK,
    array,
    boolean,
    collection,
    date_time,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    query_param,
    ref,
    string,
    strings,
)
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import dag_overview, dags
from tradewind.metastore.models import DagModel
from tradewind.sdk.serialization import stored_timetable
from tradewind.sdk.timetables.interval import DeltaDataIntervalTimetable
from tradewind.sdk.timetables.simple import NullTimetable

bp = Blueprint("api_dags", __name__, url_prefix=f"{API_PREFIX}/dags")

ORDER_FIELDS = ("dag_id", "dag_display_name")


@bp.get("")
def get_dags() -> ResponseReturnValue:
    found = _matching(offset=arg("offset"), limit=arg("limit"), descending=_descending(arg("order_by")))
    return jsonify(dags=[_fields(dag) for dag in _dags_json(found.dags)], total_entries=found.total)


@bp.patch("")
@require_role("Op")
def patch_dags() -> ResponseReturnValue:
    """Pause or unpause every DAG the filters match (one page of them), as Airflow's ``patch_dags``."""
    paused = _is_paused(body())
    found = _matching(offset=arg("offset"), limit=arg("limit"), descending=False)
    session = get_session()
    for dag in found.dags:
        actions.set_paused(session, dag.dag_id, paused, owner=current_username(), source="api")
    session.commit()
    rows = [dag_overview.get_dag_row(session, dag.dag_id) for dag in found.dags]
    return jsonify(dags=_dags_json([row for row in rows if row is not None]), total_entries=found.total)


@bp.get("/<dag_id>")
def get_dag(dag_id: str) -> ResponseReturnValue:
    return jsonify(_fields(_dags_json([_row(dag_id)])[0]))


@bp.patch("/<dag_id>")
@require_role("Op")
def patch_dag(dag_id: str) -> ResponseReturnValue:
    paused = _is_paused(body())
    _row(dag_id)
    session = get_session()
    actions.set_paused(session, dag_id, paused, owner=current_username(), source="api")
    session.commit()
    return jsonify(_dags_json([_row(dag_id)])[0])


@bp.delete("/<dag_id>")
@require_role("Op")
def delete_dag(dag_id: str) -> ResponseReturnValue:
    """As Airflow: 204; 404 for an unknown DAG; 409 while one of its task instances runs."""
    session = get_session()
    actions.delete_dag(session, dag_id, owner=current_username(), source="api")
    session.commit()
    return Response(status=204)


def _matching(*, offset: int, limit: int, descending: bool) -> dag_overview.DagPage:
    return dag_overview.list_dag_page(
        get_session(),
        search=arg("dag_id_pattern"),
        tags=arg("tags") or [],
        paused=arg("paused"),
        limit=limit,
        offset=offset,
        include_inactive=not arg("only_active"),
        descending=descending,
    )


def _descending(order: str) -> bool:
    return requested_order(ORDER_FIELDS, order)[1]


def _is_paused(patch: dict[str, Any]) -> bool:
    mask = arg("update_mask")
    if mask and set(mask) != {"is_paused"}:
        abort(400, description=f"only is_paused can be changed, not {', '.join(sorted(set(mask) - {'is_paused'}))}")
    if not isinstance(patch.get("is_paused"), bool):
        abort(400, description='the body must be {"is_paused": true} or {"is_paused": false}')
    return bool(patch["is_paused"])


def _row(dag_id: str) -> DagModel:
    dag = dag_overview.get_dag_row(get_session(), dag_id)
    if dag is None:
        raise DagNotFound(f"no DAG with id {dag_id!r}")
    return dag


def _fields(answer: dict[str, Any]) -> dict[str, Any]:
    """Only the ``fields`` asked for (Airflow's ``fields`` parameter), else all."""
    wanted = arg("fields")
    if not wanted:
        return answer
    unknown = sorted(set(wanted) - set(answer))
    if unknown:
        abort(400, description=f"fields names no field of a DAG: {', '.join(unknown)}")
    return {name: answer[name] for name in answer if name in wanted}


def _dags_json(rows: list[DagModel]) -> list[dict[str, Any]]:
    structures = dags.serialized_of(get_session(), [row.dag_id for row in rows])
    return [dag_json(row, structures.get(row.dag_id)) for row in rows]


def dag_json(dag: DagModel, serialized: dict[str, Any] | None) -> dict[str, Any]:
    """A DAG as the API shows it; ``serialized`` (its stored structure) gives its schedule."""
    tasks = (serialized or {}).get("tasks", [])
    return {
        "dag_id": dag.dag_id,
        "dag_display_name": dag.dag_id,
        "root_dag_id": None,
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "is_subdag": False,
        "last_parsed_time": iso(dag.last_parsed),
        "last_pickled": None,
        "last_expired": None,
        "scheduler_lock": None,
        "pickle_id": None,
        "default_view": (serialized or {}).get("default_view") or "grid",
        "fileloc": dag.fileloc,
        "file_token": file_token(dag.fileloc),
        "owners": [owner.strip() for owner in (dag.owners or "").split(",") if owner.strip()],
        "description": dag.description,
        "schedule_interval": schedule_interval(serialized) if serialized else None,
        "timetable_description": dag.schedule_description,
        "tags": [{"name": tag} for tag in sorted(dag.tags or [])],
        "max_active_tasks": dag.max_active_tasks,
        "max_active_runs": dag.max_active_runs,
        "has_task_concurrency_limits": any(t.get("max_active_tis_per_dag") is not None for t in tasks),
        "has_import_errors": dag.has_import_errors,
        "next_dagrun": iso(dag.next_dagrun_data_interval_start),
        "next_dagrun_data_interval_start": iso(dag.next_dagrun_data_interval_start),
        "next_dagrun_data_interval_end": iso(dag.next_dagrun_data_interval_end),
        "next_dagrun_create_after": iso(dag.next_dagrun_create_after),
        "max_consecutive_failed_dag_runs": 0,
    }


def schedule_interval(serialized: dict[str, Any]) -> dict[str, Any] | None:
    """A stored DAG's schedule as Airflow's ``ScheduleInterval``: a time delta or a relative delta
    for a fixed period, null for a DAG that only runs when triggered, and otherwise (a cron, a
    preset, ``@once``, any other timetable) a cron expression holding the timetable's summary, as
    Airflow's ``schedule_interval`` does."""
    try:
        _, timetable = stored_timetable(serialized)
    except TradewindException:  # a custom timetable whose plugin this webserver has not loaded
        return None
    if isinstance(timetable, NullTimetable):
        return None
    if not isinstance(timetable, DeltaDataIntervalTimetable):
        return {"__type": "CronExpression", "value": timetable.summary}
    delta = timetable.delta
    if isinstance(delta, timedelta):
        return {"__type": "TimeDelta", "days": delta.days, "seconds": delta.seconds, "microseconds": delta.microseconds}
    names = ("years", "months", "days", "leapdays", "hours", "minutes", "seconds", "microseconds")
    fixed = ("year", "month", "day", "hour", "minute", "second", "microsecond")
    return {
        "__type": "RelativeDelta",
        **{name: int(getattr(delta, name, 0) or 0) for name in names},
        **{name: int(getattr(delta, name, None) or 0) for name in fixed},
    }


# --- OpenAPI ---------------------------------------------------------------------------------------

_READ_TIME = date_time(read_only=True)
_FILTERS = (
    strings("tags", "Only DAGs carrying at least one of these tags."),
    query_param("only_active", boolean(default=True), description="Only DAGs whose file still defines them."),
    query_param("paused", boolean(), description="Only paused (true) or unpaused (false) DAGs."),
    query_param("dag_id_pattern", string(), description="Only DAGs whose id contains this text (any case)."),
)
_FIELDS = strings("fields", "Answer only these fields of each DAG.")
_TIME_DELTA = {
    "__type": string(),
    "days": integer(),
    "seconds": integer(),
    "microseconds": integer(),
}
_RELATIVE = ("years", "months", "days", "leapdays", "hours", "minutes", "seconds", "microseconds")
_ABSOLUTE = ("year", "month", "day", "hour", "minute", "second", "microsecond")

#: The fields of a DAG (``DAGDetail`` adds its own).
DAG_PROPERTIES: dict[str, Any] = {
    "dag_id": string(read_only=True),
    "dag_display_name": string(read_only=True),
    "root_dag_id": string(nullable=True, read_only=True, description="Always null: no SubDAGs."),
    "is_paused": boolean(nullable=True),
    "is_active": boolean(nullable=True, read_only=True),
    "is_subdag": boolean(read_only=True, description="Always false: no SubDAGs."),
    "last_parsed_time": _READ_TIME,
    "last_pickled": date_time(read_only=True, description="Always null: DAGs are never pickled."),
    "last_expired": _READ_TIME,
    "scheduler_lock": boolean(nullable=True, read_only=True),
    "pickle_id": string(nullable=True, read_only=True),
    "default_view": string(nullable=True, read_only=True),
    "fileloc": string(read_only=True),
    "file_token": string(read_only=True, description="Names the file for /dagSources."),
    "owners": array(string(), read_only=True),
    "description": string(nullable=True, read_only=True),
    "schedule_interval": ref("ScheduleInterval", read_only=True),
    "timetable_description": string(nullable=True, read_only=True),
    "tags": array(ref("Tag"), nullable=True, read_only=True),
    "max_active_tasks": integer(nullable=True, read_only=True),
    "max_active_runs": integer(nullable=True, read_only=True),
    "has_task_concurrency_limits": boolean(nullable=True, read_only=True),
    "has_import_errors": boolean(nullable=True, read_only=True),
    "next_dagrun": _READ_TIME,
    "next_dagrun_data_interval_start": _READ_TIME,
    "next_dagrun_data_interval_end": _READ_TIME,
    "next_dagrun_create_after": _READ_TIME,
    "max_consecutive_failed_dag_runs": integer(nullable=True, read_only=True),
}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Tag": obj({"name": string()}),
    "TimeDelta": obj(_TIME_DELTA, required=tuple(_TIME_DELTA), nullable=True),
    "RelativeDelta": obj(
        {"__type": string(), **{name: integer() for name in (*_RELATIVE, *_ABSOLUTE)}},
        required=("__type", *_RELATIVE, *_ABSOLUTE),
    ),
    "CronExpression": obj({"__type": string(), "value": string()}, required=("__type", "value")),
    "ScheduleInterval": {
        "anyOf": [ref("TimeDelta"), ref("RelativeDelta"), ref("CronExpression")],
        "nullable": True,
        "readOnly": True,
    },
    "DAG": obj(DAG_PROPERTIES),
    "DAGCollection": collection("dags", "DAG"),
}


_DAG_ID = path_param("dag_id")

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dags": {
        "get": operation(
            "get_dags",
            "List DAGs",
            "DAG",
            ok="DAGCollection",
            params=(*PAGE, order_by(ORDER_FIELDS, "dag_id"), *_FILTERS, _FIELDS),
            errors=(("400", "A bad query parameter."),),
        ),
        "patch": operation(
            "patch_dags",
            "Pause or unpause the DAGs the filters match (Op)",
            "DAG",
            ok="DAGCollection",
            params=(*PAGE, *_FILTERS, UPDATE_MASK),
            body="DAG",
            errors=(("400", "A bad query parameter or body."), FORBIDDEN, NOT_FOUND),
        ),
    },
    f"{API_PREFIX}/dags/{{dag_id}}": {
        "parameters": [_DAG_ID],
        "get": operation("get_dag", "Read one DAG", "DAG", ok="DAG", params=(_FIELDS,), errors=(NOT_FOUND,)),
        "patch": operation(
            "patch_dag",
            "Pause or unpause a DAG (Op); recorded in the audit log",
            "DAG",
            ok="DAG",
            params=(UPDATE_MASK,),
            body="DAG",
            errors=(("400", 'The body is not {"is_paused": true|false}.'), FORBIDDEN, NOT_FOUND),
        ),
        "delete": operation(
            "delete_dag",
            "Delete a DAG's runs, task instances, XComs and logs (Op); its file, if still there, brings it back",
            "DAG",
            ok=None,
            status="204",
            ok_description="Deleted.",
            errors=(FORBIDDEN, NOT_FOUND, ("409", "A task instance of the DAG is still running.")),
        ),
    },
}
