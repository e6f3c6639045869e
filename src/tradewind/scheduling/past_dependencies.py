"""``depends_on_past`` and ``wait_for_downstream``: whether a task of a run must wait for the same
task (and its direct downstream tasks) in the DAG's previous run.

``held_back`` decides purely, from the previous run's task-instance states; ``held_back_in`` reads
those states (one query, only when a task that depends on the past is about to be scheduled) and
asks it. The planner leaves held-back task instances where they are and counts them as waiting,
not deadlocked, as Airflow does. Airflow's rules (``PrevDagrunDep``):

- the previous run is the latest one with an earlier logical date — only scheduled (non-manual)
  runs count when the DAG catches up; with no previous run the task is free (its first run);
- the same task's instances there must all be success or skipped;
- a previous run without that task holds it back, unless ``ignore_first_depends_on_past`` and the
  task has no instance in any earlier run (it was just added to the DAG);
- ``wait_for_downstream`` also needs the previous run's instances of each direct downstream task
  to be success or skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

#: Runs of `tradewind dags test` run every task without looking at earlier runs.
IN_PROCESS_RUN_TYPE = "dags_test"

#: What a previous task instance must have ended in for the task to go on.
DONE_STATES = frozenset({"success", "skipped"})
#: Task-instance states from which the planner may schedule (so the check is worth a query).
_PLANNABLE = frozenset({"none", "up_for_retry", "up_for_reschedule"})


@dataclass(frozen=True)
class PastDependency:
    """How one task depends on the DAG's previous run."""

    wait_for_downstream: bool = False
    ignore_first_depends_on_past: bool = True
    #: Direct downstream task ids (for ``wait_for_downstream``).
    downstream: frozenset[str] = frozenset()
    #: Only scheduled runs count as "the previous run" (a DAG that catches up).
    previous_scheduled_only: bool = False


@dataclass(frozen=True)
class PreviousRun:
    """The DAG's previous run as the check needs it."""

    run_id: str
    #: task_id -> states of its task instances (every map index) in that run.
    states: Mapping[str, Sequence[str]]


def held_back(
    dependencies: Mapping[str, PastDependency],
    previous: PreviousRun | None,
    *,
    tasks_seen_before: Collection[str] = (),
) -> dict[str, str]:
    """task_id -> why it waits, for each task of ``dependencies`` the previous run holds back.

    ``tasks_seen_before`` names the tasks that have an instance in some run before this one; it
    only matters for a task missing from ``previous``.
    """
    if previous is None:
        return {}
    held: dict[str, str] = {}
    for task_id, dependency in dependencies.items():
        reason = _reason(task_id, dependency, previous, task_id in tasks_seen_before)
        if reason is not None:
            held[task_id] = reason
    return held


def _reason(task_id: str, dependency: PastDependency, previous: PreviousRun, seen_before: bool) -> str | None:
    own = previous.states.get(task_id)
    if not own:
        if dependency.ignore_first_depends_on_past and not seen_before:
            return None
        return f"depends_on_past: the previous run {previous.run_id!r} has no instance of {task_id!r}"
    unfinished = sorted({s for s in own if s not in DONE_STATES})
    if unfinished:
        return (
            f"depends_on_past: {task_id!r} in the previous run {previous.run_id!r} is "
            f"{', '.join(unfinished)}, not success or skipped"
        )
    if dependency.wait_for_downstream:
        for downstream_id in sorted(dependency.downstream):
            states = previous.states.get(downstream_id) or ["none"]
            waiting = sorted({s for s in states if s not in DONE_STATES})
            if waiting:
                return (
                    f"wait_for_downstream: {downstream_id!r} in the previous run {previous.run_id!r} is "
                    f"{', '.join(waiting)}, not success or skipped"
                )
    return None


def candidates(dependencies: Mapping[str, PastDependency], current_states: Mapping[str, Collection[str]]) -> list[str]:
    """Tasks that depend on the past and have an instance the planner could schedule now."""
    return [task_id for task_id in dependencies if _PLANNABLE & set(current_states.get(task_id, ()))]


def past_dependency(dag: Any, task: Any) -> PastDependency | None:
    """How ``task`` (of a serialized or live ``dag``) depends on the previous run; None when it does not."""
    if not (task.depends_on_past or task.wait_for_downstream):
        return None
    ignore_first = getattr(task, "ignore_first_depends_on_past", True)
    return PastDependency(
        wait_for_downstream=bool(task.wait_for_downstream),
        ignore_first_depends_on_past=True if ignore_first is None else bool(ignore_first),
        downstream=frozenset(task.downstream_task_ids),
        previous_scheduled_only=bool(getattr(dag, "catchup", False)),
    )


def held_back_for_run(session: Session, nodes: Mapping[str, Any], run: Any, views: Sequence[Any]) -> frozenset[str]:
    """The tasks of ``run`` the previous run holds back now (``nodes``: the planner's task nodes,
    ``views``: the run's task instances). Runs of ``dags test`` ignore the past, as Airflow's does."""
    dependencies = {task_id: node.past for task_id, node in nodes.items() if node.past is not None}
    if not dependencies or run.run_type == IN_PROCESS_RUN_TYPE:
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
    # Imported here so that the pure planner, which imports this module, stays free of the ORM.
    from tradewind.metastore import previous_runs

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
