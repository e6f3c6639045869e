"""Schedules and their arithmetic: which data interval a DAG's next run covers, and when it may start.

Airflow 2.2+ data-interval semantics: a scheduled run covers ``[start, end)``, its logical date is
the interval's start and it is created once the interval's end has passed (``run_after``). Every
function here is pure: it takes ``now`` and returns aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from dateutil.relativedelta import relativedelta

from tradewind.errors import InvalidScheduleError

#: Airflow's cron presets. "@once" and None are schedules of their own.
PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_CRON_EPOCH = datetime(2000, 1, 1)
_RELATIVE_FIELDS = ("years", "months", "days", "hours", "minutes", "seconds", "microseconds")


class Schedule:
    """Base of the schedule kinds; each is a frozen dataclass."""

    kind: ClassVar[str]

    @property
    def description(self) -> str:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True)
class NoSchedule(Schedule):
    """``schedule=None``: runs only when triggered."""

    kind: ClassVar[str] = "none"

    @property
    def description(self) -> str:
        return "None"


@dataclass(frozen=True)
class OnceSchedule(Schedule):
    """``"@once"``: a single run at the start date."""

    kind: ClassVar[str] = "once"

    @property
    def description(self) -> str:
        return "@once"


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A cron expression, evaluated in ``timezone`` (None: the start date's timezone, else UTC)."""

    expression: str
    timezone: str | None = None
    preset: str | None = None
    kind: ClassVar[str] = "cron"

    @property
    def description(self) -> str:
        return self.preset or self.expression

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "expression": self.expression,
            "timezone": self.timezone,
            "preset": self.preset,
        }


@dataclass(frozen=True)
class DeltaSchedule(Schedule):
    """A fixed period (``timedelta`` or a relative ``relativedelta``), counted from the start date."""

    delta: timedelta | relativedelta
    kind: ClassVar[str] = "delta"

    @property
    def description(self) -> str:
        return str(self.delta)

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.delta, timedelta):
            d = self.delta
            return {"type": self.kind, "days": d.days, "seconds": d.seconds, "microseconds": d.microseconds}
        fields = {name: getattr(self.delta, name) for name in _RELATIVE_FIELDS}
        return {"type": "relativedelta", **{k: v for k, v in fields.items() if v}}


@dataclass(frozen=True)
class DataInterval:
    """The span of data a run processes: ``[start, end)``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class DagRunInfo:
    """A run to create: its logical date, its data interval, and the earliest time to create it."""

    logical_date: datetime
    data_interval: DataInterval
    run_after: datetime


# --- building and serializing ---


def normalize_schedule(value: object, *, timezone: str | None = None) -> Schedule:
    """The schedule a DAG's ``schedule``/``schedule_interval`` argument describes.

    ``timezone`` pins a cron schedule's timezone; without it the DAG's start date decides.
    """
    if isinstance(value, Schedule):
        return value
    if value is None:
        return NoSchedule()
    if isinstance(value, str):
        if value == "@once":
            return OnceSchedule()
        return _cron_schedule(value, timezone)
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidScheduleError(f"a timedelta schedule must be positive; got {value!r}")
        return DeltaSchedule(value)
    if isinstance(value, relativedelta):
        return DeltaSchedule(_checked_relativedelta(value))
    raise InvalidScheduleError(
        "schedule must be None, a cron string, a preset such as @daily, or a timedelta; "
        f"got {value!r} ({type(value).__name__})"
    )


def _cron_schedule(value: str, timezone: str | None) -> CronSchedule:
    preset = value if value in PRESETS else None
    expression = PRESETS.get(value, value)
    try:
        # A valid-looking cron that never fires ("0 0 30 2 *") only fails when asked for a date.
        croniter(expression, _CRON_EPOCH).get_next(datetime)
    except (CroniterError, ValueError, TypeError, KeyError) as exc:
        raise InvalidScheduleError(f"invalid cron expression {value!r}: {exc}") from None
    if timezone is not None:
        _zone_named(timezone)
    return CronSchedule(expression, timezone, preset)


def _checked_relativedelta(value: relativedelta) -> relativedelta:
    absolute = [
        name
        for name in ("year", "month", "day", "weekday", "hour", "minute", "second", "microsecond", "leapdays")
        if getattr(value, name)
    ]
    if absolute:
        raise InvalidScheduleError(
            f"a relativedelta schedule may use relative fields only; got {value!r} (sets {', '.join(absolute)})"
        )
    if _CRON_EPOCH + value <= _CRON_EPOCH:
        raise InvalidScheduleError(f"a relativedelta schedule must be positive; got {value!r}")
    return value


def _zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidScheduleError(f"unknown timezone {name!r}: {exc}") from None


def schedule_from_json(data: dict[str, Any]) -> Schedule:
    """The schedule ``Schedule.to_json`` described."""
    kind = data.get("type")
    if kind == "none":
        return NoSchedule()
    if kind == "once":
        return OnceSchedule()
    if kind == "cron":
        return CronSchedule(data["expression"], data.get("timezone"), data.get("preset"))
    if kind == "delta":
        return DeltaSchedule(timedelta(days=data["days"], seconds=data["seconds"], microseconds=data["microseconds"]))
    if kind == "relativedelta":
        return DeltaSchedule(relativedelta(**{k: data[k] for k in _RELATIVE_FIELDS if k in data}))
    raise InvalidScheduleError(f"unknown serialized schedule type {kind!r}")


# --- the periodic grids ---


def _utc(value: datetime) -> datetime:
    """``value`` as a plain aware UTC datetime; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    u = value.astimezone(UTC)
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=UTC)


