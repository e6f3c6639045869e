"""Which scheduled runs a DAG gets now: the pure rule behind the run-creation duty.

Airflow 2.2+ data intervals: a run is created once its interval has ended (``run_after <= now``),
one per missed interval with catchup, only the latest without; never more than
``max_active_runs`` queued or running at once. An interval whose logical date already has a run
(triggered by hand or by a backfill) is passed over, as Airflow does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradewind.sdk.schedules import DagRunInfo, DataInterval, next_dagrun_info

#: Intervals passed over (they already have a run) in one call at most; the rest wait for the next tick.
MAX_PASSED_OVER = 1000
#: Runs at once of a DAG whose ``max_active_runs`` is None (Airflow's ``max_active_runs_per_dag``).
DEFAULT_MAX_ACTIVE_RUNS = 16


@dataclass(frozen=True)
class NewRuns:
    #: Runs to create now, oldest first.
    create: list[DagRunInfo] = field(default_factory=list)
    #: The next run still to create (not due yet, or held back by max_active_runs); None: no more runs.
    next_run: DagRunInfo | None = None


def plan_new_runs(
    dag: Any,
    *,
    catchup: bool,
    last_interval: tuple[datetime, datetime] | None,
    active_runs: int,
    taken: Collection[datetime],
    now: datetime,
) -> NewRuns:
    """The scheduled runs ``dag`` (its schedule, start_date, end_date, max_active_runs) gets at
    ``now``, after its last scheduled run covered ``last_interval``; ``active_runs`` are queued or
    running; ``taken`` are logical dates that already have a run."""
    limit = DEFAULT_MAX_ACTIVE_RUNS if dag.max_active_runs is None else int(dag.max_active_runs)
    budget = max(0, limit - active_runs)
    interval = DataInterval(*last_interval) if last_interval is not None else None
    create: list[DagRunInfo] = []
    for _ in range(budget + MAX_PASSED_OVER + 1):
        info = next_dagrun_info(
            dag.timetable,
            start_date=dag.start_date,
            end_date=dag.end_date,
            catchup=catchup,
            last_automated_interval=interval,
            now=now,
        )
        if info is None or info.run_after > now:
            return NewRuns(create, info)
        if info.logical_date not in taken:
            if len(create) >= budget:
                return NewRuns(create, info)
            create.append(info)
        interval = info.data_interval
    return NewRuns(create, info)


def upcoming_runs(
    dag: Any,
    *,
    catchup: bool,
    last_interval: tuple[datetime, datetime] | None,
    taken: Collection[datetime],
    now: datetime,
    count: int,
) -> list[DagRunInfo | None]:
    """The next ``count`` scheduled runs of ``dag`` (``dags next-execution``): first the one the
    scheduler creates next (``plan_new_runs``'s choice, due or not), then each following interval.
    None stands for every place past the schedule's last run (``@once``, no schedule, ``end_date``)."""
    runs = iter_upcoming(dag, catchup=catchup, last_interval=last_interval, taken=taken, now=now)
    upcoming: list[DagRunInfo | None] = [info for info, _ in zip(runs, range(count), strict=False)]
    return upcoming + [None] * (count - len(upcoming))


def iter_upcoming(
    dag: Any,
    *,
    catchup: bool,
    last_interval: tuple[datetime, datetime] | None,
    taken: Collection[datetime],
    now: datetime,
) -> Iterator[DagRunInfo]:
    """The DAG's scheduled runs to come, in order, from the one the scheduler creates next; ends
    where the schedule does (``@once``, no schedule, ``end_date``) — or never, for a cron."""
    planned = plan_new_runs(dag, catchup=catchup, last_interval=last_interval, active_runs=0, taken=taken, now=now)
    info = planned.create[0] if planned.create else planned.next_run
    while info is not None:
        yield info
        info = next_dagrun_info(
            dag.timetable,
            start_date=dag.start_date,
            end_date=dag.end_date,
            last_automated_interval=info.data_interval,
            now=now,
        )
