"""The timetables without a period (``airflow.timetables.simple``): ``None`` (never by itself),
``"@once"`` (one run at the start date) and ``"@continuous"`` (a new run as soon as the last ends).

Each run of these covers a point or the time since the last one; a manual run covers the moment
it was triggered.
"""

from __future__ import annotations

from datetime import datetime

from tradewind.sdk.timetables.base import (
    DagRunInfo,
    DataInterval,
    NowTakingTimetable,
    TimeRestriction,
    Timetable,
    utc,
)


class _TrivialTimetable(Timetable):
    periodic = False
    run_ordering = ("execution_date",)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval.exact(utc(run_after))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__qualname__)


class NullTimetable(_TrivialTimetable):
    """``schedule=None``: runs only when triggered."""

    can_be_scheduled = False
    description = "Never, external triggers only"

    @property
    def summary(self) -> str:
        return "None"

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        return None


class OnceTimetable(_TrivialTimetable):
    """``"@once"``: a single run at the start date."""

    description = "Once, as soon as possible"

    @property
    def summary(self) -> str:
        return "@once"

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None or restriction.earliest is None:
            return None
        at = utc(restriction.earliest)
        if restriction.latest is not None and at > utc(restriction.latest):
            return None
        return DagRunInfo.exact(at)


class ContinuousTimetable(NowTakingTimetable, _TrivialTimetable):
    """``"@continuous"``: a run as soon as the previous one ends, one at a time (the DAG must say
    ``max_active_runs=1``). Each run covers the time since the previous one."""

    description = "As frequently as possible, but only one run at a time."
    active_runs_limit = 1

    @property
    def summary(self) -> str:
        return "@continuous"

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        if restriction.earliest is None:
            return None
        earliest, now = utc(restriction.earliest), utc(now)
        if last_automated_data_interval is None:
            start, end = earliest, max(earliest, now)
        else:
            last_start, last_end = utc(last_automated_data_interval.start), utc(last_automated_data_interval.end)
            if last_end > now:  # the start date lies ahead
                start, end = earliest, earliest + (last_end - last_start)
            else:
                start, end = last_end, now
        if restriction.latest is not None and end > utc(restriction.latest):
            return None
        return DagRunInfo.interval(start, end)
