"""The variables page ``/variables`` (Admin): list, set and delete; the value of a variable whose
key looks secret is shown as ``***``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.errors import VariableNotFound
from tradewind.master.webserver import masking
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, variables

bp = Blueprint("variables", __name__)


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
        flash(str(exc), "error")
        return redirect(url_for("variables.variable_list"))
    audit.record(session, "variable.set", owner=_me(), extra={"key": variable.key})
    session.commit()
    flash(f"Variable {variable.key} saved.", "info")
    return redirect(url_for("variables.variable_list"))


@bp.post("/variables/<key>/delete")
@require_role("Admin")
def delete_variable(key: str) -> ResponseReturnValue:
    session = get_session()
    try:
        variables.delete_variable(session, key)
    except VariableNotFound as exc:
        flash(str(exc), "error")
        return redirect(url_for("variables.variable_list"))
    audit.record(session, "variable.delete", owner=_me(), extra={"key": key})
    session.commit()
    flash(f"Variable {key} deleted.", "info")
    return redirect(url_for("variables.variable_list"))


def _me() -> str:
    user = current_user()
    assert user is not None
    return user.username
