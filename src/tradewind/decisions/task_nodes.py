"""How a DAG's tasks look to the scheduler: the planner's ``TaskNode`` of each task, the task-instance
rows a new run starts with, and each task's effective priority weight.

Built from a serialized DAG (the scheduler's) or a live one (``dags test``) alike.
"""

from __future__ import annotations

from typing import Any

from tradewind.decisions.past_dependencies import past_dependency
from tradewind.decisions.planner import DEFAULT_MAX_MAP_LENGTH, TaskNode
from tradewind.decisions.retries import RetryPolicy
from tradewind.decisions.setup_teardown import direct_setups, indirect_setups, is_teardown
from tradewind.decisions.task_graph import Direction, relatives
from tradewind.errors import TradewindException
from tradewind.sdk.expand_input import json_sources, map_length


def priority_weights(dag: Any) -> dict[str, int]:
    """Each task's effective priority weight under its ``weight_rule``, as Airflow computes it:
    ``downstream`` (the default) adds the weights of every task below it, ``upstream`` of every task
    above it, ``absolute`` is its own weight only. So by default the head of a long chain goes first."""
    tasks = {task.task_id: task for task in dag.tasks}

    def own(task_id: str) -> int:
        weight = tasks[task_id].priority_weight
        return int(weight) if weight is not None else 1

    weights: dict[str, int] = {}
    for task_id, task in tasks.items():
        rule = str(getattr(task, "weight_rule", None) or "downstream")
        if rule == "absolute":
            weights[task_id] = own(task_id)
            continue
        direction: Direction = "upstream_task_ids" if rule == "upstream" else "downstream_task_ids"
        weights[task_id] = own(task_id) + sum(own(other) for other in relatives(tasks, [task_id], direction))
    return weights


def task_nodes(dag: Any) -> dict[str, TaskNode]:
    """The planner's view of every task of ``dag`` (a serialized or a live DAG)."""
    weights = priority_weights(dag)
    tasks = {task.task_id: task for task in dag.tasks}
    return {
        task.task_id: TaskNode(
            task_id=task.task_id,
            upstream=frozenset(task.upstream_task_ids),
            trigger_rule=str(task.trigger_rule),
            retries=int(task.retries or 0),
            retry=RetryPolicy.from_task(task),
            priority_weight=weights[task.task_id],
            pool=task.pool,
            pool_slots=int(task.pool_slots or 1),
            queue=task.queue,
            past=past_dependency(dag, task),
            expand_input=getattr(task, "expand_input_json", None),
            mapped_group=getattr(task, "mapped_group_id", None),
            setups=direct_setups(tasks, task.task_id),
            indirect_setups=indirect_setups(tasks, task.task_id),
            ignored_for_run_state=is_teardown(task) and not getattr(task, "on_failure_fail_dagrun", False),
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
