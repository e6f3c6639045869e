"""What the graph page draws, as one JSON document: the DAG's tasks, its task groups as a tree, its
edges and one run's states. The browser lays it out (ELK, ``static/graph.js``) and draws the SVG.

A pure function of the serialized DAG and the run's cells: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradewind.metastore.grid import GridCell
from tradewind.sdk.serialization import SerializedDAG, SerializedTask, SerializedTaskGroup

#: A group holding more tasks than this starts collapsed, until the person opens it (Airflow's graph
#: starts with its groups closed; small ones are shown open here, where they cost nothing to draw).
COLLAPSE_ABOVE = 25


def graph_document(
    dag: SerializedDAG,
    cells: Mapping[str, GridCell],
    task_url: Callable[[str], str] | None,
) -> dict[str, Any]:
    """The document for ``dag``: ``cells`` maps a task id to its cell in the shown run (empty when
    there is no run); ``task_url`` gives a task's panel address (None when there is no run).

    ``{"dag_id", "collapse_above", "tasks": {task_id: {...}}, "root": [child, ...], "edges": [...]}``
    where a child is ``{"task": task_id}`` or ``{"group": group_id, "label", "tooltip", "size",
    "children": [child, ...]}`` and an edge is ``[upstream, downstream, "setup_teardown" or ""]``.
    """
    tasks = {task.task_id: _task(task, cells.get(task.task_id), task_url) for task in dag.tasks}
    setup_teardown = setup_teardown_edges(dag)
    edges = [
        [up, task.task_id, "setup_teardown" if (up, task.task_id) in setup_teardown else ""]
        for task in dag.topological_sort()
        for up in sorted(task.upstream_task_ids)
        if up in tasks
    ]
    return {
        "dag_id": dag.dag_id,
        "collapse_above": COLLAPSE_ABOVE,
        "tasks": tasks,
        "root": _children(dag.task_group),
        "edges": edges,
    }


def _task(task: SerializedTask, cell: GridCell | None, task_url: Callable[[str], str] | None) -> dict[str, Any]:
    return {
        "label": task.task_display_name or task.task_id,
        "operator": task.operator_name,
        "state": cell.state if cell is not None and cell.state else "none",
        "url": task_url(task.task_id) if task_url is not None and cell is not None else None,
        "mapped": mapped_mark(cell) if getattr(task, "is_mapped", False) else "",
        "role": role_of(task),
    }


def _children(group: SerializedTaskGroup) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for child in group.children.values():
        if isinstance(child, SerializedTaskGroup):
            found.append(
                {
                    "group": child.group_id or "",
                    "label": child.label or child.group_id or "",
                    "tooltip": child.tooltip,
                    "size": sum(1 for _ in child.iter_tasks()),
                    "children": _children(child),
                }
            )
        else:
            found.append({"task": child.task_id})
    return found


def role_of(task: object) -> str:
    """ "setup", "teardown" or "" (Airflow 2.7+ roles, drawn with their own mark)."""
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


def mapped_mark(cell: GridCell | None) -> str:
    """A mapped task's mark: "[n]" with its number of task instances, "[ ]" before it is expanded."""
    return f"[{cell.mapped}]" if cell is not None and cell.mapped else "[ ]"
