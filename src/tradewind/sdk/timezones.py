"""A DAG's time zone: found from its start date, named for the serialized DAG, and found again.

Airflow evaluates cron schedules in the DAG's time zone, the zone of its ``start_date`` (UTC for a
naive one). What the scheduler reads is JSON, so the zone travels by its IANA name
(``"Europe/Amsterdam"``), or as a fixed offset in seconds when it has no name
(``timezone(timedelta(hours=2))``) — never as the start date's offset of the day, which would lose
the daylight-saving changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewind.errors import InvalidScheduleError

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "utc", "Z", "GMT", "Etc/GMT", "Universal", "Zulu"})


def zone_named(name: str) -> tzinfo:
    """The IANA zone ``name``; a clear error for an unknown one."""
    if name in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidScheduleError(f"unknown timezone {name!r}: {exc}") from None


def _name_of(zone: tzinfo) -> str | None:
    if zone is UTC:
        return "UTC"
    for attribute in ("key", "name", "zone"):  # zoneinfo, pendulum, pytz
        name = getattr(zone, attribute, None)
        if isinstance(name, str) and name:
            try:
                zone_named(name)
            except InvalidScheduleError:
                return None
            return name
    return None


def zone_of(value: datetime | None) -> tzinfo:
    """The time zone ``value`` is in, as a ``ZoneInfo`` (or UTC) when it has a name, else its fixed
    offset; UTC for None and naive values."""
    if value is None or value.tzinfo is None:
        return UTC
    name = _name_of(value.tzinfo)
    if name is not None:
        return zone_named(name)
    offset = value.utcoffset() or timedelta(0)
    return UTC if not offset else timezone(offset)


def encode_timezone(zone: tzinfo) -> str | int:
    """The zone for JSON: its name, or its fixed offset in seconds."""
    name = _name_of(zone)
    if name is not None:
        return name
    offset = zone.utcoffset(None)
    if offset is None:
        raise InvalidScheduleError(f"timezone {zone!r} has neither a name nor a fixed offset")
    return int(offset.total_seconds())


def decode_timezone(data: str | int | float) -> tzinfo:
    """The zone ``encode_timezone`` described."""
    if isinstance(data, str):
        return zone_named(data)
    return UTC if not data else timezone(timedelta(seconds=data))
