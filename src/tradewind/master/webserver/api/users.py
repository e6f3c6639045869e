"""``/api/v1/users`` (Admin): the web users, read only (``tradewind users`` creates and changes
them). tradewind keeps one role per user and no names or login counters: ``first_name`` and
``last_name`` are empty, ``login_count`` and ``failed_login_count`` null."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import sorted_page
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    NOT_FOUND,
    PAGE,
    array,
    boolean,
    collection,
    date_time,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    string,
)
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import users
from tradewind.metastore.models import User

bp = Blueprint("api_users", __name__, url_prefix=f"{API_PREFIX}/users")

ORDER_FIELDS = ("username", "last_login", "created_on")


@bp.get("")
@require_role("Admin")
def get_users() -> ResponseReturnValue:
    found = [user_json(u) for u in users.list_users(get_session())]
    return jsonify(users=sorted_page(found, ORDER_FIELDS), total_entries=len(found))


@bp.get("/<username>")
@require_role("Admin")
def get_user(username: str) -> ResponseReturnValue:
    user = users.get_user_by_name(get_session(), username)
    if user is None:
        abort(404, description=f"no user named {username!r}")
    return jsonify(user_json(user))


def user_json(user: User) -> dict[str, Any]:
    """A user as Airflow answers one; ``email`` only when the user has one (Airflow needs one, so
    its client refuses an empty one)."""
    answer: dict[str, Any] = {
        "first_name": "",
        "last_name": "",
        "username": user.username,
        "active": user.active,
        "last_login": iso(user.last_login),
        "login_count": None,
        "failed_login_count": None,
        "roles": [{"name": user.role}],
        "created_on": iso(user.created_at),
        "changed_on": None,
    }
    if user.email:
        answer["email"] = user.email
    return answer


_STAMP = date_time(read_only=True)
OPENAPI_SCHEMAS: dict[str, Any] = {
    "UserCollectionItem": obj(
        {
            "first_name": string(),
            "last_name": string(),
            "username": string(),
            "email": string(description="Not given for a user without one."),
            "active": boolean(nullable=True, read_only=True),
            "last_login": _STAMP,
            "login_count": integer(nullable=True, read_only=True),
            "failed_login_count": integer(nullable=True, read_only=True),
            "roles": array(obj({"name": string()}, nullable=True)),
            "created_on": _STAMP,
            "changed_on": _STAMP,
        }
    ),
    "UserCollection": collection("users", "UserCollectionItem"),
}

_ADMIN = ("403", "The user is not an Admin.")
OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/users": {
        "get": operation(
            "get_users",
            "List the web users (Admin)",
            "User",
            ok="UserCollection",
            params=(*PAGE, order_by(ORDER_FIELDS, "username")),
            errors=(BAD_REQUEST, _ADMIN),
        )
    },
    f"{API_PREFIX}/users/{{username}}": {
        "parameters": [path_param("username")],
        "get": operation(
            "get_user", "One web user (Admin)", "User", ok="UserCollectionItem", errors=(_ADMIN, NOT_FOUND)
        ),
    },
}
