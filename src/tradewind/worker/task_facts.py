"""What a worker needs to know of a task to supervise and end one of its tries, read off the live
task by the process that loaded it from its DAG file.

A worker hands its tries to its fork server, which imports the DAG file and forks the try's
processes from it; the worker itself imports no DAG file. What it still needs of the task — the
time limit it enforces from outside, the retry settings a crash is judged by, and which downstream
tasks a success could move on — travels back with the fork server's answer as these facts, taken
from the same version of the file the try runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tradewind.decisions.retries import RetryPolicy


@dataclass(frozen=True)
class TaskFacts:
    #: The task's ``execution_timeout``, which the worker enforces should the task not stop itself.
    execution_timeout: timedelta | None
    #: How a try that crashed or was killed is retried.
    retry: RetryPolicy
    #: Each downstream task with the upstream tasks it waits for, when every downstream task runs
    #: under ``all_success`` outside a mapped task group (a success can then only bring them
    #: closer: a follow-up may stop at "another upstream task has not succeeded yet"); None when a
    #: follow-up must always plan the run (no downstream task, or one under another rule).
    downstream_waits: tuple[tuple[str, tuple[str, ...]], ...] | None

    @classmethod
    def of(cls, task: Any) -> TaskFacts:
        """The facts of a live task (one of a DAG imported from its file), as plain values only: they
        are unpickled in the worker, which must not need (or run) anything the DAG file defines."""
        dag = getattr(task, "dag", None)
        downstream = [dag.get_task(t) for t in sorted(task.downstream_task_ids)] if dag is not None else []
        waits: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        if downstream and all(
            str(d.trigger_rule) == "all_success" and getattr(d, "mapped_group_id", None) is None for d in downstream
        ):
            waits = tuple((str(d.task_id), tuple(sorted(str(u) for u in d.upstream_task_ids))) for d in downstream)
        timeout = task.execution_timeout
        return cls(
            execution_timeout=None if timeout is None else timedelta(seconds=timeout.total_seconds()),
            retry=RetryPolicy.from_task(task),  # seconds as floats already
            downstream_waits=waits,
        )
