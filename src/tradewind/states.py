"""Task-instance and DAG-run states, the transitions allowed between them, and the run types.

Every role changes a state only through a transition that this module allows; the metastore's
compare-and-set update checks ``ALLOWED_TRANSITIONS`` before it writes.
"""

from __future__ import annotations

from enum import StrEnum


class TaskInstanceState(StrEnum):
    """The life of one task instance (Airflow 2 names). ``NONE`` is stored as SQL NULL-free 'none'."""

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    REMOVED = "removed"
    RESTARTING = "restarting"
    #: Waiting on a trigger in a triggerer: holds no worker slot and no pool slot.
    DEFERRED = "deferred"


def shown_state(state: str | None) -> str | None:
    """A task instance's state as Airflow shows it to programs (the API, the CLI's json): ``None``
    while it has none, where tradewind stores ``'none'``."""
    return None if state in (None, TaskInstanceState.NONE.value) else state


class DagRunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class DagRunType(StrEnum):
    """How a run came to be; a ``str`` so ``dag_run.run_type == DagRunType.MANUAL`` holds."""

    BACKFILL_JOB = "backfill"
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    #: Created by the scheduler when the datasets a DAG is scheduled on were updated.
    DATASET_TRIGGERED = "dataset_triggered"
    #: ``tradewind dags test`` (Airflow records these as manual runs).
    DAGS_TEST = "dags_test"

    @staticmethod
    def from_run_id(run_id: str) -> DagRunType:
        """The type a run id's prefix names (``scheduled__…``); manual when it names none."""
        try:
            return DagRunType(run_id.split("__", 1)[0])
        except ValueError:
            return DagRunType.MANUAL

    def generate_run_id(self, logical_date: object) -> str:
        """``<type>__<logical date in ISO 8601>``, the form run ids take."""
        iso = logical_date.isoformat() if hasattr(logical_date, "isoformat") else str(logical_date)
        return f"{self.value}__{iso}"


TI = TaskInstanceState

#: States a task instance never leaves by itself (only a person clearing it does).
FINISHED_STATES: frozenset[TaskInstanceState] = frozenset(
    {TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED}
)
#: States in which the task holds (or is about to hold) a worker slot.
ACTIVE_STATES: frozenset[TaskInstanceState] = frozenset({TI.QUEUED, TI.RUNNING})
#: States that still wait for something to happen before the run can end.
UNFINISHED_STATES: frozenset[TaskInstanceState] = frozenset(
    {
        TI.NONE,
        TI.SCHEDULED,
        TI.QUEUED,
        TI.RUNNING,
        TI.UP_FOR_RETRY,
        TI.UP_FOR_RESCHEDULE,
        TI.RESTARTING,
        TI.DEFERRED,
    }
)
#: States that count as "failed" for trigger rules and for the run's outcome.
FAILED_STATES: frozenset[TaskInstanceState] = frozenset({TI.FAILED, TI.UPSTREAM_FAILED})

_ANY = frozenset(TaskInstanceState)

#: from-state -> states it may move to. A person's clear (-> none) and mark (-> success/failed)
#: are allowed from every state; they are listed here so that the one rule covers them too.
ALLOWED_TRANSITIONS: dict[TaskInstanceState, frozenset[TaskInstanceState]] = {
    TI.NONE: frozenset({TI.SCHEDULED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED}),
    # scheduled -> failed: a task that can never run (its pool does not exist).
    TI.SCHEDULED: frozenset({TI.QUEUED, TI.NONE, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED, TI.FAILED}),
    # queued/restarting -> skipped: a run past its dagrun_timeout skips everything unfinished (as Airflow).
    TI.QUEUED: frozenset({TI.RUNNING, TI.SCHEDULED, TI.FAILED, TI.UP_FOR_RETRY, TI.REMOVED, TI.SKIPPED}),
    # running -> running: a worker's heartbeat, a compare-and-set on the state and the try.
    TI.RUNNING: frozenset(
        {
            TI.RUNNING,
            TI.SUCCESS,
            TI.FAILED,
            TI.UP_FOR_RETRY,
            TI.UP_FOR_RESCHEDULE,
            TI.SKIPPED,
            TI.RESTARTING,
            TI.DEFERRED,
        }
    ),
    TI.UP_FOR_RETRY: frozenset({TI.SCHEDULED, TI.QUEUED, TI.SKIPPED, TI.UPSTREAM_FAILED}),
    TI.UP_FOR_RESCHEDULE: frozenset({TI.SCHEDULED, TI.QUEUED, TI.SKIPPED, TI.UPSTREAM_FAILED}),
    TI.RESTARTING: frozenset({TI.NONE, TI.SCHEDULED, TI.SKIPPED}),
    # deferred -> scheduled: its trigger fired, failed or timed out; it resumes on a worker with
    # the same try. deferred -> skipped: a run past its dagrun_timeout skips everything unfinished.
    TI.DEFERRED: frozenset({TI.SCHEDULED, TI.SKIPPED}),
    TI.SUCCESS: frozenset(),
    TI.FAILED: frozenset(),
    TI.SKIPPED: frozenset(),
    TI.UPSTREAM_FAILED: frozenset(),
    TI.REMOVED: frozenset({TI.NONE}),
}

#: Transitions a person may force from any state (clear, mark success, mark failed).
MANUAL_TARGETS: frozenset[TaskInstanceState] = frozenset({TI.NONE, TI.SUCCESS, TI.FAILED, TI.SKIPPED})

RUN_ALLOWED_TRANSITIONS: dict[DagRunState, frozenset[DagRunState]] = {
    DagRunState.QUEUED: frozenset({DagRunState.RUNNING, DagRunState.SUCCESS, DagRunState.FAILED}),
    DagRunState.RUNNING: frozenset({DagRunState.SUCCESS, DagRunState.FAILED, DagRunState.QUEUED}),
    DagRunState.SUCCESS: frozenset({DagRunState.QUEUED, DagRunState.RUNNING, DagRunState.FAILED}),
    DagRunState.FAILED: frozenset({DagRunState.QUEUED, DagRunState.RUNNING, DagRunState.SUCCESS}),
}


def can_transition(current: TaskInstanceState | str, target: TaskInstanceState | str, *, manual: bool = False) -> bool:
    """Whether a task instance may move from ``current`` to ``target``.

    ``manual`` is a person's action (clear / mark), which may start from any state.
    """
    current, target = TaskInstanceState(current), TaskInstanceState(target)
    if manual and target in MANUAL_TARGETS:
        return True
    return target in ALLOWED_TRANSITIONS[current]


def can_transition_run(current: DagRunState | str, target: DagRunState | str) -> bool:
    """Whether a DAG run may move from ``current`` to ``target``."""
    return DagRunState(target) in RUN_ALLOWED_TRANSITIONS[DagRunState(current)]
