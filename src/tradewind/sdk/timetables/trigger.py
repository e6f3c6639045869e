"""``CronTriggerTimetable`` (``airflow.timetables.trigger``): a run at each fire time of a cron, named
by that fire time, not by the period before it.

A run fires at ``T`` with logical date ``T - interval`` and data interval ``[T - interval, T]``
(``interval`` defaults to none). With ``catchup=False`` it starts from the latest fire time at or
before now; a manual run at ``t`` covers ``[t - interval, t]``. DST rules are those of ``cron_clock``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from tradewind.sdk.timetables.base import (
    DagRunInfo,
    DataInterval,
    NowTakingTimetable,
    TimeRestriction,
    Timetable,
    utc,
)
from tradewind.sdk.timetables.cron_clock import CronClock
from tradewind.sdk.timetables.interval import as_zone, checked_cron
from tradewind.sdk.timezones import decode_timezone, encode_timezone


class CronTriggerTimetable(NowTakingTimetable):
    """Runs at the fire times of ``cron`` in ``timezone``."""

    def __init__(
        self,
        cron: str,
        *,
        timezone: str | tzinfo,
        interval: timedelta = timedelta(),
        run_immediately: bool | timedelta = False,
    ) -> None:
        self._display = cron
        self._expression = checked_cron(cron)
        self._timezone = as_zone(timezone)
        self._interval = interval
        self._run_immediately = run_immediately
        self._clock = CronClock(self._expression, self._timezone)
        self.description = cron

    @property
    def summary(self) -> str:
        return self._display

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        run_immediately = data.get("run_immediately", False)
        if isinstance(run_immediately, int | float) and not isinstance(run_immediately, bool):
            run_immediately = timedelta(seconds=run_immediately)
        return cls(
            data["expression"],
            timezone=decode_timezone(data["timezone"]),
            interval=timedelta(seconds=data.get("interval", 0)),
            run_immediately=run_immediately,
        )

    def serialize(self) -> dict[str, Any]:
        run_immediately = self._run_immediately
        return {
            "expression": self._display,
            "timezone": encode_timezone(self._timezone),
            "interval": self._interval.total_seconds(),
            "run_immediately": (
                run_immediately.total_seconds() if isinstance(run_immediately, timedelta) else run_immediately
            ),
        }

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        at = utc(run_after)
        return DataInterval(at - self._interval, at)

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        if restriction.catchup:
            if last_automated_data_interval is not None:
                fire = self._clock.next(utc(last_automated_data_interval.end))
            elif restriction.earliest is None:
                fire = self._first_run(utc(now))
            else:
                fire = self._clock.align_to_next(utc(restriction.earliest))
        else:
            candidates = [self._clock.align_to_prev(utc(now))]
            if last_automated_data_interval is not None:
                candidates.append(self._clock.next(utc(last_automated_data_interval.end)))
            if restriction.earliest is not None:
                candidates.append(self._clock.align_to_next(utc(restriction.earliest)))
            fire = max(candidates)
        if restriction.latest is not None and utc(restriction.latest) < fire:
            return None
        return DagRunInfo.interval(fire - self._interval, fire)

    def _first_run(self, now: datetime) -> datetime:
        """With no start date: the previous fire time if it is recent enough (``run_immediately``),
        else the next one."""
        previous = self._clock.align_to_prev(now)
        if self._run_immediately is True or (
            isinstance(self._run_immediately, timedelta) and now - previous <= self._run_immediately
        ):
            return previous
        return self._clock.next(now)