class _CronGrid:
    """Fire times of a cron expression in a timezone, as UTC instants.

    Wall-clock cron runs in local time (``0 0 * * *`` is local midnight, 23 or 25 hours apart across a
    DST change). Crons that fire every hour step by the absolute distance instead, so the repeated
    hour of an autumn DST change is not skipped — the same workaround Airflow applies.
    """

    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.expression = expression
        self.zone = zone
        # A fixed start time: croniter would otherwise read the clock.
        self.every_hour = croniter(expression, _CRON_EPOCH).expanded[1] == ["*"]

    def _step(self, t: datetime, forward: bool) -> datetime:
        local = t.astimezone(self.zone)
        naive = local.replace(tzinfo=None)
        it = croniter(self.expression, naive)
        fired = it.get_next(datetime) if forward else it.get_prev(datetime)
        if self.every_hour:
            return _utc(t + (fired - naive))
        result = _utc(fired.replace(tzinfo=self.zone))
        # A fire time inside a spring-forward gap can map back across ``t``; take the one after it.
        while (result <= t) if forward else (result >= t):
            fired = it.get_next(datetime) if forward else it.get_prev(datetime)
            result = _utc(fired.replace(tzinfo=self.zone))
        return result

    def after(self, t: datetime) -> datetime:
        """The first fire time strictly after ``t``."""
        return self._step(t, forward=True)

    def before(self, t: datetime) -> datetime:
        """The last fire time strictly before ``t``."""
        return self._step(t, forward=False)

    def at_or_after(self, t: datetime) -> datetime:
        nxt = self.after(t)
        return t if self.before(nxt) == t else nxt

    def at_or_before(self, t: datetime) -> datetime:
        prev = self.before(t)
        return t if self.after(prev) == t else prev

    def latest_complete_start(self, now: datetime) -> datetime:
        """Start of the latest interval that has ended by ``now`` (Airflow's catchup=False rule)."""
        last_fire = self.at_or_before(now)
        return self.before(last_fire)


