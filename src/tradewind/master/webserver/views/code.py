"""The code view: the source of a DAG's file, as the dag processor stored it in the metastore."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.dag_common import tabs
from tradewind.metastore import dag_code, dags
from tradewind.metastore.dags import load_dag

bp = Blueprint("code", __name__)


@bp.get("/dags/<dag_id>/code")
def code_view(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    fileloc = dags.get_fileloc(session, dag_id)
    if fileloc is None:
        abort(404, description=f"There is no DAG {dag_id!r}.")
    code = dag_code.get_code(session, fileloc)
    return render_template(
        "dag_pages/code.html",
        dag_id=dag_id,
        dag=dag,
        dag_display_name=dag.dag_display_name,
        tabs=tabs(dag_id, "code"),
        fileloc=fileloc,
        code=code,
        lines=code.source.splitlines() if code is not None else [],
    )
