"""Ordering the tasks of a DAG so each comes after all of its upstream tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def topological_order(upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Task ids, upstream first, level by level; within a level in the mapping's order.

    Raises ``ValueError`` when what is left can never become ready (a cycle)."""
    remaining = {task_id: set(ups) & upstream.keys() for task_id, ups in upstream.items()}
    order: list[str] = []
    while remaining:
        ready = [task_id for task_id, ups in remaining.items() if not ups]
        if not ready:
            raise ValueError(f"the tasks {sorted(remaining)} depend on each other in a cycle")
        for task_id in ready:
            del remaining[task_id]
        order.extend(ready)
        for ups in remaining.values():
            ups.difference_update(ready)
    return order
