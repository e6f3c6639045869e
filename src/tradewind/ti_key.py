"""``TIKey``: what identifies one task instance — what crosses the queue and the fork server's socket,
and what the metastore's functions take. Apart from the metastore so that a process that never
reaches it (the worker's fork server, a task's process) need not import SQLAlchemy to name one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TIKey:
    """Identifies one task instance; what crosses the queue, and what every function here takes."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
