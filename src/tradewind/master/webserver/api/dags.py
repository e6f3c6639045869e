"""``/api/v1/dags``: list DAGs, read one, pause or unpause it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.errors import DagNotFound
from tradewind.master.webserver.api import (
    API_PREFIX,
    LIMIT_PARAMETER,
    OFFSET_PARAMETER,
    json_object,
    json_response,
    page_args,
    problem_response,
    query_bool,
)
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import dag_overview
from tradewind.metastore.models import DagModel

bp = Blueprint("api_dags", __name__, url_prefix=f"{API_PREFIX}/dags")

PATCHABLE = frozenset({"is_paused"})


@bp.get("")
def list_dags() -> ResponseReturnValue:
    limit, offset = page_args()
    page = dag_overview.list_dag_page(
        get_session(),
        search=request.args.get("search", "").strip() or None,
        tags=request.args.getlist("tags"),
        paused=query_bool("paused"),
        limit=limit,
        offset=offset,
    )
    return jsonify(dags=[dag_json(dag) for dag in page.dags], total_entries=page.total)


@bp.get("/<dag_id>")
def get_dag(dag_id: str) -> ResponseReturnValue:
    dag = dag_overview.get_dag_row(get_session(), dag_id)
    if dag is None:
        raise DagNotFound(f"no DAG with id {dag_id!r}")
    return jsonify(dag_json(dag))


@bp.patch("/<dag_id>")
@require_role("Op")
def patch_dag(dag_id: str) -> ResponseReturnValue:
    body = json_object()
    unknown = sorted(set(body) - PATCHABLE)
    if unknown:
        abort(400, description=f"only {', '.join(sorted(PATCHABLE))} can be changed, not {', '.join(unknown)}")
    if not isinstance(body.get("is_paused"), bool):
        abort(400, description=f"is_paused must be true or false, not {body.get('is_paused')!r}")
    user = current_user()
    assert user is not None
    session = get_session()
    dag = actions.set_paused(session, dag_id, body["is_paused"], owner=user.username, source="api")
    session.commit()
    return jsonify(dag_json(dag))


def dag_json(dag: DagModel) -> dict[str, Any]:
    """A DAG as the API shows it (Airflow's field names where Airflow has the field)."""
    return {
        "dag_id": dag.dag_id,
        "description": dag.description,
        "fileloc": dag.fileloc,
        "owners": [owner.strip() for owner in (dag.owners or "").split(",") if owner.strip()],
        "tags": [{"name": tag} for tag in sorted(dag.tags or [])],
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "has_import_errors": dag.has_import_errors,
        "timetable_description": dag.schedule_description,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "last_parsed_time": _iso(dag.last_parsed),
        "next_dagrun_create_after": _iso(dag.next_dagrun_create_after),
        "next_dagrun_data_interval_start": _iso(dag.next_dagrun_data_interval_start),
        "next_dagrun_data_interval_end": _iso(dag.next_dagrun_data_interval_end),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


_DAG_ID = {"name": "dag_id", "in": "path", "required": True, "schema": {"type": "string"}}
_NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "DAG": {
        "type": "object",
        "properties": {
            "dag_id": {"type": "string"},
            "description": {"type": "string", "nullable": True},
            "fileloc": {"type": "string"},
            "owners": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "is_paused": {"type": "boolean"},
            "is_active": {"type": "boolean"},
            "has_import_errors": {"type": "boolean"},
            "timetable_description": {"type": "string", "nullable": True},
            "max_active_runs": {"type": "integer", "nullable": True},
            "max_active_tasks": {"type": "integer", "nullable": True},
            "last_parsed_time": _NULLABLE_TIME,
            "next_dagrun_create_after": _NULLABLE_TIME,
            "next_dagrun_data_interval_start": _NULLABLE_TIME,
            "next_dagrun_data_interval_end": _NULLABLE_TIME,
        },
    },
    "DAGCollection": {
        "type": "object",
        "properties": {
            "dags": {"type": "array", "items": {"$ref": "#/components/schemas/DAG"}},
            "total_entries": {"type": "integer"},
        },
    },
    "DAGPatch": {
        "type": "object",
        "required": ["is_paused"],
        "additionalProperties": False,
        "properties": {"is_paused": {"type": "boolean"}},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dags": {
        "get": {
            "operationId": "list_dags",
            "summary": "List active DAGs by id",
            "tags": ["DAG"],
            "parameters": [
                LIMIT_PARAMETER,
                OFFSET_PARAMETER,
                {
                    "name": "tags",
                    "in": "query",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "description": "Only DAGs carrying at least one of these tags.",
                    "schema": {"type": "array", "items": {"type": "string"}},
                },
                {
                    "name": "search",
                    "in": "query",
                    "required": False,
                    "description": "Only DAGs whose id contains this text (any case).",
                    "schema": {"type": "string"},
                },
                {"name": "paused", "in": "query", "required": False, "schema": {"type": "boolean"}},
            ],
            "responses": {
                "200": json_response("One page of DAGs and how many matched.", "DAGCollection"),
                "400": problem_response("A bad query parameter."),
                "401": problem_response("No or invalid credentials."),
            },
        },
    },
    f"{API_PREFIX}/dags/{{dag_id}}": {
        "parameters": [_DAG_ID],
        "get": {
            "operationId": "get_dag",
            "summary": "Read one DAG",
            "tags": ["DAG"],
            "responses": {
                "200": json_response("The DAG.", "DAG"),
                "401": problem_response("No or invalid credentials."),
                "404": problem_response("No DAG with that id."),
            },
        },
        "patch": {
            "operationId": "patch_dag",
            "summary": "Pause or unpause a DAG (Op role); recorded in the audit log",
            "tags": ["DAG"],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DAGPatch"}}},
            },
            "responses": {
                "200": json_response("The DAG after the change.", "DAG"),
                "400": problem_response('The body is not {"is_paused": true|false}.'),
                "401": problem_response("No or invalid credentials."),
                "403": problem_response("The user's role is below Op, or a session request lacks X-CSRFToken."),
                "404": problem_response("No DAG with that id."),
            },
        },
    },
}
