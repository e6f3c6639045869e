"""Cron schedules across daylight-saving changes, pinned to what Airflow 2.10 computes.

A cron is read on the DAG's local clock (the start date's zone): a fixed-time cron fires at the same
local time each day, so runs are 23 or 25 hours apart across a change; a local time the spring change
skips fires as if the old offset still held (an hour later on the new clock); a local time the autumn change repeats
fires on its second occurrence. Every case goes through the serialized DAG, which is all the
scheduler, a backfill and the UI ever see.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pendulum
import pytest

from tradewind import DAG, EmptyOperator
from tradewind.decisions.run_schedule import plan_new_runs
from tradewind.sdk.schedules import DataInterval, intervals_between, manual_run_interval, next_dagrun_info
from tradewind.sdk.serialization import deserialize_dag, serialize_dag

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stored(schedule: str, start_date: datetime, **kwargs: object) -> object:
    """The DAG as the scheduler reads it: serialized and read back."""
    with DAG("dst", schedule=schedule, start_date=start_date, catchup=True, **kwargs) as dag:
        EmptyOperator(task_id="t")
    return deserialize_dag(serialize_dag(dag))


def scheduled_runs(dag: object, now: datetime) -> list[tuple[datetime, datetime]]:
    """The intervals of the runs a scheduler with catchup creates by ``now``."""
    plan = plan_new_runs(dag, catchup=True, last_interval=None, active_runs=0, taken=set(), now=now)
    return [(info.data_interval.start, info.data_interval.end) for info in plan.create]


# Europe/Amsterdam, "0 2 * * *": 31 March 2024 has no 02:00 (02:00 CET -> 03:00 CEST);
# 27 October 2024 has two (03:00 CEST -> 02:00 CET).
AMS_SPRING = [
    (utc(2024, 3, 29, 1), utc(2024, 3, 30, 1)),  # 02:00 CET
    (utc(2024, 3, 30, 1), utc(2024, 3, 31, 1)),  # 31 March: 02:00 does not exist; fires at 02:00 CET = 03:00 CEST
    (utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)),  # 23 hours; from now on 02:00 CEST is 00:00 UTC
    (utc(2024, 4, 1, 0), utc(2024, 4, 2, 0)),
]
AMS_AUTUMN = [
    (utc(2024, 10, 25, 0), utc(2024, 10, 26, 0)),  # 02:00 CEST
    (utc(2024, 10, 26, 0), utc(2024, 10, 27, 1)),  # 27 October: the second 02:00, in CET; 25 hours
    (utc(2024, 10, 27, 1), utc(2024, 10, 28, 1)),
]
# America/New_York, "30 1 * * *": 3 November 2024 has two 01:30 (02:00 EDT -> 01:00 EST);
# 10 March 2024 has one (02:00 EST -> 03:00 EDT comes after it).
NY_AUTUMN = [
    (utc(2024, 11, 1, 5, 30), utc(2024, 11, 2, 5, 30)),  # 01:30 EDT
    (utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 6, 30)),  # 3 November: the second 01:30, in EST; 25 hours
    (utc(2024, 11, 3, 6, 30), utc(2024, 11, 4, 6, 30)),
]
NY_SPRING = [
    (utc(2024, 3, 9, 6, 30), utc(2024, 3, 10, 6, 30)),  # 01:30 EST, also on the day of the change
    (utc(2024, 3, 10, 6, 30), utc(2024, 3, 11, 5, 30)),  # 23 hours; 01:30 EDT is 05:30 UTC
    (utc(2024, 3, 11, 5, 30), utc(2024, 3, 12, 5, 30)),
]
# @weekly (Sunday midnight) in New York: 3 November 2024 is a Sunday, its midnight still EDT.
NY_WEEKLY_AUTUMN = [
    (utc(2024, 10, 27, 4), utc(2024, 11, 3, 4)),
    (utc(2024, 11, 3, 4), utc(2024, 11, 10, 5)),  # a week and an hour
    (utc(2024, 11, 10, 5), utc(2024, 11, 17, 5)),
]
NY_WEEKLY_SPRING = [
    (utc(2024, 3, 3, 5), utc(2024, 3, 10, 5)),
    (utc(2024, 3, 10, 5), utc(2024, 3, 17, 4)),  # a week less an hour
    (utc(2024, 3, 17, 4), utc(2024, 3, 24, 4)),
]

CASES = {
    "amsterdam-spring": ("0 2 * * *", datetime(2024, 3, 29, 2, tzinfo=AMSTERDAM), AMS_SPRING),
    "amsterdam-autumn": ("0 2 * * *", datetime(2024, 10, 25, 2, tzinfo=AMSTERDAM), AMS_AUTUMN),
    "new-york-autumn": ("30 1 * * *", datetime(2024, 11, 1, 1, 30, tzinfo=NEW_YORK), NY_AUTUMN),
    "new-york-spring": ("30 1 * * *", datetime(2024, 3, 9, 1, 30, tzinfo=NEW_YORK), NY_SPRING),
    "weekly-autumn": ("@weekly", datetime(2024, 10, 27, tzinfo=NEW_YORK), NY_WEEKLY_AUTUMN),
    "weekly-spring": ("@weekly", datetime(2024, 3, 3, tzinfo=NEW_YORK), NY_WEEKLY_SPRING),
}


@pytest.mark.parametrize(("schedule", "start_date", "expected"), CASES.values(), ids=CASES.keys())
def test_catchup_creates_runs_at_local_time_across_the_change(schedule, start_date, expected):
    dag = stored(schedule, start_date)
    assert scheduled_runs(dag, now=expected[-1][1]) == expected


@pytest.mark.parametrize(("schedule", "start_date", "expected"), CASES.values(), ids=CASES.keys())
def test_backfill_names_the_same_runs(schedule, start_date, expected):
    dag = stored(schedule, start_date)
    infos = intervals_between(dag.timetable, expected[0][0], expected[-1][0], start_date=dag.start_date)
    assert [(i.data_interval.start, i.data_interval.end) for i in infos] == expected


@pytest.mark.parametrize(("schedule", "start_date", "expected"), CASES.values(), ids=CASES.keys())
def test_next_run_shown_after_each_run_is_the_next_interval(schedule, start_date, expected):
    dag = stored(schedule, start_date)
    for (start, end), following in zip(expected, expected[1:], strict=False):
        plan = plan_new_runs(dag, catchup=True, last_interval=(start, end), active_runs=0, taken=set(), now=end)
        assert plan.create == []
        assert plan.next_run is not None
        assert (plan.next_run.data_interval.start, plan.next_run.data_interval.end) == following
        assert plan.next_run.run_after == following[1]


@pytest.mark.parametrize(("schedule", "start_date", "expected"), CASES.values(), ids=CASES.keys())
def test_a_manual_run_covers_the_last_complete_interval(schedule, start_date, expected):
    dag = stored(schedule, start_date)
    for start, end in expected:
        assert manual_run_interval(dag.timetable, end + timedelta(minutes=1)) == DataInterval(start, end)


def test_catchup_false_after_the_spring_change_takes_the_latest_complete_day():
    dag = stored("0 2 * * *", datetime(2024, 3, 1, 2, tzinfo=AMSTERDAM))
    info = next_dagrun_info(
        dag.timetable, start_date=dag.start_date, catchup=False, last_automated_interval=None, now=utc(2024, 4, 1, 12)
    )
    assert info is not None
    assert info.data_interval == DataInterval(utc(2024, 3, 31, 1), utc(2024, 4, 1, 0))


def test_a_time_the_spring_change_skips_in_new_york_fires_an_hour_later_on_the_new_clock():
    # 10 March 2024: 02:30 does not exist in New York; it fires at 02:30 EST = 03:30 EDT (07:30 UTC).
    dag = stored("30 2 * * *", datetime(2024, 3, 9, 2, 30, tzinfo=NEW_YORK))
    assert scheduled_runs(dag, now=utc(2024, 3, 11, 7)) == [
        (utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 30)),
        (utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)),
    ]


def test_pendulum_and_zoneinfo_start_dates_schedule_alike():
    with_pendulum = stored("0 2 * * *", pendulum.datetime(2024, 3, 29, 2, tz="Europe/Amsterdam"))
    assert scheduled_runs(with_pendulum, now=AMS_SPRING[-1][1]) == AMS_SPRING


def test_the_serialized_dag_names_its_timezone_not_the_offset_of_its_start_date():
    with DAG("named", schedule="0 2 * * *", start_date=datetime(2024, 1, 1, 2, tzinfo=AMSTERDAM)) as dag:
        EmptyOperator(task_id="t")
    data = serialize_dag(dag)
    assert data["timezone"] == "Europe/Amsterdam"
    assert data["timetable"] == {
        "__type": "airflow.timetables.interval.CronDataIntervalTimetable",
        "__var": {"expression": "0 2 * * *", "timezone": "Europe/Amsterdam"},
    }


def test_a_dag_stored_before_timetables_still_schedules():
    data = serialize_dag(stored("0 2 * * *", datetime(2024, 3, 29, 2, tzinfo=AMSTERDAM)))
    del data["timetable"], data["timezone"]
    data["schedule"] = {"type": "cron", "expression": "0 2 * * *", "timezone": "Europe/Amsterdam", "preset": None}
    assert scheduled_runs(deserialize_dag(data), now=AMS_SPRING[-1][1]) == AMS_SPRING


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        # Hourly and timedelta schedules step in absolute time: one hour apart through both changes.
        ("30 * * * *", [utc(2024, 10, 26, 23, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30)]),
        (timedelta(hours=1), [utc(2024, 10, 26, 23, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30)]),
    ],
)
def test_hourly_and_timedelta_schedules_keep_an_hour_through_the_autumn_change(schedule, runs):
    dag = stored(schedule, datetime(2024, 10, 27, 1, 30, tzinfo=AMSTERDAM))
    created = scheduled_runs(dag, now=runs[-1] + timedelta(hours=1))
    assert [start for start, _ in created] == runs
    assert all(end - start == timedelta(hours=1) for start, end in created)


def test_the_decision_sees_only_plain_data():
    # The run-creation rule works on anything with a timetable and dates, e.g. a stand-in.
    dag = stored("0 2 * * *", datetime(2024, 3, 29, 2, tzinfo=AMSTERDAM))
    stand_in = SimpleNamespace(timetable=dag.timetable, start_date=dag.start_date, end_date=None, max_active_runs=16)
    assert scheduled_runs(stand_in, now=AMS_SPRING[-1][1]) == AMS_SPRING
