"""Browse → DAG Dependencies: which DAG waits for, triggers or feeds a dataset to which, as Airflow 2
shows it, with ``?dag_id=`` narrowing the list to one DAG's upstream and downstream DAGs (and the
other ends of its datasets)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.dag_dependencies import ALIAS_NODE, DATASET_NODE, all_dependencies, around, graph_json
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.dag_common import dag_path
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
    graph = graph_json(edges, known, _node_url)
    return render_template(
        "dag_dependencies/list.html", edges=edges, focus=focus, known=known, dag_ids=dag_ids, graph=graph
    )


def _node_url(node: str) -> str:
    """Where a graph node links: a DAG's grid, a dataset's page, the Datasets page for an alias."""
    if node.startswith(DATASET_NODE):
        return url_for("datasets.dataset_detail", uri=node.removeprefix(DATASET_NODE))
    if node.startswith(ALIAS_NODE):
        return url_for("datasets.dataset_list")
    return dag_path(node, "grid")
