"""Reads the ``schedule`` of a DAG serialized before timetables, so a metastore upgraded in place
keeps scheduling its DAGs until their files are parsed again (which stores a ``timetable``)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from dateutil.relativedelta import relativedelta

from tradewind.errors import InvalidScheduleError
from tradewind.sdk.timetables.base import Timetable
from tradewind.sdk.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable
from tradewind.sdk.timetables.simple import NullTimetable, OnceTimetable
from tradewind.sdk.timezones import zone_named, zone_of

_RELATIVE_FIELDS = ("years", "months", "days", "hours", "minutes", "seconds", "microseconds")


def timetable_from_schedule_json(data: dict[str, Any], start_date: datetime | None) -> tuple[tzinfo, Timetable]:
    """The DAG's time zone and timetable from the old ``{"type": ...}`` schedule form."""
    zone = zone_of(start_date)
    kind = data.get("type")
    if kind == "none":
        return zone, NullTimetable()
    if kind == "once":
        return zone, OnceTimetable()
    if kind == "cron":
        named = data.get("timezone")
        return zone, CronDataIntervalTimetable(
            data.get("preset") or data["expression"], zone_named(named) if named else zone
        )
    if kind == "delta":
        delta = timedelta(days=data["days"], seconds=data["seconds"], microseconds=data["microseconds"])
        return zone, DeltaDataIntervalTimetable(delta, start_date)
    if kind == "relativedelta":
        period = relativedelta(**{k: data[k] for k in _RELATIVE_FIELDS if k in data})
        return zone, DeltaDataIntervalTimetable(period, start_date)
    raise InvalidScheduleError(f"unknown serialized schedule type {kind!r}")
