"""The Gantt chart of one run: every try of every task instance as a bar on a shared time axis,
its queued time drawn lighter than its running time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.dag_common import panel_path, selected_run, tabs
from tradewind.metastore import grid, task_instances
from tradewind.metastore.dags import load_dag

bp = Blueprint("gantt", __name__)


@dataclass(frozen=True)
class Segment:
    kind: str
    state: str
    left: float
    width: float
    title: str


@dataclass(frozen=True)
class GanttRow:
    task_id: str
    map_index: int
    url: str
    segments: list[Segment]


@dataclass(frozen=True)
class _Span:
    try_number: int
    state: str
    queued: datetime | None
    start: datetime | None
    end: datetime | None


@bp.get("/dags/<dag_id>/gantt")
def gantt_view(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    run = selected_run(session, dag_id)
    rows: list[GanttRow] = []
    axis: tuple[datetime, datetime] | None = None
    if run is not None:
        spans: dict[tuple[str, int], list[_Span]] = {}
        for t in grid.run_tries(session, dag_id, run.run_id):
            spans.setdefault((t.task_id, t.map_index), []).append(
                _Span(t.try_number, t.state, t.queued_dttm, t.start_date, t.end_date)
            )
        for ti in task_instances.get_tis(session, dag_id, run.run_id):
            listed = spans.setdefault((ti.task_id, ti.map_index), [])
            # The current try may not be in the history yet (queued, not started): show it from the row.
            if not any(s.try_number == ti.try_number for s in listed) and (ti.queued_dttm or ti.start_date):
                listed.append(_Span(ti.try_number, ti.state, ti.queued_dttm, ti.start_date, ti.end_date))
            elif listed and listed[-1].try_number == ti.try_number and listed[-1].state != ti.state:
                last = listed[-1]
                listed[-1] = _Span(last.try_number, ti.state, last.queued, last.start, last.end)
        now = datetime.now(UTC)
        moments = [m for spans_ in spans.values() for s in spans_ for m in (s.queued, s.start, s.end) if m]
        if moments:
            axis = (min(moments), max([*moments, now if run.state in ("running", "queued") else max(moments)]))
        order = {task.task_id: i for i, task in enumerate(dag.topological_sort())}
        for task_id, map_index in sorted(spans, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])):
            if axis is None:
                break
            rows.append(
                GanttRow(
                    task_id,
                    map_index,
                    panel_path(dag_id, run.run_id, task_id, map_index),
                    _segments(task_id, spans[(task_id, map_index)], axis, now),
                )
            )
    return render_template(
        "dag_pages/gantt.html",
        dag_id=dag_id,
        dag=dag,
        dag_display_name=dag.dag_display_name,
        run=run,
        rows=rows,
        axis=axis,
        tabs=tabs(dag_id, "gantt", run.run_id if run else None),
    )


def _segments(task_id: str, spans: list[_Span], axis: tuple[datetime, datetime], now: datetime) -> list[Segment]:
    first, last = axis
    total = max((last - first).total_seconds(), 1e-6)

    def pct(moment: datetime) -> float:
        return round(100 * (moment - first).total_seconds() / total, 3)

    found = []
    for span in spans:
        if span.queued and (span.start or span.end or now) > span.queued:
            until = span.start or span.end or min(now, last)
            found.append(
                Segment(
                    "queued",
                    span.state,
                    pct(span.queued),
                    max(pct(until) - pct(span.queued), 0.2),
                    f"{task_id} try {span.try_number}: queued {span.queued:%H:%M:%S} → {until:%H:%M:%S}",
                )
            )
        if span.start:
            until = span.end or min(now, last)
            found.append(
                Segment(
                    "running",
                    span.state,
                    pct(span.start),
                    max(pct(until) - pct(span.start), 0.2),
                    f"{task_id} try {span.try_number}: {span.state} {span.start:%H:%M:%S} → {until:%H:%M:%S}",
                )
            )
    return found
