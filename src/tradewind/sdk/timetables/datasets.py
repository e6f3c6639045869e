"""The timetables of data-aware scheduling: ``schedule=[ds1, ds2]`` or a condition makes a
``DatasetTriggeredTimetable`` (no run of its own: the scheduler creates one when the condition is met
by dataset events); ``DatasetOrTimeSchedule`` (``airflow.timetables.datasets``) runs on its
timetable *and* on dataset events.

A dataset-triggered run covers the data intervals of the runs whose events triggered it, as in
Airflow 2.10 (``data_interval_for_events``); events sent from outside any run cover their moment.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from tradewind.sdk.datasets import BaseDataset, condition_from_schedule, decode_condition
from tradewind.sdk.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable, utc


class DatasetTriggeredTimetable(Timetable):
    """``schedule=<datasets>``: runs only when its datasets are updated (or when triggered)."""

    periodic = False
    can_be_scheduled = False
    run_ordering = ("execution_date",)
    description = "Triggered by datasets"

    def __init__(self, dataset_condition: BaseDataset) -> None:
        self.dataset_condition = dataset_condition

    @property
    def summary(self) -> str:
        return "Dataset"

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(decode_condition(data["dataset_condition"]))

    def serialize(self) -> dict[str, Any]:
        return {"dataset_condition": self.dataset_condition.to_json()}

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval.exact(utc(run_after))

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        return None


class DatasetOrTimeSchedule(Timetable):
    """Runs on ``timetable`` and, besides, whenever ``datasets`` are updated."""

    def __init__(self, *, timetable: Timetable, datasets: Collection[BaseDataset] | BaseDataset) -> None:
        condition = condition_from_schedule(datasets)
        if condition is None:
            raise ValueError("DatasetOrTimeSchedule needs datasets: a dataset, a condition or a list of them")
        self.timetable = timetable
        self.dataset_condition = condition
        self.periodic = timetable.periodic  # type: ignore[misc]
        self.run_ordering = timetable.run_ordering  # type: ignore[misc]
        self.active_runs_limit = timetable.active_runs_limit  # type: ignore[misc]
        self.description = f"Triggered by datasets or {timetable.description}"

    @property
    def summary(self) -> str:
        return f"Dataset or {self.timetable.summary}"

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        from tradewind.sdk.timetables.registry import decode_timetable

        return cls(timetable=decode_timetable(data["timetable"]), datasets=decode_condition(data["dataset_condition"]))

    def serialize(self) -> dict[str, Any]:
        from tradewind.sdk.timetables.registry import encode_timetable

        return {"timetable": encode_timetable(self.timetable), "dataset_condition": self.dataset_condition.to_json()}

    def validate(self) -> None:
        self.timetable.validate()

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return self.timetable.infer_manual_data_interval(run_after=run_after)

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        return self.timetable.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )

    def next_dagrun_info_at(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction, now: datetime
    ) -> DagRunInfo | None:
        return self.timetable.next_dagrun_info_at(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction, now=now
        )

    def __getattr__(self, name: str) -> Any:
        # What the wrapped timetable answers beyond the Timetable API (a cron's previous point).
        if name == "previous_logical_date":
            return getattr(self.__dict__["timetable"], name)
        raise AttributeError(name)


def dataset_condition(timetable: Timetable) -> BaseDataset | None:
    """The dataset condition a DAG's timetable waits on, or None for a DAG not scheduled on datasets."""
    condition = getattr(timetable, "dataset_condition", None)
    return condition if isinstance(condition, BaseDataset) else None


def data_interval_for_events(
    logical_date: datetime, source_intervals: Collection[tuple[datetime | None, datetime | None]]
) -> DataInterval:
    """A dataset-triggered run's data interval: from the earliest start to the latest end of the
    triggering events' source runs; the run's own moment when no event came from a run."""
    starts = [utc(start) for start, _ in source_intervals if start is not None]
    ends = [utc(end) for _, end in source_intervals if end is not None]
    if not starts or not ends:
        return DataInterval.exact(utc(logical_date))
    return DataInterval(min(starts), max(ends))
