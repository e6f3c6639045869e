"""A DAG's ``schedule`` as a timetable, and the questions the scheduler, backfills, manual runs and
templates ask of it — each a pure function of the timetable, the DAG's dates and ``now``.

Airflow 2.2+ data-interval semantics: a scheduled run covers ``[start, end)``, its logical date is
the interval's start and it is created once ``run_after`` has passed. Every datetime returned is an
aware UTC ``datetime``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from dateutil.relativedelta import relativedelta

from tradewind.errors import InvalidScheduleError
from tradewind.sdk.datasets import condition_from_schedule
from tradewind.sdk.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable, checked, utc
from tradewind.sdk.timetables.datasets import DatasetOrTimeSchedule, DatasetTriggeredTimetable
from tradewind.sdk.timetables.interval import PRESETS, CronDataIntervalTimetable, DeltaDataIntervalTimetable
from tradewind.sdk.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable

__all__ = [
    "PRESETS",
    "DagRunInfo",
    "DataInterval",
    "create_timetable",
    "intervals_between",
    "manual_run_interval",
    "next_dagrun_info",
    "next_logical_date",
    "previous_logical_date",
]

#: Most runs one backfill may name; a longer range is refused rather than looping on.
MAX_BACKFILL_RUNS = 100_000


def create_timetable(value: object, zone: tzinfo, *, start_date: datetime | None = None) -> Timetable:
    """The timetable a DAG's ``schedule`` / ``schedule_interval`` argument describes (Airflow's
    ``create_timetable``): cron strings and presets are read on the clock of ``zone``; a period is
    counted from ``start_date``."""
    if isinstance(value, DeltaDataIntervalTimetable):
        return value.anchored(start_date)
    if isinstance(value, DatasetOrTimeSchedule):
        inner = create_timetable(value.timetable, zone, start_date=start_date)
        if inner is value.timetable:
            return value
        return DatasetOrTimeSchedule(timetable=inner, datasets=value.dataset_condition)
    if isinstance(value, Timetable):
        return value
    if value is None:
        return NullTimetable()
    try:
        condition = condition_from_schedule(value)
    except ValueError as exc:
        raise InvalidScheduleError(str(exc)) from None
    if condition is not None:
        return DatasetTriggeredTimetable(condition)
    if isinstance(value, str):
        if value == "@once":
            return OnceTimetable()
        if value == "@continuous":
            return ContinuousTimetable()
        return CronDataIntervalTimetable(value, zone)
    if isinstance(value, timedelta | relativedelta):
        return DeltaDataIntervalTimetable(value, start_date)
    raise InvalidScheduleError(
        "schedule must be None, a cron string, a preset such as @daily, a timedelta, a timetable or datasets; "
        f"got {value!r} ({type(value).__name__})"
    )


def _restriction(start_date: datetime | None, end_date: datetime | None, catchup: bool) -> TimeRestriction:
    return TimeRestriction(
        utc(start_date) if start_date is not None else None,
        utc(end_date) if end_date is not None else None,
        catchup,
    )


def next_dagrun_info(
    timetable: Timetable,
    *,
    start_date: datetime | None,
    end_date: datetime | None = None,
    catchup: bool = True,
    last_automated_interval: DataInterval | None,
    now: datetime,
) -> DagRunInfo | None:
    """The next scheduled run after ``last_automated_interval``, or None if there is none.

    No ``start_date``: never (tradewind requires one for a schedule). ``catchup=False``: never
    earlier than the latest interval that has ended by ``now``. ``end_date``: no run may start after
    it. The run may lie in the future: the caller creates it once ``now >= run_after``.
    """
    if start_date is None or not timetable.can_be_scheduled:
        return None
    info = timetable.next_dagrun_info_at(
        last_automated_data_interval=last_automated_interval,
        restriction=_restriction(start_date, end_date, catchup),
        now=now,
    )
    return checked(info, timetable)


def manual_run_interval(timetable: Timetable, logical_date: datetime) -> DataInterval:
    """The data interval of a run triggered by hand at ``logical_date``."""
    start, end = timetable.infer_manual_data_interval(run_after=utc(logical_date))
    return DataInterval(utc(start), utc(end))


def intervals_between(
    timetable: Timetable,
    start: datetime,
    end: datetime,
    *,
    start_date: datetime | None,
    end_date: datetime | None = None,
    now: datetime | None = None,
) -> list[DagRunInfo]:
    """Every scheduled run whose logical date lies within ``[start, end]`` (a backfill): the runs the
    scheduler would create with catchup, never before ``start_date`` nor after ``end_date``."""
    if start_date is None or not timetable.can_be_scheduled:
        return []
    first, last = max(utc(start), utc(start_date)), utc(end)
    if end_date is not None:
        last = min(last, utc(end_date))
    # A periodic timetable starts at the range (its grid is the same from any point); any other one
    # from the start date, as the scheduler would, its runs before the range left out.
    restriction = TimeRestriction(first if timetable.periodic else utc(start_date), last, True)
    moment = utc(now) if now is not None else last
    infos: list[DagRunInfo] = []
    previous: DataInterval | None = None
    while len(infos) <= MAX_BACKFILL_RUNS:
        info = checked(
            timetable.next_dagrun_info_at(last_automated_data_interval=previous, restriction=restriction, now=moment),
            timetable,
        )
        if info is None or (previous is not None and info.logical_date <= previous.start):
            return infos
        if info.logical_date >= first:
            infos.append(info)
        previous = info.data_interval
    raise InvalidScheduleError(f"the range names more than {MAX_BACKFILL_RUNS} runs; backfill a shorter one")


def previous_logical_date(timetable: Timetable, logical_date: datetime) -> datetime | None:
    """The schedule's point before ``logical_date`` (Airflow's deprecated ``prev_execution_date``);
    None for a timetable without periods."""
    previous = getattr(timetable, "previous_logical_date", None)
    return utc(previous(logical_date)) if previous is not None else None


def next_logical_date(timetable: Timetable, data_interval: DataInterval, *, now: datetime) -> datetime | None:
    """The logical date of the run the schedule has after the one covering ``data_interval``
    (Airflow's deprecated ``next_execution_date``: its next run, unrestricted)."""
    info = checked(
        timetable.next_dagrun_info_at(
            last_automated_data_interval=DataInterval(utc(data_interval.start), utc(data_interval.end)),
            restriction=TimeRestriction(None, None, True),
            now=now,
        ),
        timetable,
    )
    return info.logical_date if info is not None else None
