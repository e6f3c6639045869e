"""Which task instances a clear affects, decided purely from the DAG's structure and the runs' states.

As Airflow's "Clear": tasks chosen by id or by a regex (searched in the task id), optionally with
all their upstream and/or downstream tasks, always with the setups and teardowns they run between;
runs chosen by a date range or as past/future of one run; ``only_failed`` keeps failed and
upstream_failed task instances. A cleared task instance gets a full new set of tries
(``max_tries = try_number + retries``); a running one becomes ``restarting`` so its worker stops
it, every other one ``none``. Finished runs go back to queued.
The CLI shows the plan before applying it; the web UI will show the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tradewind.decisions.setup_teardown import with_setups_and_teardowns
from tradewind.decisions.task_graph import relatives as _relatives
from tradewind.states import FAILED_STATES, DagRunState
from tradewind.states import TaskInstanceState as TI


class DagShape(Protocol):
    """What the selection needs of a DAG (a serialized or a live one)."""

    @property
    def dag_id(self) -> str: ...

    @property
    def task_dict(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RunRef:
    run_id: str
    logical_date: datetime
    state: str


@dataclass(frozen=True)
class TIRef:
    run_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int


@dataclass(frozen=True)
class ClearTarget:
    """One task instance to clear: from the state it was read in, to ``to_state``."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    from_state: str
    to_state: str
    max_tries: int


@dataclass(frozen=True)
class ClearPlan:
    targets: list[ClearTarget] = field(default_factory=list)
    #: Runs that have ended and go back to queued.
    requeue_run_ids: list[str] = field(default_factory=list)


def select_task_ids(
    dag: DagShape,
    *,
    task_ids: Iterable[str] | None = None,
    task_regex: str | None = None,
    upstream: bool = False,
    downstream: bool = False,
) -> set[str]:
    """The tasks to clear: the named ones (or all, when neither ids nor a regex is given) and, with
    ``upstream``/``downstream``, every task above/below them; and, as in Airflow, the setups the
    named ones run inside of with their teardowns, and a named setup's teardowns. An invalid regex
    raises ValueError."""
    tasks = dag.task_dict
    chosen: set[str]
    if task_ids is None and task_regex is None:
        chosen = set(tasks)
    else:
        chosen = {task_id for task_id in (task_ids or ()) if task_id in tasks}
        if task_regex is not None:
            try:
                pattern = re.compile(task_regex)
            except re.error as exc:
                raise ValueError(f"invalid task regex {task_regex!r}: {exc}") from None
            chosen |= {task_id for task_id in tasks if pattern.search(task_id)}
    result = set(chosen)
    if upstream:
        result |= _relatives(tasks, chosen, "upstream_task_ids")
    if downstream:
        result |= _relatives(tasks, chosen, "downstream_task_ids")
    result |= with_setups_and_teardowns(tasks, chosen, upstream=upstream, downstream=downstream)
    return result


def select_runs(
    runs: Sequence[RunRef],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    run_id: str | None = None,
    past: bool = False,
    future: bool = False,
) -> list[RunRef]:
    """Runs in ``[start, end]``; or, with ``run_id``, that run plus (``past``) every earlier and
    (``future``) every later one by logical date."""
    if run_id is not None:
        anchor = next((run for run in runs if run.run_id == run_id), None)
        if anchor is None:
            return []
        at = anchor.logical_date
        return [
            run
            for run in runs
            if run.run_id == run_id or (past and run.logical_date <= at) or (future and run.logical_date >= at)
        ]
    return [
        run for run in runs if (start is None or run.logical_date >= start) and (end is None or run.logical_date <= end)
    ]


def plan_clear(
    dag: DagShape,
    runs: Sequence[RunRef],
    tis: Sequence[TIRef],
    *,
    task_ids: Collection[str],
    only_failed: bool = False,
) -> ClearPlan:
    """The task instances of ``runs`` whose task is in ``task_ids`` (and failed, with ``only_failed``)
    that a clear changes; task instances still in ``none`` have nothing to clear."""
    run_ids = {run.run_id for run in runs}
    targets: list[ClearTarget] = []
    for ti in sorted(tis, key=lambda t: (t.run_id, t.task_id, t.map_index)):
        state = TI(ti.state)
        if ti.run_id not in run_ids or ti.task_id not in task_ids or state is TI.NONE:
            continue
        if only_failed and state not in FAILED_STATES:
            continue
        retries = int(getattr(dag.task_dict[ti.task_id], "retries", 0) or 0)
        to_state = TI.RESTARTING if state is TI.RUNNING else TI.NONE
        targets.append(
            ClearTarget(
                dag_id=dag.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index,
                from_state=state.value,
                to_state=to_state.value,
                max_tries=ti.try_number + retries,
            )
        )
    touched = {target.run_id for target in targets}
    finished = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)
    requeue = [run.run_id for run in runs if run.run_id in touched and run.state in finished]
    return ClearPlan(targets=targets, requeue_run_ids=requeue)
