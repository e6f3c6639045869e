"""``tradewind dags test``: run a whole DAG in this process through the production state machine.

The run is recorded in the metastore like any other: the same planner decides what is ready,
the same runner claims each task instance, forks its process and writes its final state, so
trigger rules, retries with their delays, timeouts, sensors and branching behave as they will on
a cluster. Tasks run one at a time, highest priority first; while nothing else can run, the
triggers of deferred tasks run in this process (as Airflow's ``dags test`` runs them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradewind.decisions.task_nodes import task_nodes, task_rows
from tradewind.errors import DagRunAlreadyExists
from tradewind.metastore import dags, runs, task_instances
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.schema_version import ensure_migrated
from tradewind.metastore.task_instances import TIKey
from tradewind.scheduling.run_driver import advance_run
from tradewind.sdk import runtime_services
from tradewind.sdk.params import merge_params
from tradewind.sdk.schedules import manual_run_interval
from tradewind.sdk.serialization import dag_hash, serialize_dag
from tradewind.settings import Settings
from tradewind.states import DagRunState, DagRunType
from tradewind.states import TaskInstanceState as TI
from tradewind.task_services import MetastoreServices
from tradewind.triggerer.inline import run_triggers_once
from tradewind.worker.runner import RunnerOptions, run_task_instance


@dataclass
class TaskResult:
    task_id: str
    map_index: int
    state: str
    try_number: int


@dataclass
class DagTestResult:
    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskResult]
    seconds: float


def run_dag_in_process(
    dag: Any,
    *,
    logical_date: datetime | None = None,
    conf: dict[str, Any] | None = None,
    settings: Settings | None = None,
    echo: Callable[[str], None] | None = None,
) -> DagTestResult:
    """Run every task of ``dag`` for one logical date; returns the final states. ``settings``
    default to those of the process's runtime services."""
    settings = settings or runtime_services.current().settings
    conf = dict(conf or {})
    merge_params(dag.params, {}, conf)  # a bad conf is refused before anything is written
    logical_date = _aware(logical_date or datetime.now(UTC))
    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
        factory = make_session_factory(engine)
        started = time.monotonic()
        run_id = _create_run(factory, settings, dag, logical_date, conf)
        # The tasks' processes, forked from this one, reach this metastore through these.
        with runtime_services.using(MetastoreServices(settings, factory)):
            _drive(factory, lambda: engine.dispose(close=False), dag, run_id, settings, echo)
            _run_dag_callbacks(factory, dag, run_id)
        with session_scope(factory) as session:
            run = runs.get_run(session, dag.dag_id, run_id)
            tis = task_instances.get_tis(session, dag.dag_id, run_id)
            return DagTestResult(
                dag_id=dag.dag_id,
                run_id=run_id,
                state=run.state,
                seconds=time.monotonic() - started,
                tasks=[TaskResult(t.task_id, t.map_index, t.state, t.try_number) for t in tis],
            )
    finally:
        engine.dispose()


def _run_dag_callbacks(factory: Any, dag: Any, run_id: str) -> None:
    """The DAG's on_success/on_failure callback for the run's end, in this process, as Airflow's
    ``dags test`` calls them; a failing callback is logged and changes nothing."""
    from tradewind.decisions.run_ends import run_end
    from tradewind.master.scheduler.dag_callback_process import call_dag_callbacks

    with session_scope(factory) as session:
        state = runs.get_run(session, dag.dag_id, run_id).state
    end = run_end(dag, run_id, state)
    if end is not None:
        call_dag_callbacks(dag, end, factory)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _create_run(factory: Any, settings: Settings, dag: Any, logical_date: datetime, conf: dict[str, Any]) -> str:
    serialized = serialize_dag(dag)
    interval = manual_run_interval(dag.timetable, logical_date)
    run_id = f"manual__{logical_date.isoformat()}"
    with session_scope(factory) as session:
        dags.upsert_dag(
            session,
            dag_id=dag.dag_id,
            fileloc=dag.fileloc or "",
            serialized=serialized,
            dag_hash=dag_hash(serialized),
            schedule_description=dag.timetable.summary,
            description=dag.description,
            tags=dag.tags,
            owners=dag.owner,
            max_active_runs=dag.max_active_runs,
            max_active_tasks=dag.max_active_tasks,
            is_paused_upon_creation=True if dag.is_paused_upon_creation is None else dag.is_paused_upon_creation,
            dag_display_name=dag.dag_display_name,
        )
        existing = runs.find_run(session, dag.dag_id, run_id=run_id, logical_date=logical_date)
        if existing is not None:
            if existing.run_type != DagRunType.DAGS_TEST:
                raise DagRunAlreadyExists(
                    f"DAG {dag.dag_id!r} already has a {existing.run_type} run ({existing.run_id}) at "
                    f"{logical_date.isoformat()}; give `dags test` another logical date"
                )
            # A previous `dags test` of the same date is replaced, as Airflow's `dags test` does.
            runs.delete_run(session, existing)
        runs.create_run(
            session,
            dag_id=dag.dag_id,
            run_id=run_id,
            run_type=DagRunType.DAGS_TEST,
            logical_date=logical_date,
            data_interval=(interval.start, interval.end),
            conf=conf,
            state=DagRunState.RUNNING,
            # As Airflow's `dags test`: the run stands for a scheduled one (LatestOnlyOperator skips
            # when its date is not the latest interval).
            external_trigger=False,
            task_rows=task_rows(dag, max_map_length=settings.max_map_length),
        )
    return run_id


def _drive(
    factory: Any,
    engine_reset: Callable[[], None],
    dag: Any,
    run_id: str,
    settings: Settings,
    echo: Callable[[str], None] | None,
) -> None:
    nodes = task_nodes(dag)
    options = RunnerOptions.from_settings(settings, echo=echo)
    while True:
        now = datetime.now(UTC)
        with session_scope(factory) as session:
            run = runs.get_run(session, dag.dag_id, run_id)
            plan = advance_run(session, nodes, run, now, max_map_length=settings.max_map_length)
            if plan.run_state is not None:
                return
            tis = task_instances.get_tis(session, dag.dag_id, run_id)
            ready = sorted(
                (t for t in tis if t.state == TI.SCHEDULED),
                key=lambda t: (-t.priority_weight, t.task_id, t.map_index),
            )
            waiting_on = {t.trigger_id for t in tis if t.state == TI.DEFERRED and t.trigger_id is not None}
            deferred = any(t.state == TI.DEFERRED for t in tis)
        for ti in ready:
            key = TIKey(dag.dag_id, run_id, ti.task_id, ti.map_index)
            with session_scope(factory) as session:
                queued = task_instances.transition(
                    session,
                    key,
                    expected_state=TI.SCHEDULED,
                    target_state=TI.QUEUED,
                    expected_try=ti.try_number,
                    queued_dttm=datetime.now(UTC),
                )
            if queued:
                run_task_instance(factory, engine_reset, dag.get_task(ti.task_id), key, ti.try_number, options)
        if not ready:
            wake = plan.next_wakeup
            delay = (wake - datetime.now(UTC)).total_seconds() if wake else 0.05
            if deferred:
                run_triggers_once(factory, waiting_on, wait_s=min(max(delay, 0.05), 5.0) if wake else 5.0)
            else:
                time.sleep(min(max(delay, 0.0), 5.0))
