"""The Timetable API of Airflow 2 (``airflow.timetables.base``): the interval a run covers, when it
may be created, the bounds the scheduler imposes, and the ``Timetable`` a custom schedule subclasses.

Every datetime is timezone-aware. The built-in timetables also implement ``next_dagrun_info_at``,
which takes ``now`` instead of reading the clock, so the scheduler's decisions stay pure; a custom
timetable only implements Airflow's ``next_dagrun_info`` and reads the clock itself if it must.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

from tradewind.errors import InvalidScheduleError


class DataInterval(NamedTuple):
    """The span of data a run covers: ``[start, end)``."""

    start: datetime
    end: datetime

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        """An interval that is a single point in time."""
        return cls(at, at)


class TimeRestriction(NamedTuple):
    """The bounds of scheduling: the DAG's start date, its end date, and whether it catches up."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


class DagRunInfo(NamedTuple):
    """A run to create: the earliest time to create it and the data interval it covers."""

    run_after: datetime
    data_interval: DataInterval

    @property
    def logical_date(self) -> datetime:
        """The run's logical date: its data interval's start, as in Airflow 2."""
        return self.data_interval.start

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        """A run at ``at`` whose data interval is that point in time."""
        return cls(run_after=at, data_interval=DataInterval.exact(at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run covering ``[start, end)``, created once ``end`` has passed."""
        return cls(run_after=end, data_interval=DataInterval(start, end))


class Timetable:
    """What a timetable provides; subclass it for a custom schedule (registered by a plugin)."""

    #: Shown in the UI next to the schedule.
    description: str = ""
    #: Whether the timetable runs at regular intervals (catchup and backfill make sense).
    periodic: ClassVar[bool] = True
    #: False for timetables that never create runs on their own (``None``, datasets).
    can_be_scheduled: ClassVar[bool] = True
    #: How the UI orders runs.
    run_ordering: ClassVar[tuple[str, ...]] = ("data_interval_end", "execution_date")
    #: The most runs that may be active at once, whatever the DAG's max_active_runs (None: no limit).
    active_runs_limit: ClassVar[int | None] = None

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """The timetable ``serialize`` described; a timetable without arguments needs no override."""
        return cls()

    def serialize(self) -> dict[str, Any]:
        """What ``deserialize`` needs to rebuild this timetable, as JSON."""
        return {}

    @property
    def summary(self) -> str:
        """A short name for the schedule (the DAGs list shows it)."""
        return type(self).__name__

    def validate(self) -> None:
        """Raise ``AirflowTimetableInvalid`` if the timetable cannot work (checked when the file is parsed)."""

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at ``run_after``."""
        raise NotImplementedError

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        """The next run to schedule after ``last_automated_data_interval``, or None: no more runs."""
        raise NotImplementedError

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        """``next_dagrun_info`` as of ``now``; the built-ins use ``now`` instead of the clock."""
        return self.next_dagrun_info(last_automated_data_interval=last_automated_data_interval, restriction=restriction)

    def generate_run_id(self, *, run_type: Any, logical_date: datetime, **extra: Any) -> str:
        """The id of a run of ``run_type`` at ``logical_date`` (Airflow's ``<type>__<iso date>``)."""
        return f"{getattr(run_type, 'value', run_type)}__{logical_date.isoformat()}"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.serialize() == other.serialize()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(type(self).__qualname__)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.summary}>"


class NowTakingTimetable(Timetable):
    """A timetable that decides from a given ``now``: the scheduler passes its clock's time; Airflow's
    ``next_dagrun_info`` reads the real clock."""

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        return self.next_dagrun_info_at(
            last_automated_data_interval=last_automated_data_interval,
            restriction=restriction,
            now=datetime.now(UTC),
        )

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        raise NotImplementedError


def utc(value: datetime) -> datetime:
    """``value`` as a plain aware UTC ``datetime``; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    u = value.astimezone(UTC)
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=UTC)


def checked(info: Any, timetable: Timetable) -> DagRunInfo | None:
    """What a timetable's ``next_dagrun_info`` returned, checked and in plain UTC (a custom one may err)."""
    if info is None:
        return None
    if not isinstance(info, DagRunInfo):
        raise InvalidScheduleError(
            f"{type(timetable).__name__}.next_dagrun_info returned {info!r}, not a DagRunInfo or None"
        )
    start, end = info.data_interval
    return DagRunInfo(run_after=utc(info.run_after), data_interval=DataInterval(utc(start), utc(end)))
