"""The variables page ``/variables`` (Admin): list, set and delete; the value of a variable whose
key looks secret is shown as ``***``."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

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
    rows = [
        (v.key, masking.variable_value(v.key, v.value), v.description) for v in variables.list_variables(get_session())
    ]
    return render_template("variables/list.html", variables=rows)


@bp.post("/variables")
@require_role("Admin")
def set_variable() -> ResponseReturnValue:
    session = get_session()
    try:
        variable = variables.set_variable(
            session, request.form.get("key", ""), request.form.get("value", ""), request.form.get("description") or None
        )
    except ValueError as exc:
        return refused(_LIST, exc)
    return recorded(_LIST, session, "variable.set", {"key": variable.key}, f"Variable {variable.key} saved.")


@bp.post("/variables/<key>/delete")
@require_role("Admin")
def delete_variable(key: str) -> ResponseReturnValue:
    return delete_keyed(_LIST, variables.ROWS, key)
