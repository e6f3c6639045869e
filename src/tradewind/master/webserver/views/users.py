"""The users page ``/users`` (Admin): who may log in and with which role, how many web sessions each
has open; create, delete, and end a user's sessions (log them out everywhere)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from tradewind.errors import UserAlreadyExists, UserNotFound
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.admin_forms import confirm_first, recorded, refused
from tradewind.metastore import users, web_sessions

bp = Blueprint("users", __name__)

_LIST = "users.user_list"


@bp.get("/users")
@require_role("Admin")
def user_list() -> ResponseReturnValue:
    session = get_session()
    editing = None
    if edit := request.args.get("edit"):
        editing = users.get_user_by_name(session, edit)
        if editing is None:
            abort(404, description=f"There is no user {edit}.")
    return render_template(
        "users/list.html",
        editing=editing,
        users=users.list_users(session),
        roles=users.ROLES,
        open_sessions=web_sessions.open_counts(session, now=datetime.now(UTC)),
    )


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
        return refused(_LIST, exc)
    done = f"User {user.username} created with the {user.role} role."
    return recorded(_LIST, session, "user.create", {"username": user.username, "role": user.role}, done)


@bp.post("/users/<username>")
@require_role("Admin")
def update_user(username: str) -> ResponseReturnValue:
    """Change a user's role, email and (when one is typed) password."""
    form = request.form
    role = form.get("role", "")
    if username == current_username() and role != "Admin":
        return refused(_LIST, "You cannot take the Admin role from your own account; ask another Admin.")
    session = get_session()
    try:
        user = users.change_user(
            session,
            username,
            role=role,
            email=form.get("email", "").strip() or None,
            clear_email=not form.get("email", "").strip(),
            password=form.get("password") or None,
        )
    except (ValueError, UserNotFound) as exc:
        session.rollback()
        return refused(_LIST, exc)
    changed = ["role", "email"] + (["password"] if form.get("password") else [])
    done = f"User {user.username} saved with the {user.role} role."
    return recorded(_LIST, session, "user.change", {"username": user.username, "changed": changed}, done)


@bp.post("/users/<username>/delete")
@require_role("Admin")
def delete_user(username: str) -> ResponseReturnValue:
    if username == current_username():
        return refused(_LIST, "You cannot delete your own account; ask another Admin.")
    if (page := confirm_first(_LIST, "user", username)) is not None:
        return page
    session = get_session()
    if not users.delete_user(session, username):
        return refused(_LIST, f"There is no user {username}.")
    return recorded(_LIST, session, "user.delete", {"username": username}, f"User {username} deleted.")


@bp.post("/users/<username>/end-sessions")
@require_role("Admin")
def end_sessions(username: str) -> ResponseReturnValue:
    session = get_session()
    try:
        ended = users.end_sessions(session, username)
    except UserNotFound:
        return refused(_LIST, f"There is no user {username}.")
    done = f"Ended {ended} open session(s) of {username}; they must log in again."
    return recorded(_LIST, session, "user.end_sessions", {"username": username, "sessions": ended}, done)
