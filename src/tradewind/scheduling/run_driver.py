"""Moves one DAG run forward: read its task instances, ask the pure planner, apply the plan.

The scheduler loop calls this for each run it holds the lock of; ``dags test`` calls it between
tasks. Everything it writes goes through the metastore's compare-and-set transitions in a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tradewind.metastore import runs, task_instances
from tradewind.metastore.models import DagRun
from tradewind.scheduling.past_dependencies import held_back_for_run, past_dependency
from tradewind.scheduling.planner import RunPlan, TaskNode, TIView, plan_run
from tradewind.states import DagRunState
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
        )
        for task in dag.tasks
    }


def task_rows(dag: Any) -> list[dict[str, Any]]:
    """One task-instance row per task, for creating a run."""
    weights = priority_weights(dag)
    return [
        {
            "task_id": task.task_id, "map_index": -1, "operator": getattr(task, "operator_name", "?"),
            "pool": task.pool, "pool_slots": task.pool_slots, "queue": task.queue,
            "priority_weight": weights[task.task_id], "max_tries": int(task.retries or 0),
        }
        for task in dag.tasks
    ]


def advance_run(session: Session, nodes: Mapping[str, TaskNode], run: DagRun, now: datetime) -> RunPlan:
    """Plan ``run`` at ``now`` and write the plan: scheduled, skipped and upstream_failed task
    instances in one batch, and the run's final state when it has one."""
    rows = task_instances.get_tis(session, run.dag_id, run.run_id)
    views = [
        TIView(task_id=r.task_id, map_index=r.map_index, state=TI(r.state), try_number=r.try_number,
               max_tries=r.max_tries, retry_at=r.retry_at, next_poke_at=r.next_poke_at)
        for r in rows if r.task_id in nodes
    ]
    current = {(v.task_id, v.map_index): v.state for v in views}
    plan = plan_run(nodes, views, now, held=held_back_for_run(session, nodes, run, views))
    changes: list[task_instances.Change] = []
    for decision in plan.schedule:
        changes.append((decision.task_id, decision.map_index, decision.from_state, TI.SCHEDULED,
                        {"try_number": decision.try_number, "retry_at": None}))
    for task_id, map_index in plan.skip:
        changes.append((task_id, map_index, current[(task_id, map_index)], TI.SKIPPED,
                        {"start_date": now, "end_date": now, "duration": 0.0}))
    for task_id, map_index in plan.upstream_failed:
        changes.append((task_id, map_index, current[(task_id, map_index)], TI.UPSTREAM_FAILED,
                        {"end_date": now}))
    if changes:
        task_instances.transition_many(session, run.dag_id, run.run_id, changes, now=now)
    if DagRunState(run.state) == DagRunState.QUEUED:
        runs.set_run_state(session, run, DagRunState.RUNNING, now=now)
    if plan.run_state is not None and DagRunState(run.state) != plan.run_state:
        runs.set_run_state(session, run, plan.run_state, now=now)
    return plan
