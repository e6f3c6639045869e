"""The grid of one DAG: its runs as columns, its tasks (and task groups) as rows, a box per task
instance coloured by state; and the JSON the page polls to recolour its boxes while runs are active."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from flask import Blueprint, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy.orm import Session

from tradewind.master.webserver.api import query_datetime, query_int
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.dag_common import TaskRow, action_url, dag_path, tabs, task_rows
from tradewind.metastore import grid
from tradewind.metastore.dags import load_dag
from tradewind.metastore.grid import GridPage, GridRun
from tradewind.sdk.serialization import SerializedDAG
from tradewind.states import DagRunState, DagRunType

bp = Blueprint("grid", __name__)

RUNS_PER_PAGE = 25
#: The "runs shown" choices, as Airflow's grid offers them, and the most a page may ask for.
RUN_CHOICES = (5, 10, 25, 50, 100, 365)
MAX_RUNS = 365
RUN_STATES = tuple(state.value for state in DagRunState)
RUN_TYPES = tuple(run_type.value for run_type in DagRunType)
ACTIVE_RUN_STATES = frozenset({"queued", "running"})


@dataclass(frozen=True)
class Box:
    state: str
    title: str
    url: str | None


@dataclass(frozen=True)
class Column:
    run: GridRun
    #: The bar's height in pixels, relative to the longest run shown.
    bar_height: int
    graph_url: str
    #: The run's details, as the side panel loads them.
    details_url: str


@dataclass(frozen=True)
class Row:
    task: TaskRow
    boxes: list[Box]

    @property
    def cells_html(self) -> Markup:
        """The row's boxes as ``<td>`` cells. Built here rather than in Jinja because a 500-task
        grid has 12,500 boxes, and Jinja's per-value Markup escaping cost more than the rest of the
        page; every value is escaped with ``html.escape`` before it is joined."""
        parts = []
        for box in self.boxes:
            state, title = html.escape(box.state), html.escape(box.title)
            if box.url:
                parts.append(
                    f'<td class="cell"><a class="box state-{state}" href="{html.escape(box.url)}" '
                    f'title="{title}"></a></td>'
                )
            else:
                parts.append(f'<td class="cell"><span class="box state-{state}" title="{title}"></span></td>')
        return Markup("".join(parts))  # noqa: S704 - every part above is escaped


@dataclass(frozen=True)
class GridFilters:
    """What the grid's filter bar chose: how many runs, of which state and type (Airflow's grid)."""

    num_runs: int
    run_state: str | None
    run_type: str | None

    @classmethod
    def from_request(cls) -> GridFilters:
        return cls(
            query_int("num_runs", RUNS_PER_PAGE, minimum=1, maximum=MAX_RUNS),
            _choice("run_state", RUN_STATES),
            _choice("run_type", RUN_TYPES),
        )

    def query(self, **extra: str) -> str:
        """The filters (those not at their default) and ``extra`` as a query string, with its ``?``."""
        values: dict[str, object] = {"num_runs": self.num_runs if self.num_runs != RUNS_PER_PAGE else None}
        values |= {"run_state": self.run_state, "run_type": self.run_type, **extra}
        kept = {k: v for k, v in values.items() if v is not None}
        return "?" + urlencode(kept) if kept else ""

    def page(self, session: Session, dag_id: str, before: datetime | None) -> GridPage:
        return grid.grid_page(
            session, dag_id, limit=self.num_runs, before=before, run_state=self.run_state, run_type=self.run_type
        )


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        abort(400, description=f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


@bp.get("/dags/<dag_id>/grid")
def grid_view(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    before = _before()
    filters = GridFilters.from_request()
    page = filters.page(session, dag_id, before)
    rows = task_rows(dag)
    run_urls = _task_url_prefixes(dag_id, page)
    longest = max((run.duration or 0 for run in page.runs), default=0) or 1
    columns = [
        Column(
            run,
            max(2, int(40 * (run.duration or 0) / longest)),
            f"{dag_path(dag_id, 'graph')}?run_id={_q(run.run_id)}",
            dag_path(dag_id, "runs", run.run_id) + "?partial=1",
        )
        for run in page.runs
    ]
    return render_template(
        "dag_pages/grid.html",
        dag=dag,
        dag_id=dag_id,
        dag_display_name=dag.dag_display_name,
        tabs=tabs(dag_id, "grid"),
        columns=columns,
        rows=[Row(row, _boxes(row, page, run_urls)) for row in rows],
        mapped_ids=mapped_task_ids(dag),
        active=any(run.state in ACTIVE_RUN_STATES for run in page.runs),
        data_url=dag_path(dag_id, "grid", "data") + filters.query(**({"before": before.isoformat()} if before else {})),
        older_url=(
            dag_path(dag_id, "grid") + filters.query(before=page.runs[0].logical_date.isoformat())
            if page.has_older and page.runs
            else None
        ),
        newest_url=dag_path(dag_id, "grid") + filters.query() if before else None,
        filters=filters,
        run_states=RUN_STATES,
        run_types=RUN_TYPES,
        run_choices=sorted({*RUN_CHOICES, filters.num_runs}),
        dag_base=dag_path(dag_id),
        trigger_url=action_url(dag_path(dag_id, "trigger")),
    )


@bp.get("/dags/<dag_id>/grid/data")
def grid_data(dag_id: str) -> ResponseReturnValue:
    """``{"runs": [...], "rows": [{"id", "is_group", "is_mapped", "states": [state per run],
    "mapped": [...], "mapped_states": [...]}], "active"}``; for a mapped task, ``mapped`` holds the
    number of its task instances in each run (None before it is expanded) and ``mapped_states``
    how many of them are in each state, while ``states`` holds the state that sums them up."""
    session = get_session()
    dag = load_dag(session, dag_id)
    page = GridFilters.from_request().page(session, dag_id, _before())
    mapped = mapped_task_ids(dag)
    return jsonify(
        runs=[
            {
                "run_id": run.run_id,
                "state": run.state,
                "run_type": run.run_type,
                "logical_date": run.logical_date.isoformat(),
                "start_date": run.start_date.isoformat() if run.start_date else None,
                "end_date": run.end_date.isoformat() if run.end_date else None,
                "duration": run.duration,
            }
            for run in page.runs
        ],
        rows=[
            {
                "id": row.row_id,
                "is_group": row.is_group,
                "is_mapped": row.row_id in mapped,
                "states": _states(row, page),
                **(_mapped(row, page) if row.row_id in mapped else {}),
            }
            for row in task_rows(dag)
        ],
        active=any(run.state in ACTIVE_RUN_STATES for run in page.runs),
    )


def mapped_task_ids(dag: SerializedDAG) -> frozenset[str]:
    return frozenset(task.task_id for task in dag.tasks if getattr(task, "is_mapped", False))


def _mapped(row: TaskRow, page: GridPage) -> dict[str, list]:
    """A mapped task's instance count and state counts per run (None where it is not expanded)."""
    cells = [page.cells.get((row.row_id, run.run_id)) for run in page.runs]
    return {
        "mapped": [cell.mapped if cell is not None and cell.mapped else None for cell in cells],
        "mapped_states": [dict(cell.state_counts) if cell is not None and cell.mapped else None for cell in cells],
    }


