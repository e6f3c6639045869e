"""What every page of one DAG shares: the tab bar, links to the action pages another blueprint
provides, and the task rows in group order. (The DAG itself comes from ``metastore.dags.load_dag``:
an unknown DAG is a 404.)"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import request
from sqlalchemy.orm import Session

from tradewind.master.webserver.auth import current_user
from tradewind.master.webserver.navigation import route_exists
from tradewind.metastore import runs
from tradewind.metastore.models import DagRun
from tradewind.sdk.serialization import SerializedDAG, SerializedTask, SerializedTaskGroup

TABS: tuple[tuple[str, str], ...] = (
    ("Grid", "grid"),
    ("Graph", "graph"),
    ("Calendar", "calendar"),
    ("Task Duration", "duration"),
    ("Task Tries", "tries"),
    ("Landing Times", "landing-times"),
    ("Gantt", "gantt"),
    ("Code", "code"),
)


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    active: bool


@dataclass(frozen=True)
class TaskRow:
    """A row of the grid: a task, or a task group (``is_group``) that can be collapsed."""

    row_id: str
    label: str
    depth: int
    is_group: bool
    #: The ids of the groups this row sits in, outermost first.
    ancestors: tuple[str, ...]
    #: For a group: the task ids under it, at any depth.
    members: tuple[str, ...] = ()


def selected_run(session: Session, dag_id: str) -> DagRun | None:
    """The run named by ``?run_id=`` (404 when unknown), or the DAG's latest run."""
    run_id = request.args.get("run_id")
    return runs.get_run(session, dag_id, run_id) if run_id else runs.latest_run(session, dag_id)


def dag_path(dag_id: str, *parts: str) -> str:
    return "/".join([f"/dags/{quote(dag_id, safe='')}", *(quote(p, safe="") for p in parts)])


def panel_path(dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> str:
    """The task instance panel's path (with ``?map_index=`` when one is given)."""
    path = dag_path(dag_id, "runs", run_id, "tasks", task_id)
    return path if map_index is None else f"{path}?map_index={map_index}"


def tabs(dag_id: str, active: str, run_id: str | None = None) -> list[Tab]:
    query = f"?{urlencode({'run_id': run_id})}" if run_id else ""
    found = []
    for label, page in TABS:
        path = dag_path(dag_id, page)
        if route_exists(path):
            found.append(Tab(label, path + (query if page in ("graph", "gantt") else ""), page == active))
    return found


def action_url(path: str, **query: object) -> str | None:
    """``path`` with ``query`` when the user may act (Op and above) and a route answers it, else None."""
    user = current_user()
    if user is None or not user.has_role("Op") or not route_exists(path):
        return None
    return f"{path}?{urlencode(query)}" if query else path


def task_rows(dag: SerializedDAG) -> list[TaskRow]:
    """Tasks and groups in topological order, each group where its earliest task falls."""
    order = {task.task_id: index for index, task in enumerate(dag.topological_sort())}
    rows: list[TaskRow] = []
    _walk(dag.task_group, order, 0, (), rows)
    return rows


def _walk(
    group: SerializedTaskGroup, order: dict[str, int], depth: int, ancestors: tuple[str, ...], rows: list[TaskRow]
) -> None:
    def rank(child: SerializedTask | SerializedTaskGroup) -> int:
        if isinstance(child, SerializedTaskGroup):
            return min((order[t.task_id] for t in child.iter_tasks()), default=len(order))
        return order[child.task_id]

    for child in sorted(group.children.values(), key=rank):
        if isinstance(child, SerializedTaskGroup):
            group_id = child.group_id or ""
            members = tuple(t.task_id for t in child.iter_tasks())
            rows.append(TaskRow(group_id, child.label or group_id, depth, True, ancestors, members))
            _walk(child, order, depth + 1, (*ancestors, group_id), rows)
        else:
            rows.append(TaskRow(child.task_id, child.task_display_name or child.task_id, depth, False, ancestors))
