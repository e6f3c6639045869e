"""The variables page ``/variables`` (Admin): list, set, edit and delete; the value of a variable
whose key looks secret is shown as ``***`` — in the edit form too, where sending the ``***`` back
unchanged keeps the stored value."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from tradewind.errors import VariableNotFound
from tradewind.master.webserver import masking
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.admin_forms import delete_keyed, recorded, refused
from tradewind.metastore import variables

bp = Blueprint("variables", __name__)

_LIST = "variables.variable_list"


@bp.get("/variables")
@require_role("Admin")
def variable_list() -> ResponseReturnValue:
    session = get_session()
    rows = [(v.key, masking.variable_value(v.key, v.value), v.description) for v in variables.list_variables(session)]
    editing = None
    if edit := request.args.get("edit"):
        try:
            found = variables.get_variable(session, edit)
        except VariableNotFound as exc:
            abort(404, description=str(exc))
        editing = (found.key, masking.variable_value(found.key, found.value), found.description)
    return render_template("variables/list.html", variables=rows, editing=editing)


@bp.post("/variables")
@require_role("Admin")
def set_variable() -> ResponseReturnValue:
    session = get_session()
    key, value = request.form.get("key", ""), request.form.get("value", "")
    if request.form.get("editing") and value == masking.REDACTED:
        try:
            value = variables.get_variable(session, key).value or ""
        except VariableNotFound as exc:
            return refused(_LIST, exc)
    try:
        variable = variables.set_variable(session, key, value, request.form.get("description") or None)
    except ValueError as exc:
        return refused(_LIST, exc)
    return recorded(_LIST, session, "variable.set", {"key": variable.key}, f"Variable {variable.key} saved.")


@bp.post("/variables/<key>/delete")
@require_role("Admin")
def delete_variable(key: str) -> ResponseReturnValue:
    return delete_keyed(_LIST, variables.ROWS, key)
