"""Walking a DAG's task graph: every task above, or below, some tasks — what a clear "with upstream"
or "with downstream" takes in, and what a task's priority weight adds up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

#: Which way to walk: a task's ``upstream_task_ids`` or its ``downstream_task_ids``.
Direction = Literal["upstream_task_ids", "downstream_task_ids"]


def relatives(tasks: Mapping[str, Any], start: Iterable[str], direction: Direction) -> set[str]:
    """The tasks reachable from ``start`` by following ``direction`` (``tasks``: task id -> task,
    serialized or live); links to tasks not in ``tasks`` are ignored. ``start`` itself is left out,
    as a DAG has no cycle to lead back to it."""
    found: set[str] = set()
    stack = list(start)
    while stack:
        for other in getattr(tasks[stack.pop()], direction):
            if other in tasks and other not in found:
                found.add(other)
                stack.append(other)
    return found
