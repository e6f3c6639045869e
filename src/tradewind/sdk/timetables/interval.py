"""The data-interval timetables a cron string, a preset or a ``timedelta`` schedule becomes
(``airflow.timetables.interval``): each run covers the period from one point of the schedule to the
next, is named by the period's start and is created once the period has ended.

- cron: periods run from one fire time to the next, on the DAG's local clock (``cron_clock``).
- timedelta / relativedelta: periods ``[start_date + k*delta, start_date + (k+1)*delta)`` in absolute
  time. (Airflow, with ``catchup=False``, starts at ``now - delta`` off that grid; tradewind stays on
  it so that the scheduler and a backfill always name the same logical dates.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from croniter import CroniterError, croniter
from dateutil.relativedelta import relativedelta

from tradewind.errors import InvalidScheduleError
from tradewind.sdk.timetables.base import (
    DagRunInfo,
    DataInterval,
    NowTakingTimetable,
    TimeRestriction,
    Timetable,
    utc,
)
from tradewind.sdk.timetables.cron_clock import CRON_EPOCH, CronClock
from tradewind.sdk.timezones import decode_timezone, encode_timezone, zone_named

#: Airflow's cron presets. "@once", "@continuous" and None are timetables of their own.
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

_RELATIVE_FIELDS = ("years", "months", "days", "hours", "minutes", "seconds", "microseconds")


def checked_cron(expression: str) -> str:
    """``expression`` (a cron string or preset) as a cron string; a clear error if croniter refuses it."""
    cron = PRESETS.get(expression, expression)
    try:
        # A valid-looking cron that never fires ("0 0 30 2 *") only fails when asked for a date.
        croniter(cron, CRON_EPOCH).get_next(datetime)
    except (CroniterError, ValueError, TypeError, KeyError) as exc:
        raise InvalidScheduleError(f"invalid cron expression {expression!r}: {exc}") from None
    return cron


def as_zone(value: str | tzinfo) -> tzinfo:
    return zone_named(value) if isinstance(value, str) else value


class _DataIntervalTimetable(NowTakingTimetable):
    """The rules shared by the cron and delta timetables; subclasses say how to step."""

    def _next(self, t: datetime) -> datetime:
        raise NotImplementedError

    def _prev(self, t: datetime) -> datetime:
        raise NotImplementedError

    def _align_to_next(self, t: datetime) -> datetime:
        raise NotImplementedError

    def _align_to_prev(self, t: datetime) -> datetime:
        raise NotImplementedError

    def _latest_complete_start(self, now: datetime) -> datetime:
        raise NotImplementedError

    def previous_logical_date(self, logical_date: datetime) -> datetime:
        """The schedule's point before ``logical_date`` (the deprecated ``prev_execution_date``)."""
        return self._prev(utc(logical_date))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        # Triggered at 01:00 on the 25th, a daily DAG's run covers the 24th: the last complete period.
        end = self._align_to_prev(utc(run_after))
        return DataInterval(self._prev(end), end)

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        earliest = restriction.earliest
        if earliest is not None:
            earliest = self._align_to_next(utc(earliest))
        if not restriction.catchup:
            latest_complete = self._latest_complete_start(utc(now))
            earliest = latest_complete if earliest is None else max(earliest, latest_complete)
        if last_automated_data_interval is None:
            if earliest is None:
                return None
            start = earliest
        else:
            # Aligned, in case the DAG's schedule changed since its last run.
            start = self._align_to_prev(utc(last_automated_data_interval.end))
            if earliest is not None:
                start = max(start, earliest)
        if restriction.latest is not None and start > utc(restriction.latest):
            return None
        return DagRunInfo.interval(start, self._next(start))


class CronDataIntervalTimetable(_DataIntervalTimetable):
    """A cron expression (or preset) read on the clock of ``timezone``."""

    def __init__(self, cron: str, timezone: str | tzinfo) -> None:
        self._display = cron
        self._expression = checked_cron(cron)
        self._timezone = as_zone(timezone)
        self._clock = CronClock(self._expression, self._timezone)
        self.description = cron

    @property
    def summary(self) -> str:
        return self._display

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(data["expression"], decode_timezone(data["timezone"]))

    def serialize(self) -> dict[str, Any]:
        return {"expression": self._display, "timezone": encode_timezone(self._timezone)}

    def _next(self, t: datetime) -> datetime:
        return self._clock.next(t)

    def _prev(self, t: datetime) -> datetime:
        return self._clock.prev(t)

    def _align_to_next(self, t: datetime) -> datetime:
        return self._clock.align_to_next(t)

    def _align_to_prev(self, t: datetime) -> datetime:
        return self._clock.align_to_prev(t)

    def _latest_complete_start(self, now: datetime) -> datetime:
        return self._clock.latest_complete_start(now)


