"""Airflow 2's ``State`` constants (``airflow.utils.state.State``) over tradewind's state enums."""

from __future__ import annotations

from tradewind.states import FAILED_STATES, FINISHED_STATES, UNFINISHED_STATES, DagRunState, TaskInstanceState

TI = TaskInstanceState


class State:
    """Task-instance state constants under Airflow's names, for DAG code that compares states.

    ``State.NONE`` is tradewind's ``"none"`` (Airflow uses ``None``) so that it equals the state a
    tradewind task instance that has not been scheduled actually reports.
    """

    NONE = TI.NONE
    REMOVED = TI.REMOVED
    SCHEDULED = TI.SCHEDULED
    QUEUED = TI.QUEUED
    RUNNING = TI.RUNNING
    SUCCESS = TI.SUCCESS
    RESTARTING = TI.RESTARTING
    FAILED = TI.FAILED
    UP_FOR_RETRY = TI.UP_FOR_RETRY
    UP_FOR_RESCHEDULE = TI.UP_FOR_RESCHEDULE
    UPSTREAM_FAILED = TI.UPSTREAM_FAILED
    SKIPPED = TI.SKIPPED
    DEFERRED = TI.DEFERRED

    task_states: tuple[TaskInstanceState, ...] = tuple(TaskInstanceState)
    dag_states: tuple[DagRunState, ...] = tuple(DagRunState)
    finished_dr_states: frozenset[DagRunState] = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
    unfinished_dr_states: frozenset[DagRunState] = frozenset({DagRunState.QUEUED, DagRunState.RUNNING})
    finished: frozenset[TaskInstanceState] = FINISHED_STATES
    unfinished: frozenset[TaskInstanceState] = UNFINISHED_STATES
    failed_states: frozenset[TaskInstanceState] = FAILED_STATES
    success_states: frozenset[TaskInstanceState] = frozenset({TI.SUCCESS, TI.SKIPPED})
    adoptable_states: frozenset[TaskInstanceState] = frozenset({TI.QUEUED, TI.RUNNING})
