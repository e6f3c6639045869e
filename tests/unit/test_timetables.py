"""The built-in timetables, as Airflow 2.10 documents them, and the Timetable API a custom one uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, EmptyOperator
from tradewind.errors import DagDefinitionError
from tradewind.sdk.schedules import create_timetable, intervals_between, manual_run_interval, next_dagrun_info
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.sdk.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from tradewind.sdk.timetables.events import EventsTimetable
from tradewind.sdk.timetables.registry import decode_timetable, encode_timetable
from tradewind.sdk.timetables.simple import ContinuousTimetable
from tradewind.sdk.timetables.trigger import CronTriggerTimetable


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def runs(timetable: Timetable, start_date: datetime, count: int, *, now: datetime) -> list[DagRunInfo]:
    found: list[DagRunInfo] = []
    last = None
    for _ in range(count):
        info = next_dagrun_info(timetable, start_date=start_date, last_automated_interval=last, now=now)
        assert info is not None
        found.append(info)
        last = info.data_interval
    return found


# --- the API's value types ---


def test_dag_run_info_names_the_run_by_its_interval_start():
    info = DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert (info.logical_date, info.run_after) == (utc(2024, 1, 1), utc(2024, 1, 2))
    assert DagRunInfo.exact(utc(2024, 1, 1)).data_interval == DataInterval.exact(utc(2024, 1, 1))
    assert TimeRestriction(earliest=None, latest=None, catchup=True).catchup is True


# --- CronTriggerTimetable ---


def test_cron_trigger_runs_at_each_fire_time_named_by_it():
    timetable = CronTriggerTimetable("0 6 * * *", timezone="UTC")
    assert [(r.logical_date, r.run_after) for r in runs(timetable, utc(2024, 1, 1), 2, now=utc(2024, 2, 1))] == [
        (utc(2024, 1, 1, 6), utc(2024, 1, 1, 6)),
        (utc(2024, 1, 2, 6), utc(2024, 1, 2, 6)),
    ]


def test_cron_trigger_with_an_interval_covers_the_time_before_each_fire():
    timetable = CronTriggerTimetable("0 6 * * *", timezone="UTC", interval=timedelta(hours=1))
    (first,) = runs(timetable, utc(2024, 1, 1), 1, now=utc(2024, 2, 1))
    assert first.data_interval == DataInterval(utc(2024, 1, 1, 5), utc(2024, 1, 1, 6))
    assert first.run_after == utc(2024, 1, 1, 6)
    assert manual_run_interval(timetable, utc(2024, 1, 9, 12)) == DataInterval(utc(2024, 1, 9, 11), utc(2024, 1, 9, 12))


def test_cron_trigger_without_catchup_starts_at_the_latest_fire_time():
    timetable = CronTriggerTimetable("0 6 * * *", timezone="UTC")
    info = next_dagrun_info(
        timetable, start_date=utc(2024, 1, 1), catchup=False, last_automated_interval=None, now=utc(2024, 1, 10, 7)
    )
    assert info == DagRunInfo.exact(utc(2024, 1, 10, 6))


def test_cron_trigger_in_a_timezone_keeps_local_time_across_the_change():
    timetable = CronTriggerTimetable("0 2 * * *", timezone="Europe/Amsterdam")
    fired = [r.run_after for r in runs(timetable, utc(2024, 3, 30), 3, now=utc(2024, 5, 1))]
    assert fired == [utc(2024, 3, 30, 1), utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)]


# --- EventsTimetable ---

EVENTS = [utc(2024, 3, 1, 12), utc(2024, 1, 15, 9), utc(2024, 2, 1)]


def test_events_run_in_date_order_each_a_point_in_time():
    timetable = EventsTimetable(EVENTS)
    found = runs(timetable, utc(2024, 1, 1), 3, now=utc(2025, 1, 1))
    assert [r.data_interval for r in found] == [DataInterval.exact(d) for d in sorted(EVENTS)]
    assert (
        next_dagrun_info(
            timetable, start_date=utc(2024, 1, 1), last_automated_interval=found[-1].data_interval, now=utc(2025, 1, 1)
        )
        is None
    )
    assert timetable.summary == "3 events"
    assert timetable.description == "3 events between 2024-01-15 09:00:00+00:00 and 2024-03-01 12:00:00+00:00"


def test_events_without_catchup_run_only_from_now_on():
    info = next_dagrun_info(
        EventsTimetable(EVENTS),
        start_date=utc(2024, 1, 1),
        catchup=False,
        last_automated_interval=None,
        now=utc(2024, 1, 20),
    )
    assert info == DagRunInfo.exact(utc(2024, 2, 1))


def test_events_manual_run_is_the_moment_or_the_latest_event():
    assert manual_run_interval(EventsTimetable(EVENTS), utc(2024, 2, 10)) == DataInterval.exact(utc(2024, 2, 10))
    restricted = EventsTimetable(EVENTS, restrict_to_events=True)
    assert manual_run_interval(restricted, utc(2024, 2, 10)) == DataInterval.exact(utc(2024, 2, 1))
    assert manual_run_interval(restricted, utc(2023, 1, 1)) == DataInterval.exact(utc(2024, 1, 15, 9))


def test_backfill_of_events_takes_the_events_in_the_range():
    infos = intervals_between(EventsTimetable(EVENTS), utc(2024, 1, 20), utc(2024, 12, 1), start_date=utc(2024, 1, 1))
    assert [i.logical_date for i in infos] == [utc(2024, 2, 1), utc(2024, 3, 1, 12)]


# --- @continuous ---


def test_continuous_runs_cover_the_time_since_the_last_one():
    timetable = create_timetable("@continuous", UTC)
    first = next_dagrun_info(timetable, start_date=utc(2024, 1, 1), last_automated_interval=None, now=utc(2024, 1, 5))
    assert first == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 5))
    second = next_dagrun_info(
        timetable, start_date=utc(2024, 1, 1), last_automated_interval=first.data_interval, now=utc(2024, 1, 5, 0, 1)
    )
    assert second == DagRunInfo.interval(utc(2024, 1, 5), utc(2024, 1, 5, 0, 1))


def test_continuous_needs_max_active_runs_of_one_as_in_airflow():
    with pytest.raises(DagDefinitionError, match=r"ContinuousTimetable requires max_active_runs <= 1"):
        with DAG("too_many", schedule="@continuous", start_date=utc(2024, 1, 1)) as dag:
            EmptyOperator(task_id="t")
        dag.validate()
    with DAG("one_at_a_time", schedule="@continuous", start_date=utc(2024, 1, 1), max_active_runs=1) as dag:
        EmptyOperator(task_id="t")
    dag.validate()
    assert isinstance(dag.timetable, ContinuousTimetable)


# --- serialization of the built-ins ---


@pytest.mark.parametrize(
    "timetable",
    [
        CronTriggerTimetable("*/15 8-18 * * 1-5", timezone="America/New_York", interval=timedelta(minutes=15)),
        CronTriggerTimetable("@daily", timezone="UTC", run_immediately=timedelta(hours=2)),
        EventsTimetable(EVENTS, restrict_to_events=True, description="quarterly closes"),
    ],
    ids=lambda t: type(t).__name__,
)
def test_built_ins_survive_json(timetable: Timetable):
    restored = decode_timetable(json.loads(json.dumps(encode_timetable(timetable))))
    assert restored == timetable
    assert restored.summary == timetable.summary


def test_a_dag_given_a_timetable_keeps_it_through_serialization():
    with DAG(
        "trigger", timetable=CronTriggerTimetable("0 6 * * *", timezone="Asia/Tokyo"), start_date=utc(2024, 1, 1)
    ) as dag:
        EmptyOperator(task_id="t")
    restored = deserialize_dag(serialize_dag(dag))
    assert restored.timetable == dag.timetable
    assert serialize_dag(restored) == serialize_dag(dag)


def test_schedule_and_timetable_together_are_refused():
    with pytest.raises(DagDefinitionError, match="give schedule or timetable, not both"):
        DAG("both", schedule="@daily", timetable=CronTriggerTimetable("@daily", timezone="UTC"))