class DeltaDataIntervalTimetable(_DataIntervalTimetable):
    """A fixed period (``timedelta``, or a ``relativedelta`` of relative fields), counted from the
    DAG's start date (``anchor``) in absolute time."""

    def __init__(self, delta: timedelta | relativedelta, anchor: datetime | None = None) -> None:
        self._delta = _checked_delta(delta)
        self._anchor = utc(anchor) if anchor is not None else None
        self.description = str(delta)

    def anchored(self, anchor: datetime | None) -> DeltaDataIntervalTimetable:
        """This period counted from ``anchor`` (the DAG gives its start date)."""
        return DeltaDataIntervalTimetable(self._delta, anchor)

    @property
    def summary(self) -> str:
        return str(self._delta)

    @property
    def delta(self) -> timedelta | relativedelta:
        """The period."""
        return self._delta

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        anchor = datetime.fromisoformat(data["anchor"]) if data.get("anchor") else None
        if "relativedelta" in data:
            return cls(relativedelta(**data["relativedelta"]), anchor)
        return cls(timedelta(seconds=data["delta"]), anchor)

    def serialize(self) -> dict[str, Any]:
        anchor = self._anchor.isoformat() if self._anchor is not None else None
        if isinstance(self._delta, relativedelta):
            fields = {name: getattr(self._delta, name) for name in _RELATIVE_FIELDS}
            return {"relativedelta": {k: v for k, v in fields.items() if v}, "anchor": anchor}
        return {"delta": self._delta.total_seconds(), "anchor": anchor}

    def _point(self, k: int) -> datetime:
        assert self._anchor is not None
        return utc(self._anchor + self._delta * k)

    def _floor_index(self, t: datetime) -> int:
        """The largest k with point(k) <= t (-1 before the anchor)."""
        assert self._anchor is not None
        if t < self._anchor:
            return -1
        if isinstance(self._delta, timedelta):
            return (t - self._anchor) // self._delta
        approx: timedelta = (self._anchor + self._delta) - self._anchor
        k = max(0, (t - self._anchor) // approx)
        while k > 0 and self._point(k) > t:
            k -= 1
        while self._point(k + 1) <= t:
            k += 1
        return k

    def _grid_index(self, t: datetime) -> int | None:
        """k when ``t`` is the grid's point k, else None."""
        if self._anchor is None:
            return None
        k = self._floor_index(t)
        return k if k >= 0 and self._point(k) == t else None

    def _next(self, t: datetime) -> datetime:
        k = self._grid_index(t)
        return self._point(k + 1) if k is not None else utc(t + self._delta)

    def _prev(self, t: datetime) -> datetime:
        k = self._grid_index(t)
        return self._point(k - 1) if k is not None else utc(t - self._delta)

    def _align_to_next(self, t: datetime) -> datetime:
        if self._anchor is None or self._grid_index(t) is not None:
            return t
        return self._point(self._floor_index(t) + 1)

    def _align_to_prev(self, t: datetime) -> datetime:
        # Off the grid (e.g. a changed schedule) a run continues from where the last one ended.
        return t

    def _latest_complete_start(self, now: datetime) -> datetime:
        if self._anchor is None:
            return utc(now - self._delta)
        return self._point(max(0, self._floor_index(now) - 1))


def _checked_delta(value: timedelta | relativedelta) -> timedelta | relativedelta:
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidScheduleError(f"a timedelta schedule must be positive; got {value!r}")
        return value
    absolute = [
        name
        for name in ("year", "month", "day", "weekday", "hour", "minute", "second", "microsecond", "leapdays")
        if getattr(value, name)
    ]
    if absolute:
        raise InvalidScheduleError(
            f"a relativedelta schedule may use relative fields only; got {value!r} (sets {', '.join(absolute)})"
        )
    if CRON_EPOCH + value <= CRON_EPOCH:
        raise InvalidScheduleError(f"a relativedelta schedule must be positive; got {value!r}")
    return value
