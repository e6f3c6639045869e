"""What a person's action on task instances changes: clear, mark success, failed or skipped, decided purely.

``plan_action`` is the one entry point the web pages, the REST API and the CLI preview and apply:
it picks the tasks (the chosen ones, by id or by a regex, plus their upstream/downstream) in the
chosen runs (one run plus its past/future by logical date, or a date range, or all given), and
says for each task instance the state it goes from and to. A clear is ``clear.plan_clear``; a mark
sets the state itself and sends touched finished runs back to ``running`` so a scheduler
re-decides them (downstream tasks start or become upstream_failed, and the run ends again as its
leaves say).

``plan_run_state`` is a whole run's "Mark run success / failed / queued" (the web page, the REST API's
PATCH of a run's state and ``TriggerDagRunOperator``'s reset), with Airflow 2.10's rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradewind.actions.clear import (
    DagShape,
    RunRef,
    TIRef,
    plan_clear,
    select_runs,
    select_task_ids,
)
from tradewind.states import FAILED_STATES, FINISHED_STATES, DagRunState
from tradewind.states import TaskInstanceState as TI

#: The kinds of action and, for a mark, the state it sets.
KINDS = ("clear", "success", "failed", "skipped")
MARK_STATES = {"success": TI.SUCCESS, "failed": TI.FAILED, "skipped": TI.SKIPPED}


@dataclass(frozen=True)
class ActionOptions:
    """What to act on. ``task_ids`` None means every task of the DAG; ``run_id`` None every run given.

    ``map_index`` narrows the chosen tasks (not their relatives) to one mapped instance;
    ``map_indexes`` narrows each task it names to the listed (task_id, map_index) instances (the
    REST API's ``[task_id, map_index]`` entries of ``task_ids``).
    ``recursive`` is accepted for Airflow's form but changes nothing: relatives are always followed
    transitively, and actions never cross into other DAGs. ``task_regex`` adds the tasks whose id it
    matches (searched), and ``start``/``end`` choose the runs by logical date when no ``run_id`` is
    given (the CLI's ``tasks clear``).
    """

    task_ids: tuple[str, ...] | None = None
    task_regex: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    run_id: str | None = None
    map_index: int | None = None
    upstream: bool = False
    downstream: bool = False
    recursive: bool = False
    past: bool = False
    future: bool = False
    only_failed: bool = False
    map_indexes: tuple[tuple[str, int], ...] = ()
    #: Act only on task instances that are running (the REST API's ``only_running``).
    only_running: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_ids": list(self.task_ids) if self.task_ids is not None else None,
            "task_regex": self.task_regex,
            "start": self.start.isoformat() if self.start is not None else None,
            "end": self.end.isoformat() if self.end is not None else None,
            "run_id": self.run_id,
            "map_index": self.map_index,
            "upstream": self.upstream,
            "downstream": self.downstream,
            "recursive": self.recursive,
            "past": self.past,
            "future": self.future,
            "only_failed": self.only_failed,
            "map_indexes": [list(pair) for pair in self.map_indexes],
            "only_running": self.only_running,
        }


@dataclass(frozen=True)
class PlannedChange:
    run_id: str
    task_id: str
    map_index: int
    from_state: str
    to_state: str
    #: The new ``max_tries`` of a cleared task instance; None for a mark.
    max_tries: int | None = None


@dataclass(frozen=True)
class ActionPlan:
    kind: str
    changes: list[PlannedChange] = field(default_factory=list)
    #: Finished runs that go back to queued (clear) or running (mark).
    reopen_run_ids: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return sorted({change.run_id for change in self.changes})

    @property
    def reopen_state(self) -> DagRunState:
        return DagRunState.QUEUED if self.kind == "clear" else DagRunState.RUNNING


def plan_action(
    kind: str, dag: DagShape, runs: Sequence[RunRef], tis: Sequence[TIRef], options: ActionOptions
) -> ActionPlan:
    """The changes ``kind`` (clear / success / failed) makes with ``options``; raises ValueError
    for an unknown kind or task, or an invalid task regex."""
    if kind not in KINDS:
        raise ValueError(f"unknown action {kind!r}; one of {', '.join(KINDS)}")
    unknown = sorted(set(options.task_ids or ()) - set(dag.task_dict))
    if unknown:
        raise ValueError(f"DAG {dag.dag_id!r} has no task {', '.join(map(repr, unknown))}")
    task_ids = select_task_ids(
        dag,
        task_ids=options.task_ids,
        task_regex=options.task_regex,
        upstream=options.upstream,
        downstream=options.downstream,
    )
    chosen_runs = (
        select_runs(runs, run_id=options.run_id, past=options.past, future=options.future)
        if options.run_id is not None
        else select_runs(runs, start=options.start, end=options.end)
    )
    tis = [
        ti for ti in tis if _in_map_selection(ti, options) and (not options.only_running or TI(ti.state) is TI.RUNNING)
    ]
    if kind == "clear":
        plan = plan_clear(dag, chosen_runs, tis, task_ids=task_ids, only_failed=options.only_failed)
        return ActionPlan(
            "clear",
            [
                PlannedChange(t.run_id, t.task_id, t.map_index, t.from_state, t.to_state, t.max_tries)
                for t in plan.targets
            ],
            list(plan.requeue_run_ids),
        )
    target = MARK_STATES[kind]
    run_ids = {run.run_id for run in chosen_runs}
    changes = [
        PlannedChange(ti.run_id, ti.task_id, ti.map_index, ti.state, target.value)
        for ti in sorted(tis, key=lambda t: (t.run_id, t.task_id, t.map_index))
        if ti.run_id in run_ids
        and ti.task_id in task_ids
        and TI(ti.state) is not target
        and (not options.only_failed or TI(ti.state) in FAILED_STATES)
    ]
    touched = {change.run_id for change in changes}
    finished = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)
    reopen = [run.run_id for run in chosen_runs if run.run_id in touched and run.state in finished]
    return ActionPlan(kind, changes, reopen)


#: The run states a person may set on a whole run.
RUN_STATES = (DagRunState.SUCCESS.value, DagRunState.FAILED.value, DagRunState.QUEUED.value)
#: A task instance that holds a worker (or waits between pokes of its sensor, or on its trigger) is
#: failed, not skipped, when its run is marked failed (Airflow 2.10).
_IN_FLIGHT = frozenset({TI.RUNNING, TI.UP_FOR_RESCHEDULE, TI.DEFERRED})


def plan_run_state(dag: DagShape, run: RunRef, tis: Sequence[TIRef], state: str) -> ActionPlan:
    """What setting ``run`` to ``state`` changes, as Airflow 2.10 does it (``mark_tasks``'s
    ``set_dag_run_state_to_*``):

    - ``failed``: running task instances (and sensors waiting to poke again) become failed, every
      other unfinished one skipped; finished ones (success, failed, skipped, upstream_failed,
      removed) keep their state, so the run's successes stay green.
    - ``success``: every task instance of the DAG's tasks not already successful becomes success,
      the failed ones too (Airflow marks them all: the run is declared done and good).
    - ``queued``: the whole run is cleared and runs again.

    The run itself takes ``state``; that is the caller's write. ValueError for another state."""
    if state not in RUN_STATES:
        raise ValueError(f"a run's state can be set to {', '.join(RUN_STATES)}, not {state!r}")
    if state == DagRunState.QUEUED.value:
        return plan_action("clear", dag, [run], tis, ActionOptions(run_id=run.run_id))
    ordered = sorted((ti for ti in tis if ti.run_id == run.run_id), key=lambda t: (t.task_id, t.map_index))
    if state == DagRunState.SUCCESS.value:
        targets = [(ti, TI.SUCCESS) for ti in ordered if ti.task_id in dag.task_dict and TI(ti.state) is not TI.SUCCESS]
    else:
        targets = [
            (ti, TI.FAILED if TI(ti.state) in _IN_FLIGHT else TI.SKIPPED)
            for ti in ordered
            if TI(ti.state) not in FINISHED_STATES
        ]
    changes = [PlannedChange(ti.run_id, ti.task_id, ti.map_index, ti.state, to.value) for ti, to in targets]
    return ActionPlan(state, changes, [])


def _in_map_selection(ti: TIRef, options: ActionOptions) -> bool:
    if options.map_indexes and ti.task_id in {task_id for task_id, _ in options.map_indexes}:
        return (ti.task_id, ti.map_index) in options.map_indexes
    if options.map_index is None or options.task_ids is None or ti.task_id not in options.task_ids:
        return True
    return ti.map_index == options.map_index
