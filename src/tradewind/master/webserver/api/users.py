"""``/api/v1/users`` (Admin): the web users — list, read, create, change and delete them, as
Airflow's API does (``tradewind users`` does the same from the command line). tradewind keeps one
role per user (Viewer, Op or Admin) and no names or login counters: ``first_name`` and ``last_name``
are accepted and answered empty, ``login_count`` and ``failed_login_count`` null. A password change
ends the user's web sessions; an Admin cannot delete their own account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import arg, body, sorted_page
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
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
    string,
)
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, users
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


@bp.post("")
@require_role("Admin")
def post_user() -> ResponseReturnValue:
    """Create a user: 409 when the name is taken."""
    form = body()
    missing = [name for name in ("username", "password", "roles") if not form.get(name)]
    if missing:
        abort(400, description=f"a user needs {', '.join(missing)}")
    session = get_session()
    user = users.create_user(session, form["username"], form["password"], _role(form), email=form.get("email"))
    _record(session, "user.create", user)
    return jsonify(user_json(user))


@bp.patch("/<username>")
@require_role("Admin")
def patch_user(username: str) -> ResponseReturnValue:
    """Change a user's role, email or password (``update_mask`` names which; all given, without it)."""
    session = get_session()
    user = _user(username)
    form = body()
    mask = arg("update_mask")
    if mask:
        unknown = sorted(set(mask) - set(WRITABLE))
        if unknown:
            abort(400, description=f"update_mask names no field a user can change: {', '.join(unknown)}")
        form = {name: value for name, value in form.items() if name in mask}
    if form.get("username", username) != username:
        abort(400, description="a user cannot be renamed; create one with the new name instead")
    users.change_user(
        session,
        username,
        role=_role(form) if "roles" in form else None,
        email=form.get("email") or None,
        clear_email="email" in form and not form["email"],
        password=form.get("password") or None,
    )
    _record(session, "user.change", user, changed=sorted(name for name in form if name in WRITABLE))
    return jsonify(user_json(user))


@bp.delete("/<username>")
@require_role("Admin")
def delete_user(username: str) -> ResponseReturnValue:
    session = get_session()
    user = _user(username)
    if username == current_username():
        abort(400, description="You cannot delete your own account; ask another Admin.")
    _record(session, "user.delete", user)
    users.delete_user(session, username)
    session.commit()
    return Response(status=204)


#: What a PATCH may change (``username`` only as itself; names are not kept).
WRITABLE = ("username", "roles", "email", "password", "first_name", "last_name")


def _user(username: str) -> User:
    user = users.get_user_by_name(get_session(), username)
    if user is None:
        abort(404, description=f"no user named {username!r}")
    return user


def _role(form: dict[str, Any]) -> str:
    """The one role a user has: ``roles`` must name exactly one of Viewer, Op or Admin."""
    names = [r.get("name") for r in form.get("roles") or [] if isinstance(r, dict)]
    if len(names) != 1 or names[0] not in users.ROLES:
        abort(400, description=f"roles must name exactly one of {', '.join(users.ROLES)}, not {names!r}")
    return str(names[0])


def _record(session: Any, event: str, user: User, **extra: Any) -> None:
    audit.record(
        session, event, owner=current_username(), extra={"username": user.username, "role": user.role, **extra}
    )
    session.commit()


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
#: A user's fields as answered; ``User`` (what a POST or PATCH sends) adds the write-only password.
_USER_FIELDS: dict[str, Any] = {
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
OPENAPI_SCHEMAS: dict[str, Any] = {
    "UserCollectionItem": obj(_USER_FIELDS),
    "User": obj({**_USER_FIELDS, "password": {**string(), "writeOnly": True}}),
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
        ),
        "post": operation(
            "post_user",
            "Create a web user (Admin)",
            "User",
            ok="User",
            body="User",
            errors=(BAD_REQUEST, _ADMIN, ("409", "A user with that name exists.")),
        ),
    },
    f"{API_PREFIX}/users/{{username}}": {
        "parameters": [path_param("username")],
        "get": operation(
            "get_user", "One web user (Admin)", "User", ok="UserCollectionItem", errors=(_ADMIN, NOT_FOUND)
        ),
        "patch": operation(
            "patch_user",
            "Change a web user's role, email or password (Admin); a new password ends their sessions",
            "User",
            ok="User",
            params=(UPDATE_MASK,),
            body="User",
            errors=(BAD_REQUEST, _ADMIN, NOT_FOUND),
        ),
        "delete": operation(
            "delete_user",
            "Delete a web user (Admin), never one's own account",
            "User",
            ok=None,
            status="204",
            ok_description="Deleted.",
            errors=(BAD_REQUEST, _ADMIN, NOT_FOUND),
        ),
    },
}
