"""Which run a DAG scheduled on datasets gets from the events queued for it: the pure rule behind
dataset-triggered runs (Airflow 2.10's data-aware scheduling).

The DAG's condition is evaluated over the datasets that have queued events (an alias holds when a
dataset attached to it has one). When it holds, one run takes in *every* queued event — several
events of one dataset go into the same run — and its logical date is the newest event's time, as
in Airflow. When it does not hold, the events wait for the rest. A DAG no longer scheduled on
datasets has its queued events dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tradewind.sdk.datasets import BaseDataset


@dataclass(frozen=True)
class Queued:
    """One queued event of the DAG: its id, its dataset's URI and when it was queued."""

    event_id: int
    uri: str
    queued_at: datetime


@dataclass(frozen=True)
class DatasetRunPlan:
    """What to do with a DAG's queued events: ``create`` a run taking ``take`` in (at
    ``logical_date``), or only drop ``take`` (``create`` False), or nothing (``take`` empty)."""

    create: bool
    take: tuple[int, ...] = ()
    logical_date: datetime | None = None


WAIT = DatasetRunPlan(create=False)


def plan_dataset_run(
    condition: BaseDataset | None,
    queued: Sequence[Queued],
    alias_members: Mapping[str, Collection[str]],
) -> DatasetRunPlan:
    """The run (if any) ``queued`` events make for a DAG waiting on ``condition``."""
    if not queued:
        return WAIT
    taken = tuple(sorted(q.event_id for q in queued))
    if condition is None:
        return DatasetRunPlan(create=False, take=taken)
    updated = {q.uri for q in queued}
    if not condition.evaluate(updated, alias_members):
        return WAIT
    return DatasetRunPlan(create=True, take=taken, logical_date=max(q.queued_at for q in queued))
