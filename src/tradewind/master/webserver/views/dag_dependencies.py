"""Browse → DAG Dependencies: which DAG waits for, triggers or feeds a dataset to which, as Airflow 2
shows it, with ``?dag_id=`` narrowing the list to one DAG's upstream and downstream DAGs (and the
other ends of its datasets)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.dag_dependencies import all_dependencies, around
from tradewind.master.webserver.db import get_session
from tradewind.metastore.dags import active_dag_ids, serialized_of

bp = Blueprint("dag_dependencies", __name__)


@bp.get("/dag-dependencies")
def dag_dependencies_view() -> ResponseReturnValue:
    session = get_session()
    dag_ids = active_dag_ids(session)
    edges = all_dependencies(serialized_of(session, dag_ids).values())
    focus = request.args.get("dag_id", "").strip() or None
    if focus is not None:
        edges = around(edges, focus)
    known = set(dag_ids)
    return render_template("dag_dependencies/list.html", edges=edges, focus=focus, known=known, dag_ids=dag_ids)
