"""``DayOfWeekSensor`` (Airflow's ``airflow.sensors.weekday``): wait until today — in UTC, or the
run's logical date with ``use_task_logical_date`` — is one of the given days of the week."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradewind.sdk.sensors.base import BaseSensorOperator, log
from tradewind.sdk.weekday import WeekDay, is_in, week_day_names


class DayOfWeekSensor(BaseSensorOperator):
    """Done on one of ``week_day``'s days (a name, a ``WeekDay`` or a collection of them)."""

    def __init__(
        self,
        *,
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        use_task_execution_day: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date or use_task_execution_day
        self._week_day_num = WeekDay.validate_week_day(week_day)

    def poke(self, context: dict[str, Any]) -> bool:
        moment = context["logical_date"] if self.use_task_logical_date else self.clock()
        log.info(
            "Poking until weekday is in %s, Today is %s", week_day_names(self._week_day_num), moment.strftime("%A")
        )
        return is_in(moment, self._week_day_num)
