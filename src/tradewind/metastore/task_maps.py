"""Mapped task instances: expanding a mapped task into map indexes 0..n-1, and reading the values
it maps over. Failing one that cannot be expanded is the run driver's (``scheduling.run_driver``).

The caller holds the run's row lock (the scheduler's or a worker's follow-up), so no second
planner writes the same run's task instances meanwhile; each write is still conditional on the
state it expects.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from tradewind.metastore import task_instances
from tradewind.metastore.models import TaskInstance
from tradewind.metastore.statements import rows_changed
from tradewind.metastore.xcoms import get_xcoms_for_tasks
from tradewind.states import TaskInstanceState as TI

#: Columns a new map index copies from the task instance it expands.
_COPIED = ("max_tries", "operator", "pool", "pool_slots", "queue", "priority_weight")


def expand_task(session: Session, dag_id: str, run_id: str, task_id: str, length: int, now: datetime) -> bool:
    """Give mapped task ``task_id`` the task instances 0..``length``-1, all in state ``none``.

    The unexpanded task instance (map index -1) is replaced; missing indexes are added, removed ones
    within the length come back, unstarted ones past it are marked removed (a cleared mapped task
    whose upstream now pushes a shorter list). Returns False when nothing could be done because
    the task instances are no longer as read (another writer moved them).
    """
    rows = {
        row.map_index: row
        for row in session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)
            .execution_options(populate_existing=True)
        )
    }
    if not rows:
        return False
    template = rows.get(-1) or next(iter(rows.values()))
    copied = {name: getattr(template, name) for name in _COPIED}
    if -1 in rows:
        gone = rows_changed(
            session,
            delete(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.map_index == -1,
                TaskInstance.state == TI.NONE.value,
            )
            .execution_options(synchronize_session=False),
        )
        if gone != 1:
            return False
        session.expire(rows.pop(-1))
    missing = [index for index in range(length) if index not in rows]
    if missing:
        session.execute(
            insert(TaskInstance),
            [
                {
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "task_id": task_id,
                    "map_index": index,
                    "state": TI.NONE.value,
                    "try_number": 0,
                    "updated_at": now,
                    **copied,
                }
                for index in missing
            ],
        )
    changes: list[task_instances.Change] = []
    for index, row in rows.items():
        if index < length and row.state == TI.REMOVED.value:
            changes.append((task_id, index, TI.REMOVED, TI.NONE, {}))
        elif index >= length and row.state == TI.NONE.value:
            changes.append((task_id, index, TI.NONE, TI.REMOVED, {}))
    if changes:
        task_instances.transition_many(session, dag_id, run_id, changes, now=now)
    return True


def pushed_values(
    session: Session, dag_id: str, run_id: str, sources: Collection[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """(task_id, key) -> the value pushed, for the sources that pushed one; a mapped source's value
    is the list of its task instances' values in map-index order."""
    by_key: dict[str, set[str]] = {}
    for task_id, key in sources:
        by_key.setdefault(key, set()).add(task_id)
    found: dict[tuple[str, str], Any] = {}
    for key, task_ids in by_key.items():
        for task_id, value in get_xcoms_for_tasks(session, dag_id, run_id, sorted(task_ids), key).items():
            found[(task_id, key)] = value
    return found
