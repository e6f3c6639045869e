"""``DateTimeSensor``: wait until a given (templated) moment has passed; with ``deferrable=True``
(always, for ``DateTimeSensorAsync``) it waits in a triggerer, holding no slot."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from tradewind.errors import AirflowException, DagDefinitionError
from tradewind.sdk.sensors.base import BaseSensorOperator
from tradewind.sdk.triggers.temporal import DateTimeTrigger

log = logging.getLogger("tradewind.task.operators")


def parse_target_time(value: str) -> datetime:
    """An ISO-8601 moment; one without an offset is UTC, Airflow's default timezone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            import pendulum

            parsed = pendulum.parse(value, tz="UTC")  # type: ignore[assignment]
        except Exception as exc:
            raise AirflowException(f"target_time {value!r} is not an ISO-8601 date and time") from exc
    if not isinstance(parsed, datetime):
        raise AirflowException(f"target_time {value!r} is not an ISO-8601 date and time")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class DateTimeSensor(BaseSensorOperator):
    """Done once now is later than ``target_time`` (a datetime, or a string such as
    ``"{{ data_interval_end.add(hours=1) }}"``, rendered before the first poke)."""

    template_fields: ClassVar[Sequence[str]] = ("target_time",)

    def __init__(
        self,
        *,
        target_time: str | datetime,
        deferrable: bool = False,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(target_time, str | datetime):
            raise DagDefinitionError(
                f"task {kwargs.get('task_id')!r}: expected str or datetime.datetime type for "
                f"target_time, got {type(target_time).__name__}"
            )
        super().__init__(**kwargs)
        # Kept as a string, as in Airflow, since it is a template field.
        self.target_time = target_time.isoformat() if isinstance(target_time, datetime) else target_time
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger

    def poke(self, context: dict[str, Any]) -> bool:
        log.info("Checking if the time (%s) has come", self.target_time)
        return self.clock() > parse_target_time(self.target_time)

    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=DateTimeTrigger(moment=parse_target_time(self.target_time), end_from_trigger=self.end_from_trigger),
            method_name="execute_complete",
        )
        return None

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        """Resumed once the trigger fired: the moment has passed."""
        log.info("The time (%s) has come", event)


class DateTimeSensorAsync(DateTimeSensor):
    """Airflow's deferrable variant: :class:`DateTimeSensor` that always defers."""

    def __init__(self, *, end_from_trigger: bool = False, **kwargs: Any) -> None:
        kwargs.pop("deferrable", None)
        super().__init__(deferrable=True, end_from_trigger=end_from_trigger, **kwargs)
