"""``TimeDeltaSensor``: wait until a fixed time after the end of the run's data interval; with
``deferrable=True`` (always, for ``TimeDeltaSensorAsync``) it waits in a triggerer, holding no slot."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tradewind.sdk.sensors.base import BaseSensorOperator
from tradewind.sdk.triggers.temporal import DateTimeTrigger

log = logging.getLogger("tradewind.task.operators")


class TimeDeltaSensor(BaseSensorOperator):
    """Done once now is later than ``data_interval_end + delta`` (Airflow's rule)."""

    def __init__(
        self, *, delta: timedelta, deferrable: bool = False, end_from_trigger: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.delta = delta
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger

    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable:
            return super().execute(context)
        target = self.target_time(context)
        if self.clock() > target:
            log.info("The time (%s) has come; not deferring", target)
            return None
        self.defer(
            trigger=DateTimeTrigger(moment=target, end_from_trigger=self.end_from_trigger),
            method_name="execute_complete",
        )
        return None

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        """Resumed once the trigger fired: the time has come."""
        log.info("The time has come (%s)", event)

    def target_time(self, context: dict[str, Any]) -> Any:
        return context["data_interval_end"] + self.delta

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target_time(context)
        log.info("Checking if the time (%s) has come", target)
        return self.clock() > target


class TimeDeltaSensorAsync(TimeDeltaSensor):
    """Airflow's deferrable variant: :class:`TimeDeltaSensor` that always defers."""

    def __init__(self, *, end_from_trigger: bool = False, **kwargs: Any) -> None:
        kwargs.pop("deferrable", None)
        super().__init__(deferrable=True, end_from_trigger=end_from_trigger, **kwargs)
