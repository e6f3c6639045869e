"""The connections page ``/connections`` (Admin): list, add and delete. A password is always
shown as ``***``, and so are the values of secret-looking keys of the extra."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from tradewind.master.webserver import masking
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.admin_forms import delete_keyed, recorded, refused
from tradewind.metastore import connections

bp = Blueprint("connections", __name__)

_LIST = "connections.connection_list"


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
        return refused(_LIST, exc)
    done = f"Connection {connection.conn_id} saved."
    return recorded(_LIST, session, "connection.set", {"conn_id": connection.conn_id}, done)


@bp.post("/connections/<conn_id>/delete")
@require_role("Admin")
def delete_connection(conn_id: str) -> ResponseReturnValue:
    return delete_keyed(_LIST, connections.ROWS, conn_id)
