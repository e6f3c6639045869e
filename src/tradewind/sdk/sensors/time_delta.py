"""``TimeDeltaSensor``: wait until a fixed time after the end of the run's data interval."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tradewind.sdk.sensors.base import BaseSensorOperator

log = logging.getLogger("tradewind.task.operators")


class TimeDeltaSensor(BaseSensorOperator):
    """Done once now is later than ``data_interval_end + delta`` (Airflow's rule)."""

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delta = delta

    def target_time(self, context: dict[str, Any]) -> Any:
        return context["data_interval_end"] + self.delta

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target_time(context)
        log.info("Checking if the time (%s) has come", target)
        return self.clock() > target


class TimeDeltaSensorAsync(TimeDeltaSensor):
    """Airflow's deferrable variant; here it pokes like :class:`TimeDeltaSensor` (no triggerer)."""

    def __init__(self, *, end_from_trigger: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end_from_trigger = end_from_trigger
