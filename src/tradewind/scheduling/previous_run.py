"""The DAG's previous run, read for ``depends_on_past`` and ``wait_for_downstream``: what the rule in
``tradewind.decisions.past_dependencies`` needs of it — one query, and only when a task that
depends on the past is about to be scheduled — then the rule's answer."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from tradewind.decisions.past_dependencies import PastDependency, PreviousRun, candidates, held_back
from tradewind.metastore import previous_runs
from tradewind.states import DagRunType

logger = logging.getLogger(__name__)


def held_back_for_run(session: Session, nodes: Mapping[str, Any], run: Any, views: Sequence[Any]) -> frozenset[str]:
    """The tasks of ``run`` the previous run holds back now (``nodes``: the planner's task nodes,
    ``views``: the run's task instances). Runs of ``dags test`` ignore the past, as Airflow's does."""
    dependencies = {task_id: node.past for task_id, node in nodes.items() if node.past is not None}
    if not dependencies or run.run_type == DagRunType.DAGS_TEST:
        return frozenset()
    current: dict[str, set[str]] = {}
    for view in views:
        current.setdefault(view.task_id, set()).add(str(view.state))
    held = held_back_in(session, dependencies, run, current)
    for task_id, reason in held.items():
        logger.debug("%s of run %s of %s waits: %s", task_id, run.run_id, run.dag_id, reason)
    return frozenset(held)


def held_back_in(
    session: Session,
    dependencies: Mapping[str, PastDependency],
    run: Any,
    current_states: Mapping[str, Collection[str]],
) -> dict[str, str]:
    """Read what ``held_back`` needs for ``run`` and ask it; no query when no task depends on the past
    or none of those is ready to be scheduled."""
    waiting = candidates(dependencies, current_states)
    if not waiting:
        return {}
    relevant = {task_id: dependencies[task_id] for task_id in waiting}
    scheduled_only = any(d.previous_scheduled_only for d in relevant.values())
    previous = previous_runs.previous_run(session, run.dag_id, run.logical_date, scheduled_only=scheduled_only)
    if previous is None:
        return {}
    needed = set(relevant)
    for dependency in relevant.values():
        if dependency.wait_for_downstream:
            needed |= dependency.downstream
    states = previous_runs.task_states(session, run.dag_id, previous.run_id, sorted(needed))
    absent = [task_id for task_id in relevant if task_id not in states]
    seen = previous_runs.tasks_with_earlier_instances(session, run.dag_id, run.logical_date, absent)
    return held_back(relevant, PreviousRun(previous.run_id, states), tasks_seen_before=seen)
