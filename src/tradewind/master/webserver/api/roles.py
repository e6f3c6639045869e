"""``/api/v1/roles`` and ``/api/v1/permissions`` (Admin): tradewind's three fixed roles and what each
may do, in Airflow's terms (an action on a resource). Each role may do everything the one before
it may: Viewer reads everything but connections, variables, the configuration and users; Op also
triggers, clears, marks, pauses, notes and deletes runs; Admin also manages pools, connections,
variables and reads users and the configuration. Roles are fixed: they cannot be created or changed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.request_check import page_of, requested_order
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    NOT_FOUND,
    PAGE,
    array,
    collection,
    obj,
    operation,
    order_by,
    path_param,
    ref,
    string,
)
from tradewind.master.webserver.auth import require_role
from tradewind.metastore.users import ROLES

bp = Blueprint("api_roles", __name__, url_prefix=API_PREFIX)

ACTIONS = ("can_read", "can_edit", "can_create", "can_delete")
_OPEN = ("DAGs", "DAG Runs", "Task Instances", "Task Logs", "XComs", "Audit Logs", "ImportError", "Pools", "Website")
#: role -> (action, resource) pairs it adds to the roles before it.
_ADDS: dict[str, list[tuple[str, str]]] = {
    "Viewer": [("can_read", resource) for resource in _OPEN],
    "Op": [
        ("can_edit", "DAGs"),
        ("can_create", "DAG Runs"),
        ("can_edit", "DAG Runs"),
        ("can_delete", "DAG Runs"),
        ("can_edit", "Task Instances"),
    ],
    "Admin": [
        *((action, "Pools") for action in ("can_create", "can_edit", "can_delete")),
        *((action, resource) for resource in ("Connections", "Variables") for action in ACTIONS),
        ("can_read", "Users"),
        ("can_read", "Configurations"),
    ],
}


def permissions_of(role: str) -> list[tuple[str, str]]:
    """Every (action, resource) ``role`` may do."""
    return [pair for earlier in ROLES[: ROLES.index(role) + 1] for pair in _ADDS[earlier]]


def role_json(role: str) -> dict[str, Any]:
    return {
        "name": role,
        "actions": [{"action": {"name": a}, "resource": {"name": r}} for a, r in permissions_of(role)],
    }


@bp.get("/roles")
@require_role("Admin")
def get_roles() -> ResponseReturnValue:
    _, descending = requested_order(("name",))
    names = sorted(ROLES, reverse=descending)
    return jsonify(roles=[role_json(r) for r in page_of(names)], total_entries=len(names))


@bp.get("/roles/<role_name>")
@require_role("Admin")
def get_role(role_name: str) -> ResponseReturnValue:
    if role_name not in ROLES:
        abort(404, description=f"no role {role_name!r}; tradewind's roles are {', '.join(ROLES)}")
    return jsonify(role_json(role_name))


@bp.get("/permissions")
@require_role("Admin")
def get_permissions() -> ResponseReturnValue:
    return jsonify(actions=[{"name": a} for a in page_of(ACTIONS)], total_entries=len(ACTIONS))


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Action": obj({"name": string()}),
    "Resource": obj({"name": string()}),
    "ActionResource": obj({"action": ref("Action"), "resource": ref("Resource")}),
    "Role": obj({"name": string(), "actions": array(ref("ActionResource"))}),
    "RoleCollection": collection("roles", "Role"),
    "ActionCollection": collection("actions", "Action"),
}

_ADMIN = ("403", "The user is not an Admin.")
OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/roles": {
        "get": operation(
            "get_roles",
            "tradewind's roles (Admin)",
            "Role",
            ok="RoleCollection",
            params=(*PAGE, order_by(("name",), "name")),
            errors=(BAD_REQUEST, _ADMIN),
        )
    },
    f"{API_PREFIX}/roles/{{role_name}}": {
        "parameters": [path_param("role_name")],
        "get": operation(
            "get_role", "One role and what it may do (Admin)", "Role", ok="Role", errors=(_ADMIN, NOT_FOUND)
        ),
    },
    f"{API_PREFIX}/permissions": {
        "get": operation(
            "get_permissions",
            "The actions a role may be given (Admin)",
            "Permission",
            ok="ActionCollection",
            params=PAGE,
            errors=(_ADMIN,),
        )
    },
}
