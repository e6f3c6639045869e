"""Which setup and teardown tasks belong to a task, read from the DAG's structure (Airflow 2.7+).

A setup's *scope* is the tasks between it and its teardowns. A task's *relevant* setups are the
setups above it whose teardown is below it, or that have no teardown at all; they and their
teardowns are what clearing the task clears too, and the relevant setups that are not directly
upstream of it are its implicit ``all_success`` constraint. Teardowns count for a run's state only
with ``on_failure_fail_dagrun``.

Every function takes ``tasks``: task id -> task (live or serialized), read through
``upstream_task_ids``, ``downstream_task_ids``, ``is_setup``, ``is_teardown`` and
``on_failure_fail_dagrun``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from tradewind.decisions.task_graph import relatives


def is_setup(task: Any) -> bool:
    return bool(getattr(task, "is_setup", False))


def is_teardown(task: Any) -> bool:
    return bool(getattr(task, "is_teardown", False))


def _teardowns_of(tasks: Mapping[str, Any], setup_id: str) -> set[str]:
    return {t for t in tasks[setup_id].downstream_task_ids if t in tasks and is_teardown(tasks[t])}


def relevant_setups_and_teardowns(tasks: Mapping[str, Any], task_id: str) -> set[str]:
    """The setups above ``task_id`` whose teardown is below it (or that have no teardown), with
    their teardowns (Airflow's ``get_upstreams_only_setups_and_teardowns``)."""
    below_teardowns = {t for t in relatives(tasks, [task_id], "downstream_task_ids") if is_teardown(tasks[t])}
    found: set[str] = set()
    for upstream_id in relatives(tasks, [task_id], "upstream_task_ids"):
        if not is_setup(tasks[upstream_id]):
            continue
        teardowns = _teardowns_of(tasks, upstream_id)
        if not teardowns or teardowns & below_teardowns:
            found.add(upstream_id)
            found |= teardowns - {task_id}
    return found


def relevant_setups(tasks: Mapping[str, Any], task_id: str) -> set[str]:
    """The setups a task runs inside of: those it waits on even when they are not its direct upstream."""
    return {t for t in relevant_setups_and_teardowns(tasks, task_id) if is_setup(tasks[t])}


def indirect_setups(tasks: Mapping[str, Any], task_id: str) -> frozenset[str]:
    """A task's setup constraint: its relevant setups that are not directly upstream of it. A
    teardown has none (its rule looks at its setups directly)."""
    task = tasks[task_id]
    if is_teardown(task):
        return frozenset()
    return frozenset(relevant_setups(tasks, task_id) - set(task.upstream_task_ids))


def direct_setups(tasks: Mapping[str, Any], task_id: str) -> frozenset[str]:
    """The setup tasks directly upstream of ``task_id``."""
    return frozenset(t for t in tasks[task_id].upstream_task_ids if t in tasks and is_setup(tasks[t]))


def with_setups_and_teardowns(
    tasks: Mapping[str, Any], chosen: Iterable[str], *, upstream: bool, downstream: bool
) -> set[str]:
    """What clearing the ``chosen`` tasks also clears, as Airflow's clear does: with ``upstream``,
    the teardowns of every setup above them; without it, their relevant setups and teardowns; and
    a chosen setup's teardowns unless the clear takes ``downstream`` anyway."""
    extra: set[str] = set()
    for task_id in chosen:
        task = tasks[task_id]
        if upstream:
            for above in relatives(tasks, [task_id], "upstream_task_ids"):
                if is_setup(tasks[above]):
                    extra |= _teardowns_of(tasks, above) - {task_id}
        elif not is_setup(task):
            extra |= relevant_setups_and_teardowns(tasks, task_id)
        if is_setup(task) and not downstream:
            extra |= _teardowns_of(tasks, task_id)
    return extra


def run_state_leaves(upstream: Mapping[str, Collection[str]], ignorable: Collection[str]) -> frozenset[str]:
    """The tasks whose end decides a run's state (Airflow's ``_tis_for_dagrun_state``): tasks with
    no downstream other than ``ignorable`` ones (teardowns without ``on_failure_fail_dagrun``),
    themselves not ignorable; a DAG made only of such teardowns falls back to its plain leaves."""
    downstream: dict[str, set[str]] = {task_id: set() for task_id in upstream}
    for task_id, ups in upstream.items():
        for up in ups:
            if up in downstream:
                downstream[up].add(task_id)
    leaves = frozenset(
        task_id
        for task_id, below in downstream.items()
        if task_id not in ignorable and all(other in ignorable for other in below)
    )
    if leaves:
        return leaves
    return frozenset(task_id for task_id, below in downstream.items() if not below)
