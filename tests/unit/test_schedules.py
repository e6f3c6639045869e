"""Schedule parsing and data-interval arithmetic, checked against Airflow 2.2+ behaviour."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pendulum
import pytest
from dateutil.relativedelta import relativedelta

from tradewind.errors import InvalidScheduleError
from tradewind.sdk.schedules import (
    PRESETS,
    DagRunInfo,
    DataInterval,
    create_timetable,
    intervals_between,
    manual_run_interval,
    next_dagrun_info,
)
from tradewind.sdk.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable
from tradewind.sdk.timetables.registry import decode_timetable, encode_timetable
from tradewind.sdk.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable

AMS = ZoneInfo("Europe/Amsterdam")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def interval(start: datetime, end: datetime) -> DagRunInfo:
    return DagRunInfo.interval(start, end)


def normalize_schedule(value: object, timezone: str = "UTC") -> object:
    return create_timetable(value, ZoneInfo(timezone), start_date=None)


# --- create_timetable ---


@pytest.mark.parametrize(
    ("preset", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@quarterly", "0 0 1 */3 *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_presets_map_to_cron_and_keep_their_name_for_the_ui(preset: str, cron: str) -> None:
    timetable = create_timetable(preset, UTC)
    assert isinstance(timetable, CronDataIntervalTimetable)
    assert timetable.summary == preset
    assert PRESETS[preset] == cron
    as_cron = create_timetable(cron, UTC)
    start = utc(2024, 1, 1)
    assert next_dagrun_info(timetable, start_date=start, last_automated_interval=None, now=utc(2025, 1, 1)) == (
        next_dagrun_info(as_cron, start_date=start, last_automated_interval=None, now=utc(2025, 1, 1))
    )


def test_cron_string_is_kept_as_written() -> None:
    timetable = create_timetable("*/5 9-17 * * 1-5", UTC)
    assert timetable.summary == "*/5 9-17 * * 1-5"


def test_none_once_continuous_and_timedelta() -> None:
    assert create_timetable(None, UTC) == NullTimetable()
    assert create_timetable("@once", UTC) == OnceTimetable()
    assert create_timetable("@continuous", UTC) == ContinuousTimetable()
    assert isinstance(create_timetable(timedelta(hours=6), UTC), DeltaDataIntervalTimetable)
    assert create_timetable(timedelta(hours=6), UTC).summary == "6:00:00"
    assert create_timetable(None, UTC).summary == "None"
    assert create_timetable("@once", UTC).summary == "@once"
    assert create_timetable("@continuous", UTC).summary == "@continuous"


def test_a_timetable_passes_through() -> None:
    timetable = CronDataIntervalTimetable("0 6 * * *", "Asia/Tokyo")
    assert create_timetable(timetable, UTC) is timetable


def test_bad_cron_names_the_expression_and_croniters_reason() -> None:
    with pytest.raises(InvalidScheduleError) as info:
        create_timetable("61 * * * *", UTC)
    assert str(info.value).startswith("invalid cron expression '61 * * * *': ")
    assert "out of range" in str(info.value)


@pytest.mark.parametrize("bad", ["* * *", "every day", "", "@sometimes", "0 0 30 2 *"])
def test_other_bad_cron_strings_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidScheduleError, match="invalid cron expression"):
        create_timetable(bad, UTC)


@pytest.mark.parametrize("bad", [5, 1.5, True, {"cron": "* * * * *"}])
def test_bad_types_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        create_timetable(bad, UTC)
    assert str(info.value).startswith(
        "schedule must be None, a cron string, a preset such as @daily, a timedelta, a timetable or datasets; got "
    )


def test_a_list_schedule_must_hold_only_datasets() -> None:
    with pytest.raises(InvalidScheduleError, match="should be datasets or dataset aliases"):
        create_timetable(["@daily"], UTC)


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-1), relativedelta(months=-1)])
def test_non_positive_periods_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidScheduleError, match="must be positive"):
        create_timetable(bad, UTC)


def test_relativedelta_with_absolute_fields_is_rejected() -> None:
    with pytest.raises(InvalidScheduleError, match="relative fields only"):
        create_timetable(relativedelta(months=1, day=31), UTC)


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(InvalidScheduleError, match="unknown timezone 'Mars/Olympus'"):
        CronDataIntervalTimetable("@daily", "Mars/Olympus")


@pytest.mark.parametrize(
    "timetable",
    [
        NullTimetable(),
        OnceTimetable(),
        ContinuousTimetable(),
        CronDataIntervalTimetable("@daily", UTC),
        CronDataIntervalTimetable("*/10 * * * *", "Europe/Amsterdam"),
        DeltaDataIntervalTimetable(timedelta(days=1, seconds=7, microseconds=3), utc(2024, 1, 1)),
        DeltaDataIntervalTimetable(relativedelta(months=1, days=2), utc(2024, 1, 1)),
    ],
    ids=lambda t: type(t).__name__,
)
def test_json_round_trip(timetable: object) -> None:
    data = json.loads(json.dumps(encode_timetable(timetable)))  # type: ignore[arg-type]
    assert decode_timetable(data) == timetable


def test_unknown_json_type_is_rejected() -> None:
    with pytest.raises(InvalidScheduleError, match="timetable class 'weird.Timetable' is not registered"):
        decode_timetable({"__type": "weird.Timetable", "__var": {}})


# --- next_dagrun_info: cron ---

DAILY = create_timetable("@daily", UTC)


def test_daily_catchup_creates_the_first_interval_then_the_next() -> None:
    now = utc(2024, 1, 4, 10)
    start = utc(2024, 1, 1)
    first = next_dagrun_info(DAILY, start_date=start, catchup=True, last_automated_interval=None, now=now)
    assert first == interval(utc(2024, 1, 1), utc(2024, 1, 2))
    second = next_dagrun_info(
        DAILY, start_date=start, catchup=True, last_automated_interval=first.data_interval, now=now
    )
    assert second == interval(utc(2024, 1, 2), utc(2024, 1, 3))


def test_first_interval_starts_at_the_first_fire_time_after_an_unaligned_start_date() -> None:
    info = next_dagrun_info(
        DAILY, start_date=utc(2024, 1, 1, 5, 30), last_automated_interval=None, now=utc(2024, 1, 10)
    )
    assert info == interval(utc(2024, 1, 2), utc(2024, 1, 3))


def test_catchup_false_jumps_to_the_latest_complete_interval() -> None:
    info = next_dagrun_info(
        DAILY,
        start_date=utc(2024, 1, 1),
        catchup=False,
        last_automated_interval=None,
        now=utc(2024, 1, 4, 10),
    )
    # The 3rd has ended by 10:00 on the 4th; the 4th has not.
    assert info == interval(utc(2024, 1, 3), utc(2024, 1, 4))


def test_catchup_false_on_a_boundary_takes_the_interval_that_just_ended() -> None:
    info = next_dagrun_info(
        DAILY, start_date=utc(2024, 1, 1), catchup=False, last_automated_interval=None, now=utc(2024, 1, 4)
    )
    assert info == interval(utc(2024, 1, 3), utc(2024, 1, 4))


def test_catchup_false_skips_missed_intervals_after_the_last_run() -> None:
    last = DataInterval(utc(2024, 1, 1), utc(2024, 1, 2))
    info = next_dagrun_info(
        DAILY, start_date=utc(2024, 1, 1), catchup=False, last_automated_interval=last, now=utc(2024, 1, 9, 1)
    )
    assert info == interval(utc(2024, 1, 8), utc(2024, 1, 9))


def test_catchup_false_with_a_recent_start_date_starts_from_its_alignment() -> None:
    info = next_dagrun_info(
        DAILY,
        start_date=utc(2024, 1, 4, 5),
        catchup=False,
        last_automated_interval=None,
        now=utc(2024, 1, 4, 10),
    )
    assert info == interval(utc(2024, 1, 5), utc(2024, 1, 6))


def test_a_run_is_not_due_before_its_interval_ends() -> None:
    now = utc(2024, 1, 1, 18)
    info = next_dagrun_info(DAILY, start_date=utc(2024, 1, 1), catchup=True, last_automated_interval=None, now=now)
    assert info is not None
    assert info.run_after == utc(2024, 1, 2)
    assert info.run_after > now  # the loop waits until the interval has ended


def test_end_date_stops_the_schedule() -> None:
    start, end = utc(2024, 1, 1), utc(2024, 1, 2)
    last = DataInterval(utc(2024, 1, 2), utc(2024, 1, 3))
    assert (
        next_dagrun_info(DAILY, start_date=start, end_date=end, last_automated_interval=last, now=utc(2024, 2, 1))
        is None
    )
    # The interval that starts on the end date itself still runs (no logical date after end_date).
    on_end = DataInterval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert next_dagrun_info(
        DAILY, start_date=start, end_date=end, last_automated_interval=on_end, now=utc(2024, 2, 1)
    ) == interval(utc(2024, 1, 2), utc(2024, 1, 3))


def test_amsterdam_daily_fires_at_local_midnight_expressed_in_utc() -> None:
    start = datetime(2024, 3, 29, tzinfo=AMS)
    now = utc(2024, 4, 10)
    infos = []
    last = None
    for _ in range(3):
        info = next_dagrun_info(
            create_timetable("@daily", AMS), start_date=start, last_automated_interval=last, now=now
        )
        infos.append(info)
        last = info.data_interval
    assert infos == [
        interval(utc(2024, 3, 28, 23), utc(2024, 3, 29, 23)),
        interval(utc(2024, 3, 29, 23), utc(2024, 3, 30, 23)),
        # 31 March is the spring-forward day: 23 hours long, then midnight is 22:00 UTC.
        interval(utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)),
    ]
    assert all(i.logical_date.tzinfo is UTC for i in infos)


def test_pendulum_start_date_gives_the_dag_its_timezone() -> None:
    from tradewind import DAG

    start = pendulum.datetime(2024, 6, 1, tz="Europe/Amsterdam")
    dag = DAG("pendulum_start", schedule="@daily", start_date=start)
    info = next_dagrun_info(dag.timetable, start_date=start, last_automated_interval=None, now=utc(2024, 7, 1))
    assert info == interval(utc(2024, 5, 31, 22), utc(2024, 6, 1, 22))
    assert type(info.logical_date) is datetime


def test_a_timetable_timezone_wins_over_the_start_date() -> None:
    schedule = CronDataIntervalTimetable("0 9 * * *", "Asia/Tokyo")
    info = next_dagrun_info(schedule, start_date=utc(2024, 1, 1), last_automated_interval=None, now=utc(2024, 2, 1))
    assert info == interval(utc(2024, 1, 1, 0), utc(2024, 1, 2, 0))  # 09:00 JST is 00:00 UTC


def test_naive_start_date_is_taken_as_utc() -> None:
    info = next_dagrun_info(DAILY, start_date=datetime(2024, 1, 1), last_automated_interval=None, now=utc(2024, 2, 1))
    assert info == interval(utc(2024, 1, 1), utc(2024, 1, 2))


def test_hourly_cron_covers_the_repeated_autumn_hour() -> None:
    # 27 Oct 2024, Amsterdam: 02:00-03:00 happens twice (CEST, then CET). Hourly runs stay an hour apart.
    schedule = normalize_schedule("30 * * * *", "Europe/Amsterdam")
    start = datetime(2024, 10, 27, 1, tzinfo=AMS)
    runs = intervals_between(schedule, utc(2024, 10, 26, 23), utc(2024, 10, 27, 2, 30), start_date=start)
    assert [r.logical_date for r in runs] == [
        utc(2024, 10, 26, 23, 30),
        utc(2024, 10, 27, 0, 30),
        utc(2024, 10, 27, 1, 30),
        utc(2024, 10, 27, 2, 30),
    ]
    assert all(r.data_interval.end - r.logical_date == timedelta(hours=1) for r in runs)


# --- next_dagrun_info: timedelta, @once, None ---


def test_timedelta_intervals_count_from_the_start_date() -> None:
    start = utc(2024, 1, 1, 1, 15)
    schedule = create_timetable(timedelta(hours=6), UTC, start_date=start)
    first = next_dagrun_info(schedule, start_date=start, last_automated_interval=None, now=utc(2024, 2, 1))
    assert first == interval(utc(2024, 1, 1, 1, 15), utc(2024, 1, 1, 7, 15))
    second = next_dagrun_info(
        schedule, start_date=start, last_automated_interval=first.data_interval, now=utc(2024, 2, 1)
    )
    assert second == interval(utc(2024, 1, 1, 7, 15), utc(2024, 1, 1, 13, 15))


def test_timedelta_catchup_false_stays_on_the_start_date_grid() -> None:
    schedule = create_timetable(timedelta(hours=6), UTC, start_date=utc(2024, 1, 1, 1, 15))
    info = next_dagrun_info(
        schedule,
        start_date=utc(2024, 1, 1, 1, 15),
        catchup=False,
        last_automated_interval=None,
        now=utc(2024, 1, 3, 12),
    )
    assert info == interval(utc(2024, 1, 3, 1, 15), utc(2024, 1, 3, 7, 15))


def test_relativedelta_months_do_not_drift() -> None:
    schedule = create_timetable(relativedelta(months=1), UTC, start_date=utc(2024, 1, 31))
    runs = intervals_between(schedule, utc(2024, 1, 1), utc(2024, 4, 30), start_date=utc(2024, 1, 31))
    assert [r.logical_date for r in runs] == [
        utc(2024, 1, 31),
        utc(2024, 2, 29),
        utc(2024, 3, 31),
        utc(2024, 4, 30),
    ]


def test_once_runs_a_single_time_at_the_start_date() -> None:
    once = OnceTimetable()
    start = utc(2024, 1, 1, 12)
    info = next_dagrun_info(once, start_date=start, catchup=False, last_automated_interval=None, now=utc(2030, 1, 1))
    assert info == DagRunInfo(start, DataInterval(start, start))
    assert (
        next_dagrun_info(once, start_date=start, last_automated_interval=info.data_interval, now=utc(2030, 1, 1))
        is None
    )


def test_once_after_end_date_never_runs() -> None:
    assert (
        next_dagrun_info(
            OnceTimetable(),
            start_date=utc(2024, 2, 1),
            end_date=utc(2024, 1, 1),
            last_automated_interval=None,
            now=utc(2024, 3, 1),
        )
        is None
    )


def test_none_schedule_and_missing_start_date_never_run() -> None:
    assert (
        next_dagrun_info(NullTimetable(), start_date=utc(2024, 1, 1), last_automated_interval=None, now=utc(2024, 3, 1))
        is None
    )
    assert next_dagrun_info(DAILY, start_date=None, last_automated_interval=None, now=utc(2024, 3, 1)) is None


# --- manual runs and backfill ---


def test_manual_daily_run_covers_the_last_complete_day() -> None:
    assert manual_run_interval(DAILY, utc(2024, 1, 25, 1)) == DataInterval(utc(2024, 1, 24), utc(2024, 1, 25))


def test_manual_run_on_a_fire_time_covers_the_interval_ending_then() -> None:
    assert manual_run_interval(DAILY, utc(2024, 1, 25)) == DataInterval(utc(2024, 1, 24), utc(2024, 1, 25))


def test_manual_run_uses_the_dag_timezone() -> None:
    assert manual_run_interval(create_timetable("@daily", AMS), utc(2024, 1, 25, 1)) == DataInterval(
        utc(2024, 1, 23, 23), utc(2024, 1, 24, 23)
    )


def test_manual_timedelta_run_covers_the_delta_before_it() -> None:
    schedule = normalize_schedule(timedelta(hours=2))
    assert manual_run_interval(schedule, utc(2024, 1, 25, 1, 30)) == DataInterval(
        utc(2024, 1, 24, 23, 30), utc(2024, 1, 25, 1, 30)
    )


@pytest.mark.parametrize("schedule", [NullTimetable(), OnceTimetable(), ContinuousTimetable()])
def test_manual_run_without_a_period_has_an_empty_interval(schedule: object) -> None:
    at = utc(2024, 1, 25, 1, 30)
    assert manual_run_interval(schedule, at) == DataInterval(at, at)  # type: ignore[arg-type]


def test_intervals_between_lists_every_logical_date_in_the_range_inclusive() -> None:
    runs = intervals_between(DAILY, utc(2024, 1, 2), utc(2024, 1, 4), start_date=utc(2024, 1, 1))
    assert runs == [
        interval(utc(2024, 1, 2), utc(2024, 1, 3)),
        interval(utc(2024, 1, 3), utc(2024, 1, 4)),
        interval(utc(2024, 1, 4), utc(2024, 1, 5)),
    ]


def test_intervals_between_respects_start_and_end_date() -> None:
    runs = intervals_between(
        DAILY, utc(2023, 12, 1), utc(2024, 2, 1), start_date=utc(2024, 1, 30), end_date=utc(2024, 1, 31, 12)
    )
    assert [r.logical_date for r in runs] == [utc(2024, 1, 30), utc(2024, 1, 31)]


def test_intervals_between_for_once_and_none() -> None:
    start = utc(2024, 1, 5)
    assert intervals_between(OnceTimetable(), utc(2024, 1, 1), utc(2024, 1, 31), start_date=start) == [
        DagRunInfo(start, DataInterval(start, start))
    ]
    assert intervals_between(OnceTimetable(), utc(2024, 2, 1), utc(2024, 2, 28), start_date=start) == []
    assert intervals_between(NullTimetable(), utc(2024, 1, 1), utc(2024, 1, 31), start_date=start) == []
