"""``depends_on_past`` and ``wait_for_downstream``: whether a task of a run must wait for the same
task (and its direct downstream tasks) in the DAG's previous run.

``held_back`` decides purely, from the previous run's task-instance states
(``tradewind.scheduling.previous_run`` reads them, one query, only when a task that depends
on the past is about to be scheduled). The planner leaves held-back task instances where they are
and counts them as waiting, not deadlocked, as Airflow does. Airflow's rules (``PrevDagrunDep``):

- the previous run is the latest one with an earlier logical date — only scheduled (non-manual)
  runs count when the DAG catches up; with no previous run the task is free (its first run);
- the same task's instances there must all be success or skipped;
- a previous run without that task holds it back, unless ``ignore_first_depends_on_past`` and the
  task has no instance in any earlier run (it was just added to the DAG);
- ``wait_for_downstream`` also needs the previous run's instances of each direct downstream task
  to be success or skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
