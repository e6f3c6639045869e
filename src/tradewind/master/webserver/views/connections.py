"""The connections page ``/connections`` (Admin): list, add, edit, test and delete. A password is
never shown and the values of secret-looking keys of the extra read ``***``; an edit that leaves
the password empty keeps it, and an extra sent back with its ``***`` keeps the values they hide.
The form offers the served connection types and relabels or hides fields per type (each hook's
``get_ui_field_behaviour``); "Test" connects with what the form holds, without saving it, when
``TRADEWIND_WEBSERVER_TEST_CONNECTION`` allows it (off by default, as in Airflow)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from tradewind.errors import ConnectionNotFound
from tradewind.master.webserver import masking
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.views.admin_forms import delete_keyed, recorded, refused
from tradewind.metastore import connections
from tradewind.sdk.hooks import registry

bp = Blueprint("connections", __name__)

_LIST = "connections.connection_list"
#: The form field holding the id of the connection being edited (empty when adding one).
EDITING = "editing"


def _render(form: dict[str, Any] | None = None, test_result: tuple[bool, str] | None = None) -> str:
    session = get_session()
    rows = [(c, masking.password(c.password), masking.extra(c.extra)) for c in connections.list_connections(session)]
    return render_template(
        "connections/list.html",
        connections=rows,
        form=form or {},
        types=registry.connection_types(),
        behaviours=registry.field_behaviours(),
        can_test=get_settings().webserver_test_connection,
        test_result=test_result,
        editing_field=EDITING,
    )


@bp.get("/connections")
@require_role("Admin")
def connection_list() -> ResponseReturnValue:
    edit = request.args.get("edit")
    if not edit:
        return _render()
    try:
        conn = connections.get_connection(get_session(), edit)
    except ConnectionNotFound as exc:
        abort(404, description=str(exc))
    shown = {name: getattr(conn, name) for name in connections.FIELDS if name != "password"}
    shown.update(conn_id=conn.conn_id, extra=masking.extra(conn.extra), **{EDITING: conn.conn_id})
    return _render(shown)


def _posted(form: MultiDict[str, str]) -> tuple[str, dict[str, Any]]:
    """The connection id and the fields the form holds, secrets the form kept back restored."""
    values: dict[str, Any] = {name: form.get(name) or None for name in connections.FIELDS if name != "port"}
    values["conn_type"] = form.get("conn_type", "")
    port = form.get("port", "").strip()
    values["port"] = int(port) if port.isdigit() else port or None
    conn_id = form.get("conn_id", "")
    editing = form.get(EDITING) or None
    if editing:
        try:
            stored = connections.get_connection(get_session(), editing)
        except ConnectionNotFound:
            stored = None
        if stored is not None:
            if not values["password"]:
                values["password"] = stored.password
            values["extra"] = _restored_extra(values["extra"], stored.extra)
    return conn_id, values


def _restored_extra(edited: str | None, stored: str | None) -> str | None:
    if not edited or not stored:
        return edited
    if edited == masking.REDACTED:
        return stored  # an extra that was not JSON is shown masked whole
    try:
        new, old = json.loads(edited), json.loads(stored)
    except ValueError:
        return edited  # refused as not JSON when saved; tested as typed
    return json.dumps(masking.restore_masked(new, old))


@bp.post("/connections")
@require_role("Admin")
def add_connection() -> ResponseReturnValue:
    conn_id, values = _posted(request.form)
    session = get_session()
    try:
        connection = connections.set_connection(session, conn_id, values)
    except ValueError as exc:
        return refused(_LIST, exc)
    done = f"Connection {connection.conn_id} saved."
    return recorded(_LIST, session, "connection.set", {"conn_id": connection.conn_id}, done)


@bp.post("/connections/test")
@require_role("Admin")
def test_connection() -> ResponseReturnValue:
    """Connect with what the form holds (nothing is saved) and show the form again with the result."""
    if not get_settings().webserver_test_connection:
        abort(403, description="Testing connections is off; set TRADEWIND_WEBSERVER_TEST_CONNECTION=true to allow it.")
    from tradewind.sdk.connection import Connection

    conn_id, values = _posted(request.form)
    try:
        result = registry.test_connection(Connection(conn_id=conn_id or "tradewind_test_connection", **values))
    except Exception as exc:  # noqa: BLE001 - a hook failing in any way is the test's answer
        result = (False, str(exc))
    shown = {name: value for name, value in request.form.items() if name not in ("password", "csrf_token")}
    return _render(shown, result)


@bp.post("/connections/<conn_id>/delete")
@require_role("Admin")
def delete_connection(conn_id: str) -> ResponseReturnValue:
    return delete_keyed(_LIST, connections.ROWS, conn_id)
