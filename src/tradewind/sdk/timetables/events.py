"""``EventsTimetable`` (``airflow.timetables.events``): a run at each of a list of dates.

Each run's data interval is the single point of its date. With ``catchup=False`` only dates from
now on run. A manual run covers the moment it was triggered, or, with ``restrict_to_events``, the
latest event at or before it (the first event if all lie ahead).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tradewind.sdk.timetables.base import (
    DagRunInfo,
    DataInterval,
    NowTakingTimetable,
    TimeRestriction,
    Timetable,
    utc,
)


class EventsTimetable(NowTakingTimetable):
    """Runs at the given dates (naive ones are UTC)."""

    periodic = False

    def __init__(
        self,
        event_dates: Iterable[datetime],
        restrict_to_events: bool = False,
        presorted: bool = False,
        description: str | None = None,
    ) -> None:
        dates = [utc(d) for d in event_dates]
        self.event_dates = dates if presorted else sorted(dates)
        self.restrict_to_events = restrict_to_events
        if description is not None:
            self.description = self._summary = description
        elif self.event_dates:
            self.description = (
                f"{len(self.event_dates)} events between {self.event_dates[0]} and {self.event_dates[-1]}"
            )
            self._summary = f"{len(self.event_dates)} events"
        else:
            self.description = "No events"
            self._summary = "0 events"

    @property
    def summary(self) -> str:
        return self._summary

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(
            [datetime.fromisoformat(d) for d in data["event_dates"]],
            data["restrict_to_events"],
            presorted=True,
            description=data.get("description"),
        )

    def serialize(self) -> dict[str, Any]:
        return {
            "event_dates": [d.isoformat() for d in self.event_dates],
            "restrict_to_events": self.restrict_to_events,
            "description": self.description,
        }

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        at = utc(run_after)
        if not self.restrict_to_events or not self.event_dates:
            return DataInterval.exact(at)
        index = bisect.bisect_right(self.event_dates, at)
        return DataInterval.exact(self.event_dates[max(index - 1, 0)])

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        earliest = utc(restriction.earliest) if restriction.earliest is not None else None
        if not restriction.catchup and (earliest is None or utc(now) > earliest):
            earliest = utc(now)
        for event in self.event_dates:
            if earliest is not None and event < earliest:
                continue
            if last_automated_data_interval is not None and event <= utc(last_automated_data_interval.end):
                continue
            if restriction.latest is not None and event > utc(restriction.latest):
                return None
            return DagRunInfo.exact(event)
        return None
