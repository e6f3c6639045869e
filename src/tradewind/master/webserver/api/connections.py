"""``/api/v1/connections`` (Admin for every call: connections hold credentials): list, read,
create, change and delete. A password is always answered as ``***``; so are secret-looking keys
of the extra."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX, json_object, page_args
from tradewind.master.webserver.api.resource_docs import operation
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, connections
from tradewind.metastore.connections import ConnectionValue

bp = Blueprint("api_connections", __name__, url_prefix=f"{API_PREFIX}/connections")

_ADMIN_NOTE = "Needs the Admin role, reading included: connections hold credentials."


@bp.get("")
@require_role("Admin")
def list_connections() -> ResponseReturnValue:
    limit, offset = page_args()
    rows = connections.list_connections(get_session())
    return jsonify(connections=[connection_json(c) for c in rows[offset : offset + limit]], total_entries=len(rows))


@bp.get("/<conn_id>")
@require_role("Admin")
def get_connection(conn_id: str) -> ResponseReturnValue:
    return jsonify(connection_json(connections.get_connection(get_session(), conn_id)))


@bp.post("")
@require_role("Admin")
def create_connection() -> ResponseReturnValue:
    body = json_object()
    return _save(str(body.pop("conn_id", "")), body)


@bp.patch("/<conn_id>")
@require_role("Admin")
def patch_connection(conn_id: str) -> ResponseReturnValue:
    connections.get_connection(get_session(), conn_id)
    body = json_object()
    body.pop("conn_id", None)
    return _save(conn_id, body)


@bp.delete("/<conn_id>")
@require_role("Admin")
def delete_connection(conn_id: str) -> ResponseReturnValue:
    session = get_session()
    connections.delete_connection(session, conn_id)
    audit.record(session, "connection.delete", owner=_me(), extra={"conn_id": conn_id, "source": "api"})
    session.commit()
    return jsonify(deleted=conn_id)


def _save(conn_id: str, body: dict[str, Any]) -> ResponseReturnValue:
    session = get_session()
    try:
        connection = connections.set_connection(session, conn_id, body)
    except ValueError as exc:
        abort(400, description=str(exc))
    audit.record(session, "connection.set", owner=_me(), extra={"conn_id": connection.conn_id, "source": "api"})
    session.commit()
    return jsonify(connection_json(connection))


def connection_json(connection: ConnectionValue) -> dict[str, Any]:
    return {
        "conn_id": connection.conn_id,
        "conn_type": connection.conn_type,
        "description": connection.description,
        "host": connection.host,
        "schema": connection.schema,
        "login": connection.login,
        "password": masking.password(connection.password),
        "port": connection.port,
        "extra": masking.extra(connection.extra),
    }


def _me() -> str:
    user = current_user()
    assert user is not None
    return user.username


_ID = {"name": "conn_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WRITE_ERRORS = {"400": "Bad input.", "403": "The user is not an Admin, or a session request lacks X-CSRFToken."}
_TEXT = {"type": "string", "nullable": True}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Connection": {
        "type": "object",
        "properties": {
            "conn_id": {"type": "string"},
            "conn_type": {"type": "string"},
            "description": _TEXT,
            "host": _TEXT,
            "schema": _TEXT,
            "login": _TEXT,
            "password": {"type": "string", "nullable": True, "description": "Written as given; always read as ***."},
            "port": {"type": "integer", "nullable": True},
            "extra": {
                "type": "string",
                "nullable": True,
                "description": "JSON text; values of secret-looking keys read as ***.",
            },
        },
    },
    "ConnectionCollection": {
        "type": "object",
        "properties": {
            "connections": {"type": "array", "items": {"$ref": "#/components/schemas/Connection"}},
            "total_entries": {"type": "integer"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/connections": {
        "get": operation(
            "list_connections",
            f"List connections by id. {_ADMIN_NOTE}",
            "Connection",
            ("Connections, secrets masked.", "ConnectionCollection"),
            extra={"403": "The user is not an Admin."},
        ),
        "post": operation(
            "create_connection",
            f"Create or replace a connection. {_ADMIN_NOTE}",
            "Connection",
            ("The connection.", "Connection"),
            body="Connection",
            extra=_WRITE_ERRORS,
        ),
    },
    f"{API_PREFIX}/connections/{{conn_id}}": {
        "parameters": [_ID],
        "get": operation(
            "get_connection",
            f"Read a connection. {_ADMIN_NOTE}",
            "Connection",
            ("The connection.", "Connection"),
            extra={"403": "The user is not an Admin.", "404": "No such connection."},
        ),
        "patch": operation(
            "patch_connection",
            f"Change fields of a connection. {_ADMIN_NOTE}",
            "Connection",
            ("The connection.", "Connection"),
            body="Connection",
            extra={**_WRITE_ERRORS, "404": "No such connection."},
        ),
        "delete": operation(
            "delete_connection",
            f"Delete a connection. {_ADMIN_NOTE}",
            "Connection",
            ("Deleted.", ""),
            extra={"403": _WRITE_ERRORS["403"], "404": "No such connection."},
        ),
    },
}