def _task_url_prefixes(dag_id: str, page: GridPage) -> dict[str, str]:
    """run_id -> the task instance URLs' common start, quoted once per run rather than once per box
    (a 500-task grid has 12,500 boxes)."""
    return {run.run_id: dag_path(dag_id, "runs", run.run_id, "tasks") + "/" for run in page.runs}


def _group_state(row: TaskRow, run_id: str, page: GridPage) -> str:
    return grid.summary_state(page.cells[(t, run_id)].state for t in row.members if (t, run_id) in page.cells) or "none"


def _states(row: TaskRow, page: GridPage) -> list[str]:
    if row.is_group:
        return [_group_state(row, run.run_id, page) for run in page.runs]
    cells = page.cells
    return [cell.state if (cell := cells.get((row.row_id, run.run_id))) is not None else "none" for run in page.runs]


def _boxes(row: TaskRow, page: GridPage, run_urls: dict[str, str]) -> list[Box]:
    boxes = []
    quoted_task = _q(row.row_id)
    for run in page.runs:
        if row.is_group:
            state = _group_state(row, run.run_id, page)
            boxes.append(Box(state, f"Group: {row.row_id}\nRun: {run.run_id}\nState: {state}", None))
            continue
        cell = page.cells.get((row.row_id, run.run_id))
        if cell is None:
            boxes.append(Box("none", f"Task: {row.row_id}\nRun: {run.run_id}\nno task instance", None))
            continue
        title = f"Task: {row.row_id}\nRun: {run.run_id}\nState: {cell.state}\nTry: {cell.try_number}"
        if cell.mapped:
            counts = ", ".join(f"{state} {count}" for state, count in cell.state_counts)
            title += f"\nMapped instances: {cell.mapped} ({counts})"
        url = run_urls[run.run_id] + quoted_task
        boxes.append(Box(cell.state, title, f"{url}?map_index={cell.map_index}" if cell.mapped else url))
    return boxes


def _before() -> datetime | None:
    return query_datetime("before")


def _q(value: str) -> str:
    return quote(value, safe="")
