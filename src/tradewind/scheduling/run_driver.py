"""Moves one DAG run forward: read its task instances, ask the pure planner
(``tradewind.decisions.planner``), apply the plan.

The scheduler's run-progress duty and a worker's follow-up call this for each run they hold the
lock of; ``dags test`` calls it between tasks. Everything it writes goes through the metastore's
compare-and-set transitions in a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.decisions.planner import (
    DEFAULT_MAX_MAP_LENGTH,
    MapFailure,
    RunPlan,
    TaskNode,
    TIView,
    map_sources_to_read,
    plan_run,
)
from tradewind.metastore import runs, task_instances, task_maps
from tradewind.metastore.models import DagRun
from tradewind.metastore.task_instances import TIKey
from tradewind.metastore.triggers import NO_DEFERRAL
from tradewind.scheduling.failed_tries import fail_try
from tradewind.scheduling.previous_run import held_back_for_run
from tradewind.sdk.expand_input import SourceKey
from tradewind.states import DagRunState
from tradewind.states import TaskInstanceState as TI

#: Rounds of "expand mapped tasks, plan again" in one call; each round expands at least one task.
_EXPANSION_ROUNDS = 8


def views_of(rows: Iterable[Any], nodes: Mapping[str, TaskNode]) -> list[TIView]:
    """The planner's view of a run's task-instance rows (those of tasks the DAG still has)."""
    return [
        TIView(
            task_id=r.task_id,
            map_index=r.map_index,
            state=TI(r.state),
            try_number=r.try_number,
            max_tries=r.max_tries,
            retry_at=r.retry_at,
            next_poke_at=r.next_poke_at,
        )
        for r in rows
        if r.task_id in nodes
    ]


def advance_run(
    session: Session,
    nodes: Mapping[str, TaskNode],
    run: DagRun,
    now: datetime,
    *,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
    may_end: bool = True,
) -> RunPlan:
    """Plan ``run`` at ``now`` and write the plan: scheduled, skipped and upstream_failed task
    instances in one batch, and the run's final state when it has one. Mapped tasks the plan
    expands get their task instances first, and the run is planned again, so they are scheduled
    in the same call. With ``may_end`` False the run is left running (its end is for a scheduler
    to write) and the plan says so."""
    pushed: dict[SourceKey, Any] = {}
    read: set[SourceKey] = set()
    for _ in range(_EXPANSION_ROUNDS):
        views = views_of(task_instances.planning_rows(session, run.dag_id, run.run_id), nodes)
        wanted = map_sources_to_read(nodes, views) - read
        if wanted:
            pushed.update(task_maps.pushed_values(session, run.dag_id, run.run_id, wanted))
            read |= wanted
        plan = plan_run(
            nodes,
            views,
            now,
            held=held_back_for_run(session, nodes, run, views),
            pushed=pushed,
            max_map_length=max_map_length,
        )
        if not plan.expand:
            break
        for expansion in plan.expand:
            task_maps.expand_task(session, run.dag_id, run.run_id, expansion.task_id, expansion.length, now)
    for failure in plan.map_failed:
        _fail_unmappable(session, run, failure, now)
    current = {(v.task_id, v.map_index): v.state for v in views}
    changes: list[task_instances.Change] = []
    for decision in plan.schedule:
        changes.append(
            (
                decision.task_id,
                decision.map_index,
                decision.from_state,
                TI.SCHEDULED,
                # A fresh try (first, retry, or after a clear) starts at ``execute``, never where a
                # deferral left off.
                {"try_number": decision.try_number, "retry_at": None, **NO_DEFERRAL},
            )
        )
    for task_id, map_index in plan.skip:
        changes.append(
            (
                task_id,
                map_index,
                current[(task_id, map_index)],
                TI.SKIPPED,
                {"start_date": now, "end_date": now, "duration": 0.0},
            )
        )
    for task_id, map_index in plan.upstream_failed:
        changes.append((task_id, map_index, current[(task_id, map_index)], TI.UPSTREAM_FAILED, {"end_date": now}))
    if changes:
        task_instances.transition_many(session, run.dag_id, run.run_id, changes, now=now)
    if DagRunState(run.state) == DagRunState.QUEUED:
        runs.set_run_state(session, run, DagRunState.RUNNING, now=now)
    if plan.run_state is not None and not may_end:
        return replace(plan, run_state=None)
    if plan.run_state is not None and DagRunState(run.state) != plan.run_state:
        runs.set_run_state(session, run, plan.run_state, now=now)
    return plan


def _fail_unmappable(session: Session, run: DagRun, failure: MapFailure, now: datetime) -> None:
    """The task instances of a mapped task that cannot be expanded fail, saying why; each goes through
    ``scheduled`` into its first try, so it has a log and a try to show."""
    rows = [
        row
        for row in task_instances.get_tis(session, run.dag_id, run.run_id)
        if row.task_id == failure.task_id and row.map_index in failure.map_indexes and row.state == TI.NONE.value
    ]
    for row in rows:
        key = TIKey(run.dag_id, run.run_id, row.task_id, row.map_index)
        try_number = row.try_number + 1
        if task_instances.transition(
            session, key, expected_state=TI.NONE, target_state=TI.SCHEDULED, now=now, try_number=try_number
        ):
            fail_try(
                session, key, try_number, failure.reason, now, expected_state=TI.SCHEDULED, start_date=now, duration=0.0
            )
