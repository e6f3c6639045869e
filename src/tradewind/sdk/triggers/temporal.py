"""``DateTimeTrigger`` and ``TimeDeltaTrigger``: fire once a moment has passed (Airflow's
``airflow.triggers.temporal``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tradewind.sdk.triggers.base import BaseTrigger, TriggerEvent, classpath_of

#: The longest sleep between looks at the clock, so a moment far ahead is still met on time.
_MAX_SLEEP_S = 60.0


class DateTimeTrigger(BaseTrigger):
    """Fires with the moment itself (or ``{"status": "success", "moment": ...}`` with
    ``end_from_trigger``) once ``moment`` (timezone-aware) has passed."""

    def __init__(self, moment: datetime, *, end_from_trigger: bool = False) -> None:
        super().__init__()
        if not isinstance(moment, datetime):
            raise TypeError(f"Expected datetime.datetime type for moment. Got {type(moment)}")
        if moment.tzinfo is None:
            raise ValueError("You cannot pass naive datetimes")
        self.moment = moment
        self.end_from_trigger = end_from_trigger

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(DateTimeTrigger), {"moment": self.moment, "end_from_trigger": self.end_from_trigger}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            left = (self.moment - datetime.now(UTC)).total_seconds()
            if left <= 0:
                break
            await asyncio.sleep(min(left, _MAX_SLEEP_S))
        yield TriggerEvent(self.moment.isoformat())


class TimeDeltaTrigger(DateTimeTrigger):
    """Fires ``delta`` after the trigger was created (Airflow's: it becomes a DateTimeTrigger)."""

    def __init__(self, delta: timedelta, *, end_from_trigger: bool = False) -> None:
        super().__init__(moment=datetime.now(UTC) + delta, end_from_trigger=end_from_trigger)