class _DeltaGrid:
    """Points ``anchor + k * delta`` (k >= 0), in absolute (UTC) time, as Airflow adds deltas."""

    def __init__(self, delta: timedelta | relativedelta, anchor: datetime) -> None:
        self.delta = delta
        self.anchor = anchor

    def _point(self, k: int) -> datetime:
        return _utc(self.anchor + self.delta * k)

    def _floor_index(self, t: datetime) -> int:
        """The largest k with point(k) <= t (-1 before the anchor)."""
        if t < self.anchor:
            return -1
        if isinstance(self.delta, timedelta):
            return (t - self.anchor) // self.delta
        approx: timedelta = (self.anchor + self.delta) - self.anchor
        k = max(0, (t - self.anchor) // approx)
        while k > 0 and self._point(k) > t:
            k -= 1
        while self._point(k + 1) <= t:
            k += 1
        return k

    def after(self, t: datetime) -> datetime:
        k = self._floor_index(t)
        if k >= 0 and self._point(k) == t:
            return self._point(k + 1)
        return _utc(t + self.delta)  # off the grid (e.g. a changed schedule): continue from t

    def at_or_after(self, t: datetime) -> datetime:
        k = self._floor_index(t)
        if k >= 0 and self._point(k) == t:
            return t
        return self._point(k + 1)

    def latest_complete_start(self, now: datetime) -> datetime:
        return self._point(max(0, self._floor_index(now) - 1))


def _zone_for(schedule: CronSchedule, start_date: datetime | None) -> tzinfo:
    if schedule.timezone is not None:
        return _zone_named(schedule.timezone)
    if start_date is not None and start_date.tzinfo is not None:
        return start_date.tzinfo
    return UTC


def _grid(schedule: CronSchedule | DeltaSchedule, start_date: datetime) -> _CronGrid | _DeltaGrid:
    if isinstance(schedule, CronSchedule):
        return _CronGrid(schedule.expression, _zone_for(schedule, start_date))
    return _DeltaGrid(schedule.delta, _utc(start_date))


def _interval_info(start: datetime, end: datetime) -> DagRunInfo:
    return DagRunInfo(logical_date=start, data_interval=DataInterval(start, end), run_after=end)


def _once_info(start_date: datetime) -> DagRunInfo:
    at = _utc(start_date)
    return DagRunInfo(logical_date=at, data_interval=DataInterval(at, at), run_after=at)


# --- the questions the scheduler asks ---


def next_dagrun_info(
    schedule: Schedule,
    *,
    start_date: datetime | None,
    end_date: datetime | None = None,
    catchup: bool = True,
    last_automated_interval: DataInterval | None,
    now: datetime,
) -> DagRunInfo | None:
    """The next scheduled run to create after ``last_automated_interval``, or None if there is none.

    As Airflow's data-interval timetables:

    - cron: intervals run from one fire time to the next; the first starts at the first fire time at
      or after ``start_date``. Each later one starts where the last ended.
    - timedelta: intervals ``[start_date + k*delta, start_date + (k+1)*delta)``. (Airflow, with
      ``catchup=False``, starts at ``now - delta`` off the grid; we stay on the grid so that the
      scheduler and a backfill always name the same logical dates.)
    - ``catchup=False``: never earlier than the latest interval that has already ended by ``now``.
    - ``@once``: one run at ``start_date`` (interval ``[start_date, start_date]``).
    - ``None`` or no ``start_date``: never.
    - ``end_date``: no interval may start after it.

    The returned run may lie in the future: the caller creates it once ``now >= run_after`` and
    otherwise sleeps until ``run_after``.
    """
    if isinstance(schedule, NoSchedule) or start_date is None:
        return None
    latest = _utc(end_date) if end_date is not None else None
    if isinstance(schedule, OnceSchedule):
        info = _once_info(start_date)
        too_late = latest is not None and info.run_after > latest
        return None if last_automated_interval is not None or too_late else info
    if not isinstance(schedule, CronSchedule | DeltaSchedule):
        raise InvalidScheduleError(f"not a schedule: {schedule!r}")
    grid = _grid(schedule, start_date)
    earliest = grid.at_or_after(_utc(start_date))
    if not catchup:
        earliest = max(earliest, grid.latest_complete_start(_utc(now)))
    begin = earliest
    if last_automated_interval is not None:
        begin = max(_utc(last_automated_interval.end), earliest)
    if latest is not None and begin > latest:
        return None
    return _interval_info(begin, grid.after(begin))


def manual_run_interval(
    schedule: Schedule, logical_date: datetime, *, start_date: datetime | None = None
) -> DataInterval:
    """The data interval of a run triggered by hand at ``logical_date`` (Airflow's
    ``infer_manual_data_interval``).

    - cron: the latest complete interval ending at or before ``logical_date`` (triggered at 01:00 on
      the 25th, a daily DAG's run covers the 24th).
    - timedelta: ``[logical_date - delta, logical_date]``.
    - None and ``@once``: ``[logical_date, logical_date]``.

    ``start_date`` only supplies the DAG's timezone for a cron schedule without one.
    """
    at = _utc(logical_date)
    if isinstance(schedule, CronSchedule):
        grid = _CronGrid(schedule.expression, _zone_for(schedule, start_date))
        end = grid.at_or_before(at)
        return DataInterval(grid.before(end), end)
    if isinstance(schedule, DeltaSchedule):
        return DataInterval(_utc(at - schedule.delta), at)
    return DataInterval(at, at)


def intervals_between(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    start_date: datetime | None,
    end_date: datetime | None = None,
) -> list[DagRunInfo]:
    """Every scheduled run whose logical date lies within ``[start, end]`` (for a backfill).

    The runs are the ones the scheduler would create with catchup: on the same grid, never before
    ``start_date`` and never after ``end_date``. ``None`` schedules have none; ``@once`` has its
    single run if ``start_date`` falls in the range.
    """
    if isinstance(schedule, NoSchedule) or start_date is None:
        return []
    first, last = _utc(start), _utc(end)
    if end_date is not None:
        last = min(last, _utc(end_date))
    if isinstance(schedule, OnceSchedule):
        info = _once_info(start_date)
        return [info] if first <= info.logical_date <= last else []
    if not isinstance(schedule, CronSchedule | DeltaSchedule):
        raise InvalidScheduleError(f"not a schedule: {schedule!r}")
    grid = _grid(schedule, start_date)
    begin = grid.at_or_after(max(first, _utc(start_date)))
    infos: list[DagRunInfo] = []
    while begin <= last:
        interval_end = grid.after(begin)
        infos.append(_interval_info(begin, interval_end))
        begin = interval_end
    return infos
