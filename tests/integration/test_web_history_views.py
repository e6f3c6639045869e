"""Airflow 2's history views of one DAG over a real PostgreSQL metastore: Task Duration, Task Tries
and Landing Times (a chart and the same numbers as a table) and the Calendar."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from web_helpers import T0, counting_queries, make_dag, store_dag, store_run

from tradewind.metastore.models import DagRun, TaskInstance

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

DAG_ID = "nightly"


@pytest.fixture
def three_nights(web_db: Session) -> Session:
    """Three daily runs of a two-task DAG: task_0 took 60, 90 and 30 s, ending 5, 10 and 15 minutes
    after its data interval; task_0 needed two tries on the second night, which failed."""
    store_dag(web_db, make_dag(DAG_ID, tasks=2))
    for night in range(3):
        logical = T0 + timedelta(days=night)
        run_id = f"scheduled__{logical.date()}"
        state = "failed" if night == 1 else "success"
        store_run(web_db, DAG_ID, run_id, state, logical_date=logical, task_states={"task_0": state, "task_1": state})
        web_db.execute(
            sa.update(DagRun)
            .where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id)
            .values(data_interval_start=logical, data_interval_end=logical + timedelta(days=1))
        )
        web_db.execute(
            sa.update(TaskInstance)
            .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id, TaskInstance.task_id == "task_0")
            .values(
                duration=[60.0, 90.0, 30.0][night],
                try_number=2 if night == 1 else 1,
                end_date=logical + timedelta(days=1, minutes=5 * (night + 1)),
            )
        )
    web_db.commit()
    return web_db


def _chart_json(html: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="task-chart-data">(.*?)</script>', html, re.S)
    assert found, "the page carries its chart's data"
    return json.loads(found.group(1))


def test_task_duration_shows_each_task_over_the_last_runs(client_as, three_nights: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/duration")
    assert page.status_code == 200
    data = _chart_json(page.text)
    assert data["title"] == "Task Duration" and len(data["x"]) == 3
    assert {s["label"]: s["values"] for s in data["series"]}["task_0"] == [60.0, 90.0, 30.0]
    assert '<tr data-task-id="task_0"><th>task_0</th><td>60</td><td>90</td><td>30</td></tr>' in page.text
    assert (
        "vendor/uplot/uPlot.iife.min.js" in page.text
        and 'class="tab active" href="/dags/nightly/duration"' in page.text
    )

    two = _chart_json(client_as("Viewer").get(f"/dags/{DAG_ID}/duration?num_runs=2").text)
    later = [f"scheduled__{(T0 + timedelta(days=n)).date()}" for n in (1, 2)]
    assert len(two["x"]) == 2 and two["runIds"] == later, "the newest runs, oldest first"


def test_task_tries_and_landing_times(client_as, three_nights: Session) -> None:  # type: ignore[no-untyped-def]
    tries = _chart_json(client_as("Viewer").get(f"/dags/{DAG_ID}/tries").text)
    assert {s["label"]: s["values"] for s in tries["series"]}["task_0"] == [1.0, 2.0, 1.0]
    landing = _chart_json(client_as("Viewer").get(f"/dags/{DAG_ID}/landing-times").text)
    assert {s["label"]: s["values"] for s in landing["series"]}["task_0"] == [300.0, 600.0, 900.0]


def test_calendar_colours_each_day_by_its_runs(client_as, three_nights: Session) -> None:  # type: ignore[no-untyped-def]
    page = client_as("Viewer").get(f"/dags/{DAG_ID}/calendar?year={T0.year}").text
    by_date = {d: c.strip() for c, d in re.findall(r'<td class="day([^"]*)" data-date="([^"]+)"', page)}
    assert len(by_date) in (365, 366)
    assert by_date[T0.date().isoformat()] == "state-success"
    assert by_date[(T0 + timedelta(days=1)).date().isoformat()] == "state-failed"
    assert by_date[(T0 + timedelta(days=5)).date().isoformat()] == ""
    assert f"{(T0 + timedelta(days=1)).date().isoformat()} · 1 failed" in page
    assert f'href="?year={T0.year + 1}"' in page


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("duration?num_runs=lots", "num_runs must be a whole number"),
        ("tries?num_runs=0", "num_runs must be between 1 and 365, not 0"),
        ("calendar?year=99999", "year must be between 1000 and 8999, not 99999"),
        ("calendar?year=next", "year must be a whole number"),
    ],
)
def test_bad_view_options_are_a_400_saying_why(client_as, three_nights: Session, path: str, message: str) -> None:  # type: ignore[no-untyped-def]
    response = client_as("Viewer").get(f"/dags/{DAG_ID}/{path}")
    assert response.status_code == 400 and message in response.text


def test_an_unknown_dag_is_a_404_on_every_history_view(client_as, three_nights: Session) -> None:  # type: ignore[no-untyped-def]
    for page in ("duration", "tries", "landing-times", "calendar"):
        assert client_as("Viewer").get(f"/dags/nope/{page}").status_code == 404


def test_a_chart_of_25_runs_by_100_tasks_takes_a_constant_small_number_of_queries(
    client_as,  # type: ignore[no-untyped-def]
    web_app: Flask,
    web_db: Session,
) -> None:
    store_dag(web_db, make_dag("wide", tasks=100))
    for night in range(25):
        logical = T0 + timedelta(days=night)
        store_run(
            web_db,
            "wide",
            f"r{night}",
            "success",
            logical_date=logical,
            task_states={f"task_{i}": "success" for i in range(100)},
        )
    web_db.commit()
    client = client_as("Viewer")
    with counting_queries(web_app) as queries:
        assert client.get("/dags/wide/duration").status_code == 200
    assert len(queries) <= 12, queries


def test_calendar_outlines_the_days_still_to_come_as_planned(client_as, web_db: Session) -> None:  # type: ignore[no-untyped-def]
    """A daily DAG's Calendar shows its coming days as planned (Airflow's calendar does), from the
    run the scheduler creates next; a DAG without a schedule plans nothing."""
    store_dag(web_db, make_dag("daily_planned", tasks=1))
    store_dag(web_db, make_dag("unscheduled", tasks=1, schedule=None))
    web_db.commit()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    page = client_as("Viewer").get(f"/dags/daily_planned/calendar?year={tomorrow.year}").text
    planned = re.findall(r'<td class="day planned" data-date="([^"]+)"', page)
    assert planned and min(planned) <= tomorrow.isoformat() and max(planned) == f"{tomorrow.year}-12-31"
    assert all(day >= (tomorrow - timedelta(days=2)).isoformat() for day in planned), "nothing in the past"
    quiet = client_as("Viewer").get(f"/dags/unscheduled/calendar?year={tomorrow.year}").text
    assert 'class="day planned"' not in quiet
