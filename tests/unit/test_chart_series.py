"""The history charts (Task Duration, Task Tries, Landing Times) and the Calendar, computed from rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tradewind.master.webserver.chart_series import build_chart, calendar_weeks, day_state
from tradewind.metastore.task_history import HistoryRun, TaskInRun

D1 = datetime(2024, 1, 1, tzinfo=UTC)
RUNS = [
    HistoryRun("r1", D1, D1 + timedelta(days=1), "success", "scheduled"),
    HistoryRun("r2", D1 + timedelta(days=1), D1 + timedelta(days=2), "failed", "scheduled"),
]
TASKS = [
    TaskInRun("extract", "r1", 12.5, 1, D1 + timedelta(days=1, minutes=5)),
    TaskInRun("load", "r1", 3.0, 1, D1 + timedelta(days=1, minutes=6)),
    TaskInRun("extract", "r2", 30.0, 3, D1 + timedelta(days=2, hours=1)),
    TaskInRun("load", "r2", None, 0, None),
    TaskInRun("extract", "gone", 99.0, 1, None),
]


def test_duration_is_one_series_per_task_with_a_gap_where_it_did_not_run() -> None:
    chart = build_chart("duration", RUNS, TASKS, ["extract", "load"])
    assert chart.series == {"extract": [12.5, 30.0], "load": [3.0, None]}
    data = chart.as_json()
    assert data["x"] == [D1.timestamp(), (D1 + timedelta(days=1)).timestamp()] and data["runIds"] == ["r1", "r2"]
    assert [s["label"] for s in data["series"]] == ["extract", "load"]


def test_tries_count_the_try_a_task_reached() -> None:
    assert build_chart("tries", RUNS, TASKS, ["extract", "load"]).series == {"extract": [1.0, 3.0], "load": [1.0, None]}


def test_landing_time_is_how_long_after_the_data_interval_the_task_finished() -> None:
    chart = build_chart("landing-times", RUNS, TASKS, ["extract", "load"])
    assert chart.series == {"extract": [300.0, 3600.0], "load": [360.0, None]}
    assert chart.unit == "seconds after the data interval's end"


def test_a_day_is_coloured_by_its_most_telling_run_state() -> None:
    assert day_state({"success": 3, "failed": 1}) == "failed"
    assert day_state({"success": 2, "running": 1}) == "running"
    assert day_state({"success": 2}) == "success"
    assert day_state({}) is None


def test_the_calendar_lays_a_year_out_in_weeks_from_monday() -> None:
    weeks = calendar_weeks(2024)
    days = [d for week in weeks for d in week if d is not None]
    assert len(days) == 366 and days[0] == date(2024, 1, 1) and days[-1] == date(2024, 12, 31)
    assert all(len(week) == 7 for week in weeks)
    assert weeks[0][0] == date(2024, 1, 1), "1 January 2024 is a Monday"
    assert calendar_weeks(2025)[0][:3] == [None, None, date(2025, 1, 1)], "2025 starts on a Wednesday"
