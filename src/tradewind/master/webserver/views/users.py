"""The users page ``/users`` (Admin): who may log in and with which role; create and delete."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.errors import UserAlreadyExists
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, users

bp = Blueprint("users", __name__)


@bp.get("/users")
@require_role("Admin")
def user_list() -> ResponseReturnValue:
    return render_template("users/list.html", users=users.list_users(get_session()), roles=users.ROLES)


@bp.post("/users")
@require_role("Admin")
def create_user() -> ResponseReturnValue:
    form = request.form
    session = get_session()
    try:
        user = users.create_user(
            session,
            form.get("username", ""),
            form.get("password", ""),
            form.get("role", ""),
            email=form.get("email") or None,
        )
    except (ValueError, UserAlreadyExists) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("users.user_list"))
    audit.record(session, "user.create", owner=_me(), extra={"username": user.username, "role": user.role})
    session.commit()
    flash(f"User {user.username} created with the {user.role} role.", "info")
    return redirect(url_for("users.user_list"))


@bp.post("/users/<username>/delete")
@require_role("Admin")
def delete_user(username: str) -> ResponseReturnValue:
    if username == _me():
        flash("You cannot delete your own account; ask another Admin.", "error")
        return redirect(url_for("users.user_list"))
    session = get_session()
    if users.delete_user(session, username):
        audit.record(session, "user.delete", owner=_me(), extra={"username": username})
        session.commit()
        flash(f"User {username} deleted.", "info")
    else:
        flash(f"There is no user {username}.", "error")
    return redirect(url_for("users.user_list"))


def _me() -> str:
    user = current_user()
    assert user is not None
    return user.username
