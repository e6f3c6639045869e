"""``WeekDay`` (Airflow's ``airflow.utils.weekday``): the days of the week as ISO numbers, and the
parsing of a ``week_day`` argument given as a name, a ``WeekDay`` or a collection of them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any


@enum.unique
class WeekDay(enum.IntEnum):
    """The days of the week, numbered as ``datetime.isoweekday()`` numbers them."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """The ISO number of a day's name, in any case (``"monday"`` -> 1)."""
        sanitized = week_day_str.upper()
        if sanitized not in cls.__members__:
            raise AttributeError(f'Invalid Week Day passed: "{week_day_str}"')
        return cls[sanitized].value

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        """A day's ISO number, from its name or a ``WeekDay``."""
        if isinstance(day, WeekDay):
            return day.value
        return cls.get_weekday_number(week_day_str=day)

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[int]:
        """The set of ISO numbers a ``week_day`` argument names."""
        if isinstance(week_day, str | WeekDay):
            return {cls.convert(week_day)}
        if isinstance(week_day, set | list | tuple | frozenset | dict):
            return {cls.convert(day) for day in week_day}
        raise TypeError(
            f"Unsupported Type for week_day parameter: {type(week_day)}. Input should be iterable type: "
            "str, set, list, dict or Weekday enum type"
        )


def week_day_names(numbers: Iterable[int]) -> list[str]:
    """Day names for a log line, in week order."""
    return [WeekDay(number).name for number in sorted(numbers)]


def is_in(moment: Any, numbers: set[int]) -> bool:
    """Whether the date or datetime ``moment`` falls on one of the ``numbers`` days."""
    return int(moment.isoweekday()) in numbers
