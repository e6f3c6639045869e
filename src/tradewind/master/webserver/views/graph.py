"""The graph of one run: the DAG laid out left to right on the server (``graph_layout``), drawn as
inline SVG, nodes coloured by their task instance's state and linked to the task-instance panel."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.graph_layout import Box, layout
from tradewind.master.webserver.views.dag_common import action_url, dag_path, selected_run, tabs
from tradewind.metastore import grid, runs
from tradewind.metastore.dags import load_dag
from tradewind.sdk.serialization import SerializedDAG, SerializedTaskGroup

bp = Blueprint("graph", __name__)


@dataclass(frozen=True)
class Node:
    task_id: str
    box: Box
    state: str
    operator: str
    url: str | None
    #: A mapped task's mark: "[n]" with its number of task instances, "[ ]" before it is expanded.
    mapped: str = ""
    #: "setup", "teardown" or "" (Airflow 2.7+ roles, drawn with their own mark).
    role: str = ""
    #: The task's display name (``task_display_name``), the task id when it has none.
    label: str = ""


@bp.get("/dags/<dag_id>/graph")
def graph_view(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    run = selected_run(session, dag_id)
    cells = grid.task_states(session, dag_id, [run.run_id]) if run is not None else {}
    ordered = [task.task_id for task in dag.topological_sort()]
    drawn = layout(
        ordered, [(up, task.task_id) for task in dag.tasks for up in sorted(task.upstream_task_ids)], group_members(dag)
    )
    nodes = []
    for task_id in ordered:
        cell = cells.get((task_id, run.run_id)) if run is not None else None
        task = dag.get_task(task_id)
        nodes.append(
            Node(
                task_id,
                drawn.nodes[task_id],
                cell.state if cell else "none",
                task.operator_name,
                dag_path(dag_id, "runs", run.run_id, "tasks", task_id) if cell and run else None,
                mapped_mark(cell) if getattr(task, "is_mapped", False) else "",
                role_of(task),
                task.task_display_name or task_id,
            )
        )
    return render_template(
        "dag_pages/graph.html",
        dag_id=dag_id,
        dag_display_name=dag.dag_display_name,
        tabs=tabs(dag_id, "graph", run.run_id if run else None),
        run=run,
        layout=drawn,
        nodes=nodes,
        setup_teardown_edges=setup_teardown_edges(dag),
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


def role_of(task: object) -> str:
    if getattr(task, "is_setup", False):
        return "setup"
    return "teardown" if getattr(task, "is_teardown", False) else ""


def setup_teardown_edges(dag: SerializedDAG) -> set[tuple[str, str]]:
    """(setup, teardown) links, which the graph draws dashed as Airflow does."""
    return {
        (up, task.task_id)
        for task in dag.tasks
        if task.is_teardown
        for up in task.upstream_task_ids
        if dag.has_task(up) and dag.get_task(up).is_setup
    }


def mapped_mark(cell: grid.GridCell | None) -> str:
    return f"[{cell.mapped}]" if cell is not None and cell.mapped else "[ ]"


def group_members(dag: SerializedDAG) -> dict[str, list[str]]:
    """group id -> the task ids under it at any depth, for every group but the root."""
    found: dict[str, list[str]] = {}

    def walk(group: SerializedTaskGroup) -> None:
        for child in group.children.values():
            if isinstance(child, SerializedTaskGroup):
                found[child.group_id or ""] = [t.task_id for t in child.iter_tasks()]
                walk(child)

    walk(dag.task_group)
    return found
