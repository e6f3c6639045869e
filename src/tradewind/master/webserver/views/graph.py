"""The graph of one run: the page carries the DAG as a JSON document (``graph_document``) that the
browser lays out and draws as SVG, nodes coloured by their task instance's state and linked to the
task-instance panel; and the run's states, which the page polls to recolour its nodes."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.graph_document import graph_document
from tradewind.master.webserver.views.dag_common import action_url, dag_path, panel_path, selected_run, tabs
from tradewind.metastore import grid, runs
from tradewind.metastore.dags import load_dag

bp = Blueprint("graph", __name__)


@bp.get("/dags/<dag_id>/graph")
def graph_view(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    run = selected_run(session, dag_id)
    cells = grid.task_states(session, dag_id, [run.run_id]) if run is not None else {}
    run_cells = {task_id: cell for (task_id, _), cell in cells.items()}
    task_url = (lambda task_id: panel_path(dag_id, run.run_id, task_id)) if run is not None else None
    return render_template(
        "dag_pages/graph.html",
        dag_id=dag_id,
        dag=dag,
        dag_display_name=dag.dag_display_name,
        tabs=tabs(dag_id, "graph", run.run_id if run else None),
        run=run,
        graph=graph_document(dag, run_cells, task_url),
        recent_runs=[r.run_id for r in runs.list_runs(session, dag_id, limit=25)],
        clear_run_url=action_url(dag_path(dag_id, "runs", run.run_id, "clear")) if run else None,
    )


@bp.get("/dags/<dag_id>/runs/<run_id>/states")
def run_states(dag_id: str, run_id: str) -> ResponseReturnValue:
    """``{"state": run state, "active": bool, "tasks": {task_id: state}}`` — what the graph view
    polls to recolour its nodes while the run goes on."""
    session = get_session()
    load_dag(session, dag_id)
    run = runs.get_run(session, dag_id, run_id)
    cells = grid.task_states(session, dag_id, [run_id])
    return jsonify(
        state=run.state,
        active=run.state in ("queued", "running"),
        tasks={task_id: cell.state for (task_id, _), cell in cells.items()},
        mapped={task_id: cell.mapped for (task_id, _), cell in cells.items() if cell.mapped},
    )
