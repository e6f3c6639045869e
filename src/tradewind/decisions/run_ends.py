"""Which ends owe a callback that only the scheduler can run: a run's end (the DAG's
``on_success_callback`` / ``on_failure_callback``) and the end of a try whose process died (a
zombie: the task's ``on_failure_callback`` / ``on_retry_callback``, which its own process never
got to call).

Decided purely from the serialized DAG's flags and how the run or try ended; the scheduler that
wrote the end runs the callback (``master/scheduler/dag_callbacks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Airflow's ``context["reason"]`` for each way a run ends.
REASON_SUCCESS = "success"
REASON_TASK_FAILURE = "task_failure"
REASON_TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class RunEnd:
    """One end of a run whose DAG has a callback for it."""

    dag_id: str
    run_id: str
    #: success or failed.
    state: str
    #: Airflow's ``context["reason"]``: success, task_failure, timed_out.
    reason: str

    @property
    def callback_name(self) -> str:
        return "on_success_callback" if self.state == "success" else "on_failure_callback"


def _has(dag: Any, name: str) -> bool:
    """Whether ``dag`` (serialized: a ``has_…`` flag; live: the callback itself) has callback ``name``."""
    return bool(getattr(dag, f"has_{name}", False) or getattr(dag, name, None))


def has_dag_callbacks(dag: Any) -> bool:
    """Whether the DAG has any DAG-level run callback."""
    return _has(dag, "on_success_callback") or _has(dag, "on_failure_callback")


def run_end(dag: Any, run_id: str, state: str, *, timed_out: bool = False) -> RunEnd | None:
    """The callback owed when ``run_id`` of ``dag`` ends in ``state``; None when the DAG has none for it."""
    if state == "success":
        wanted, reason = _has(dag, "on_success_callback"), REASON_SUCCESS
    else:
        wanted = _has(dag, "on_failure_callback")
        reason = REASON_TIMED_OUT if timed_out else REASON_TASK_FAILURE
    return RunEnd(dag.dag_id, run_id, state, reason) if wanted else None


@dataclass(frozen=True)
class ZombieEnd:
    """The end of a try whose process was found gone, for a task with a callback for that end."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    #: failed (on_failure_callback) or up_for_retry (on_retry_callback).
    state: str
    #: Why the try ended: what ``context["exception"]`` holds, as in Airflow.
    reason: str

    @property
    def callback_name(self) -> str:
        return "on_retry_callback" if self.state == "up_for_retry" else "on_failure_callback"


def zombie_end(
    task: Any, dag_id: str, run_id: str, map_index: int, try_number: int, state: str, reason: str
) -> ZombieEnd | None:
    """The callback owed for a zombie's try that ended in ``state``; None when ``task`` (serialized)
    has none for it."""
    end = ZombieEnd(dag_id, run_id, getattr(task, "task_id", ""), map_index, try_number, state, reason)
    if state not in ("failed", "up_for_retry") or not _has(task, end.callback_name):
        return None
    return end
