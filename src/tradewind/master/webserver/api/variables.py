"""``/api/v1/variables`` (Admin for every call: values may be secrets): list, read, create,
change and delete; values of secret-looking keys are answered as ``***``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.api import API_PREFIX, json_object, page_args
from tradewind.master.webserver.api.resource_docs import operation
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, variables
from tradewind.metastore.variables import VariableValue

bp = Blueprint("api_variables", __name__, url_prefix=f"{API_PREFIX}/variables")

_ADMIN_NOTE = "Needs the Admin role, reading included: variables may hold secrets."


@bp.get("")
@require_role("Admin")
def list_variables() -> ResponseReturnValue:
    limit, offset = page_args()
    rows = variables.list_variables(get_session())
    return jsonify(variables=[variable_json(v) for v in rows[offset : offset + limit]], total_entries=len(rows))


@bp.get("/<key>")
@require_role("Admin")
def get_variable(key: str) -> ResponseReturnValue:
    return jsonify(variable_json(variables.get_variable(get_session(), key)))


@bp.post("")
@require_role("Admin")
def create_variable() -> ResponseReturnValue:
    body = json_object()
    return _save(str(body.get("key", "")), body)


@bp.patch("/<key>")
@require_role("Admin")
def patch_variable(key: str) -> ResponseReturnValue:
    variables.get_variable(get_session(), key)
    return _save(key, json_object())


@bp.delete("/<key>")
@require_role("Admin")
def delete_variable(key: str) -> ResponseReturnValue:
    session = get_session()
    variables.delete_variable(session, key)
    audit.record(session, "variable.delete", owner=_me(), extra={"key": key, "source": "api"})
    session.commit()
    return jsonify(deleted=key)


def _save(key: str, body: dict[str, Any]) -> ResponseReturnValue:
    unknown = sorted(set(body) - {"key", "value", "description"})
    if unknown:
        abort(400, description=f"unknown fields: {', '.join(unknown)}")
    value, description = body.get("value"), body.get("description")
    if not isinstance(value, str):
        abort(400, description="value must be a string")
    if description is not None and not isinstance(description, str):
        abort(400, description="description must be a string")
    session = get_session()
    try:
        variable = variables.set_variable(session, key, value, description)
    except ValueError as exc:
        abort(400, description=str(exc))
    audit.record(session, "variable.set", owner=_me(), extra={"key": variable.key, "source": "api"})
    session.commit()
    return jsonify(variable_json(variable))


def variable_json(variable: VariableValue) -> dict[str, Any]:
    return {
        "key": variable.key,
        "value": masking.variable_value(variable.key, variable.value),
        "description": variable.description,
    }


def _me() -> str:
    user = current_user()
    assert user is not None
    return user.username


_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
_WRITE_ERRORS = {"400": "Bad input.", "403": "The user is not an Admin, or a session request lacks X-CSRFToken."}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Variable": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "value": {
                "type": "string",
                "description": "*** when the key looks secret (password, secret, token, "
                "key, passwd, api_key, private, credential).",
            },
            "description": {"type": "string", "nullable": True},
        },
    },
    "VariableCollection": {
        "type": "object",
        "properties": {
            "variables": {"type": "array", "items": {"$ref": "#/components/schemas/Variable"}},
            "total_entries": {"type": "integer"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/variables": {
        "get": operation(
            "list_variables",
            f"List variables by key. {_ADMIN_NOTE}",
            "Variable",
            ("Variables, secret values masked.", "VariableCollection"),
            extra={"403": "The user is not an Admin."},
        ),
        "post": operation(
            "create_variable",
            f"Create or replace a variable. {_ADMIN_NOTE}",
            "Variable",
            ("The variable.", "Variable"),
            body="Variable",
            extra=_WRITE_ERRORS,
        ),
    },
    f"{API_PREFIX}/variables/{{key}}": {
        "parameters": [_KEY],
        "get": operation(
            "get_variable",
            f"Read a variable. {_ADMIN_NOTE}",
            "Variable",
            ("The variable.", "Variable"),
            extra={"403": "The user is not an Admin.", "404": "No such variable."},
        ),
        "patch": operation(
            "patch_variable",
            f"Change a variable's value or description. {_ADMIN_NOTE}",
            "Variable",
            ("The variable.", "Variable"),
            body="Variable",
            extra={**_WRITE_ERRORS, "404": "No such variable."},
        ),
        "delete": operation(
            "delete_variable",
            f"Delete a variable. {_ADMIN_NOTE}",
            "Variable",
            ("Deleted.", ""),
            extra={"403": _WRITE_ERRORS["403"], "404": "No such variable."},
        ),
    },
}
