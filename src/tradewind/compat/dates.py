"""Airflow 2's date helpers, served as ``airflow.utils.timezone`` and ``airflow.utils.dates``.

Tradewind's default timezone is UTC, as Airflow's is out of the box, so "naive" below means UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

#: The UTC timezone Airflow's helpers attach (a pendulum timezone, as in Airflow).
utc = pendulum.UTC

#: Airflow's schedule presets and the cron strings they stand for.
cron_presets: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(tz=utc)


def is_localized(value: dt.datetime) -> bool:
    """Whether ``value`` carries a timezone."""
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    """Whether ``value`` has no timezone."""
    return value.utcoffset() is None


def make_aware(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    """The naive ``value`` read as a time in ``timezone`` (UTC by default)."""
    if is_localized(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    timezone = timezone or utc
    # A pendulum timezone resolves times that a DST change skips or repeats; a plain tzinfo cannot.
    convert = getattr(timezone, "convert", None)
    return convert(value) if convert is not None else value.replace(tzinfo=timezone)


def make_naive(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    """The aware ``value`` as a naive wall-clock time in ``timezone`` (UTC by default)."""
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(timezone or utc).replace(tzinfo=None)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC; a naive value is taken to be UTC already."""
    if value is None:
        return None
    if is_naive(value):
        value = make_aware(value, utc)
    return value.astimezone(utc)


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """``datetime.datetime(...)`` that is aware: UTC unless a ``tzinfo`` is given."""
    if "tzinfo" not in kwargs and len(args) < 8:
        kwargs["tzinfo"] = utc
    return dt.datetime(*args, **kwargs)


def parse(string: str, timezone: Any = None, *, strict: bool = False) -> dt.datetime:
    """An aware datetime parsed from ``string``; a time without an offset is in ``timezone``."""
    return pendulum.parse(string, tz=timezone or utc, strict=strict)  # type: ignore[return-value]


def days_ago(n: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0) -> dt.datetime:
    """Midnight UTC (or the given time of day) ``n`` days ago, as Airflow 2's ``days_ago``."""
    today = utcnow().replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    return today - dt.timedelta(days=n)
