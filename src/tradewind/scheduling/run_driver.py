"""Moves one DAG run forward: read its task instances, ask the pure planner, apply the plan.

The scheduler loop calls this for each run it holds the lock of; ``dags test`` calls it between
tasks. Everything it writes goes through the metastore's compare-and-set transitions in a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tradewind.errors import TradewindException
from tradewind.metastore import runs, task_instances, task_maps
from tradewind.metastore.models import DagRun
from tradewind.scheduling.past_dependencies import held_back_for_run, past_dependency
from tradewind.scheduling.planner import DEFAULT_MAX_MAP_LENGTH, RunPlan, TaskNode, TIView, plan_run
from tradewind.sdk.expand_input import SourceKey, json_sources, map_length
from tradewind.states import FINISHED_STATES, DagRunState
from tradewind.states import TaskInstanceState as TI


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def priority_weights(dag: Any) -> dict[str, int]:
    """Each task's effective priority weight under its ``weight_rule``, as Airflow computes it:
    ``downstream`` (the default) adds the weights of every task below it, ``upstream`` of every task
    above it, ``absolute`` is its own weight only. So by default the head of a long chain goes first."""
    tasks = {task.task_id: task for task in dag.tasks}

    def relatives(task_id: str, direction: str) -> set[str]:
        found: set[str] = set()
        stack = [task_id]
        while stack:
            for other in getattr(tasks[stack.pop()], direction):
                if other in tasks and other not in found:
                    found.add(other)
                    stack.append(other)
        return found

    def own(task_id: str) -> int:
        weight = tasks[task_id].priority_weight
        return int(weight) if weight is not None else 1

    weights: dict[str, int] = {}
    for task_id, task in tasks.items():
        rule = str(getattr(task, "weight_rule", None) or "downstream")
        if rule == "absolute":
            weights[task_id] = own(task_id)
            continue
        direction = "upstream_task_ids" if rule == "upstream" else "downstream_task_ids"
        weights[task_id] = own(task_id) + sum(own(other) for other in relatives(task_id, direction))
    return weights


def task_nodes(dag: Any) -> dict[str, TaskNode]:
    """The planner's view of every task of ``dag`` (a serialized or a live DAG)."""
    weights = priority_weights(dag)
    return {
        task.task_id: TaskNode(
            task_id=task.task_id,
            upstream=frozenset(task.upstream_task_ids),
            trigger_rule=str(task.trigger_rule),
            retries=int(task.retries or 0),
            retry_delay_s=_seconds(task.retry_delay) or 0.0,
            retry_exponential_backoff=bool(task.retry_exponential_backoff),
            max_retry_delay_s=_seconds(task.max_retry_delay),
            priority_weight=weights[task.task_id],
            pool=task.pool,
            pool_slots=int(task.pool_slots or 1),
            queue=task.queue,
            past=past_dependency(dag, task),
            expand_input=getattr(task, "expand_input_json", None),
            mapped_group=getattr(task, "mapped_group_id", None),
        )
        for task in dag.tasks
    }


def task_rows(dag: Any, *, max_map_length: int = DEFAULT_MAX_MAP_LENGTH) -> list[dict[str, Any]]:
    """The task-instance rows of a new run: one per task, and one per element for a task mapped
    over literal values only (one that maps over another task's output is expanded by the planner
    once that task has pushed it; so is a literal mapping that is empty or too long, to be skipped
    or failed with its reason)."""
    weights = priority_weights(dag)
    rows: list[dict[str, Any]] = []
    for task in dag.tasks:
        row = {
            "task_id": task.task_id,
            "map_index": -1,
            "operator": getattr(task, "operator_name", "?"),
            "pool": task.pool,
            "pool_slots": task.pool_slots,
            "queue": task.queue,
            "priority_weight": weights[task.task_id],
            "max_tries": int(task.retries or 0),
        }
        length = _literal_length(task, max_map_length)
        rows.extend([{**row, "map_index": index} for index in range(length)] if length else [row])
    return rows


def _literal_length(task: Any, max_map_length: int) -> int:
    expand_input = getattr(task, "expand_input_json", None)
    if expand_input is None or json_sources(expand_input):
        return 0
    try:
        return map_length(task.task_id, expand_input, {}, max_map_length)
    except TradewindException:
        return 0  # too long: the planner fails the task, saying why


#: Rounds of "expand mapped tasks, plan again" in one call; each round expands at least one task.
_EXPANSION_ROUNDS = 8


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
        rows = task_instances.get_tis(session, run.dag_id, run.run_id)
        views = [
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
        wanted = _map_sources_to_read(nodes, views) - read
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
        task_maps.fail_unmappable(
            session, run.dag_id, run.run_id, failure.task_id, failure.map_indexes, failure.reason, now
        )
    current = {(v.task_id, v.map_index): v.state for v in views}
    changes: list[task_instances.Change] = []
    for decision in plan.schedule:
        changes.append(
            (
                decision.task_id,
                decision.map_index,
                decision.from_state,
                TI.SCHEDULED,
                {"try_number": decision.try_number, "retry_at": None},
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


def _map_sources_to_read(nodes: Mapping[str, TaskNode], views: list[TIView]) -> set[SourceKey]:
    """The XComs that mapped tasks not started yet map over, of tasks that have finished."""
    states: dict[str, list[TI]] = {}
    for view in views:
        states.setdefault(view.task_id, []).append(TI(view.state))
    wanted: set[SourceKey] = set()
    for node in nodes.values():
        if node.expand_input is None:
            continue
        own = states.get(node.task_id, [])
        if TI.NONE not in own or any(s not in (TI.NONE, TI.REMOVED) for s in own):
            continue
        for source in json_sources(node.expand_input):
            source_states = states.get(source[0], [])
            if source_states and all(s in FINISHED_STATES for s in source_states):
                wanted.add(source)
    return wanted
