"""The connections page ``/connections`` (Admin): list, add and delete. A password is always
shown as ``***``, and so are the values of secret-looking keys of the extra."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.errors import ConnectionNotFound
from tradewind.master.webserver import masking
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, connections

bp = Blueprint("connections", __name__)


@bp.get("/connections")
@require_role("Admin")
def connection_list() -> ResponseReturnValue:
    rows = [
        (c, masking.password(c.password), masking.extra(c.extra)) for c in connections.list_connections(get_session())
    ]
    return render_template("connections/list.html", connections=rows)


@bp.post("/connections")
@require_role("Admin")
def add_connection() -> ResponseReturnValue:
    form = request.form
    values: dict[str, Any] = {name: form.get(name) or None for name in connections.FIELDS if name != "port"}
    values["conn_type"] = form.get("conn_type", "")
    session = get_session()
    port = form.get("port", "").strip()
    values["port"] = int(port) if port.isdigit() else port or None
    try:
        connection = connections.set_connection(session, form.get("conn_id", ""), values)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("connections.connection_list"))
    audit.record(session, "connection.set", owner=_me(), extra={"conn_id": connection.conn_id})
    session.commit()
    flash(f"Connection {connection.conn_id} saved.", "info")
    return redirect(url_for("connections.connection_list"))


@bp.post("/connections/<conn_id>/delete")
@require_role("Admin")
def delete_connection(conn_id: str) -> ResponseReturnValue:
    session = get_session()
    try:
        connections.delete_connection(session, conn_id)
    except ConnectionNotFound as exc:
        flash(str(exc), "error")
        return redirect(url_for("connections.connection_list"))
    audit.record(session, "connection.delete", owner=_me(), extra={"conn_id": conn_id})
    session.commit()
    flash(f"Connection {conn_id} deleted.", "info")
    return redirect(url_for("connections.connection_list"))


def _me() -> str:
    user = current_user()
    assert user is not None
    return user.username
