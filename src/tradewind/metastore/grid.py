"""What the grid, graph and Gantt pages of one DAG read, in a fixed number of aggregated queries.

The grid takes one query for a page of runs and one for the states of all their task instances,
however many runs and tasks the page shows; the Gantt chart takes one query for every try of a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagRun, TaskInstance, TaskTry

#: When a task is mapped, the state its grid box shows: the first of these its instances hold.
_SUMMARY_ORDER = (
    "failed",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "running",
    "deferred",
    "restarting",
    "queued",
    "scheduled",
    "none",
    "skipped",
    "success",
    "removed",
)


@dataclass(frozen=True)
class GridRun:
    run_id: str
    state: str
    run_type: str
    logical_date: datetime
    start_date: datetime | None
    end_date: datetime | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; a run that has not ended yet counts until now."""
        if self.start_date is None:
            return None
        return ((self.end_date or datetime.now(UTC)) - self.start_date).total_seconds()


@dataclass(frozen=True)
class GridCell:
    state: str
    try_number: int
    #: How many mapped instances the task has in the run (0 when it is not mapped).
    mapped: int
    #: The lowest map index (-1 when not mapped): the instance a click on the box opens.
    map_index: int = -1
    #: For a mapped task: (state, how many of its instances hold it), most instances first.
    state_counts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class GridPage:
    """Runs oldest first, and (task_id, run_id) -> the task's summarized state in that run."""

    runs: list[GridRun]
    cells: dict[tuple[str, str], GridCell]
    has_older: bool


def grid_page(
    session: Session,
    dag_id: str,
    *,
    limit: int = 25,
    before: datetime | None = None,
    run_state: str | None = None,
    run_type: str | None = None,
) -> GridPage:
    """The ``limit`` newest runs with a logical date before ``before`` (of ``run_state`` and
    ``run_type`` when given) and all their task states."""
    query = select(
        DagRun.run_id, DagRun.state, DagRun.run_type, DagRun.logical_date, DagRun.start_date, DagRun.end_date
    ).where(DagRun.dag_id == dag_id)
    if before is not None:
        query = query.where(DagRun.logical_date < before)
    if run_state is not None:
        query = query.where(DagRun.state == run_state)
    if run_type is not None:
        query = query.where(DagRun.run_type == run_type)
    rows = session.execute(query.order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(limit + 1)).all()
    runs = [GridRun(*row) for row in rows[:limit]]
    runs.reverse()
    return GridPage(runs, task_states(session, dag_id, [run.run_id for run in runs]), len(rows) > limit)


def task_states(session: Session, dag_id: str, run_ids: Sequence[str]) -> dict[tuple[str, str], GridCell]:
    """(task_id, run_id) -> the state of the task in the run, its mapped instances summarized."""
    if not run_ids:
        return {}
    found: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    rows = session.execute(
        select(
            TaskInstance.task_id,
            TaskInstance.run_id,
            TaskInstance.state,
            TaskInstance.try_number,
            TaskInstance.map_index,
        ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids)))
    )
    for task_id, run_id, state, try_number, map_index in rows:
        found.setdefault((task_id, run_id), []).append((state, try_number, map_index))
    return {key: _summary(values) for key, values in found.items()}


def summary_state(states: Iterable[str]) -> str | None:
    """The one state that stands for several (a mapped task, a task group): the most urgent."""
    present = set(states)
    if not present:
        return None
    return next((s for s in _SUMMARY_ORDER if s in present), sorted(present)[0])


def _summary(values: list[tuple[str, int, int]]) -> GridCell:
    if len(values) == 1 and values[0][2] < 0:
        return GridCell(values[0][0], values[0][1], 0)
    state = summary_state(state for state, _, _ in values)
    assert state is not None
    counts = Counter(state for state, _, _ in values)
    return GridCell(
        state,
        max(t for _, t, _ in values),
        len(values),
        min(m for _, _, m in values),
        tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
    )


def run_tries(session: Session, dag_id: str, run_id: str) -> list[TaskTry]:
    """Every recorded try of every task instance of the run, by task, map index and try."""
    return list(
        session.scalars(
            select(TaskTry)
            .where(TaskTry.dag_id == dag_id, TaskTry.run_id == run_id)
            .order_by(TaskTry.task_id, TaskTry.map_index, TaskTry.try_number)
        )
    )
