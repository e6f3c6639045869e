"""Airflow 2's history views of one DAG: Task Duration, Task Tries and Landing Times (a chart of
each task over the last N runs, drawn by uPlot, with the same numbers as a table) and the
Calendar (a year of runs, each day coloured by its runs' states)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import islice

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from tradewind.decisions.run_schedule import iter_upcoming
from tradewind.master.webserver.api import query_int
from tradewind.master.webserver.chart_series import build_chart, calendar_weeks, day_state
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.views.dag_common import (
    DEFAULT_RUNS_SHOWN,
    MAX_RUNS_SHOWN,
    dag_path,
    runs_shown_choices,
    tabs,
)
from tradewind.metastore import scheduling, task_history
from tradewind.metastore.dags import load_dag
from tradewind.sdk.serialization import SerializedDAG

bp = Blueprint("task_charts", __name__)


def _chart_page(dag_id: str, page: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    num_runs = query_int("num_runs", DEFAULT_RUNS_SHOWN, minimum=1, maximum=MAX_RUNS_SHOWN)
    runs = task_history.recent_runs(session, dag_id, num_runs)
    tasks = task_history.tasks_in_runs(session, dag_id, [run.run_id for run in runs], with_end=page == "landing-times")
    chart = build_chart(page, runs, tasks, [task.task_id for task in dag.topological_sort()])
    return render_template(
        "dag_pages/task_chart.html",
        dag_id=dag_id,
        dag=dag,
        dag_display_name=dag.dag_display_name,
        chart=chart,
        page=page,
        num_runs=num_runs,
        run_choices=runs_shown_choices(num_runs),
        tabs=tabs(dag_id, page),
    )


@bp.get("/dags/<dag_id>/duration")
def duration_view(dag_id: str) -> ResponseReturnValue:
    return _chart_page(dag_id, "duration")


@bp.get("/dags/<dag_id>/tries")
def tries_view(dag_id: str) -> ResponseReturnValue:
    return _chart_page(dag_id, "tries")


@bp.get("/dags/<dag_id>/landing-times")
def landing_times_view(dag_id: str) -> ResponseReturnValue:
    return _chart_page(dag_id, "landing-times")


@bp.get("/dags/<dag_id>/calendar")
def calendar_view(dag_id: str) -> ResponseReturnValue:
    session = get_session()
    dag = load_dag(session, dag_id)
    year = query_int("year", datetime.now(UTC).year, minimum=1000, maximum=8999)
    days = task_history.run_states_by_day(session, dag_id, date(year, 1, 1), date(year, 12, 31))
    planned = _planned_days(session, dag, year) - set(days)
    return render_template(
        "dag_pages/calendar.html",
        dag_id=dag_id,
        dag=dag,
        dag_display_name=dag.dag_display_name,
        year=year,
        weeks=calendar_weeks(year),
        days=days,
        day_state=day_state,
        planned=planned,
        grid_url=dag_path(dag_id, "grid"),
        tabs=tabs(dag_id, "calendar"),
    )


#: The most scheduled runs the Calendar looks ahead through (an hourly DAG has 8,784 in a year).
MAX_PLANNED = 10_000


def _planned_days(session: Session, dag: SerializedDAG, year: int) -> set[date]:
    """The days of ``year`` a scheduled run is still to come on (Airflow's "planned"), from the
    run the scheduler creates next; none for a DAG without a schedule."""
    now = datetime.now(UTC)
    last = scheduling.last_scheduled_interval(session, dag.dag_id)
    taken = scheduling.logical_dates_since(session, dag.dag_id, last[1] if last else None)
    upcoming = iter_upcoming(
        dag, catchup=dag.resolved_catchup(get_settings().catchup_by_default), last_interval=last, taken=taken, now=now
    )
    found: set[date] = set()
    for info in islice(upcoming, MAX_PLANNED):
        day = info.logical_date.astimezone(UTC).date()
        if day.year > year:
            break
        if day.year == year:
            found.add(day)
    return found
