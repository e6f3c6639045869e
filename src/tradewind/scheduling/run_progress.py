"""The run-progress duty: move a batch of DAG runs forward.

The batch is taken with row locks (``FOR UPDATE SKIP LOCKED``: another scheduler's runs are left
to it): runs named by events and runs whose retry or reschedule time came first, then those least
recently decided. Queued runs start while their DAG has fewer than ``max_active_runs`` running
(the DAG row is locked for that count); a run past its ``dagrun_timeout`` fails and its unfinished
task instances are skipped, as in Airflow; every other run is planned by the pure planner and the
plan written (``advance_run``). Empty operators are finished right here, without a worker, so a
chain of them completes in one tick.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tradewind.decisions.planner import RunPlan, TIDecision
from tradewind.decisions.run_ends import RunEnd, has_dag_callbacks, run_end
from tradewind.decisions.task_nodes import task_rows
from tradewind.metastore import runs, scheduling, task_instances
from tradewind.metastore.models import DagRun
from tradewind.scheduling.dag_cache import CachedDag, DagCache
from tradewind.scheduling.run_driver import advance_run
from tradewind.settings import Settings
from tradewind.states import UNFINISHED_STATES, DagRunState
from tradewind.states import TaskInstanceState as TI

logger = logging.getLogger(__name__)

RunKey = tuple[str, str]


@dataclass
class ProgressReport:
    examined: int = 0
    started: list[RunKey] = field(default_factory=list)
    #: (dag_id, run_id) -> the state the run ended in
    finished: dict[RunKey, str] = field(default_factory=dict)
    timed_out: list[RunKey] = field(default_factory=list)
    scheduled: int = 0
    empty_done: int = 0
    #: When a run's next retry or reschedule becomes due.
    wakeups: dict[RunKey, datetime] = field(default_factory=dict)
    #: The batch was full: more runs may be waiting.
    full: bool = False
    #: Runs this call ended whose DAG has a callback for that end (the caller runs it after commit).
    ended: list[RunEnd] = field(default_factory=list)


def progress_runs(
    session: Session,
    cache: DagCache,
    settings: Settings,
    now: datetime,
    *,
    named: Collection[RunKey] = (),
    checked: dict[RunKey, str | None] | None = None,
    only_named: bool = False,
    end_runs_with_callbacks: bool = True,
) -> ProgressReport:
    """``only_named`` examines just the ``named`` runs (a worker following up on its own run).
    Without ``end_runs_with_callbacks`` a run whose DAG has a DAG-level callback is moved on but
    never ended here: a scheduler ends it, so the process that ran the callback is the one that
    wrote the end.
    ``checked`` remembers, per run, the DAG version its task instances were last matched against;
    a run is matched again (new tasks added, vanished ones removed) when its DAG changes."""
    report = ProgressReport()
    checked = {} if checked is None else checked
    limit = max(1, settings.max_dagruns_per_loop)
    batch, stored_hashes = scheduling.lock_runs_to_examine(
        session,
        named=named,
        limit=limit,
        decided_before=now - timedelta(seconds=settings.scheduler_idle_sleep),
        only_named=only_named,
    )
    report.examined, report.full = len(batch), len(batch) >= limit
    dags = cache.get_many(session, {run.dag_id for run in batch}, stored_hashes=stored_hashes)
    startable = _startable(session, [r for r in batch if r.state == DagRunState.QUEUED and r.dag_id in dags], dags)
    for run in batch:
        cached = dags.get(run.dag_id)
        if cached is None:
            continue
        key = (run.dag_id, run.run_id)
        if run.state == DagRunState.QUEUED:
            if run.id not in startable:
                continue
            report.started.append(key)
        may_end = end_runs_with_callbacks or not has_dag_callbacks(cached.dag)
        if run.state != DagRunState.QUEUED and _timed_out(run, cached, now):
            if not may_end:
                continue
            _time_out(session, run, now)
            if (end := run_end(cached.dag, run.run_id, DagRunState.FAILED.value, timed_out=True)) is not None:
                report.ended.append(end)
            report.timed_out.append(key)
            report.finished[key] = DagRunState.FAILED.value
            logger.info(
                "run %s of %s failed: past its dagrun_timeout of %s s",
                run.run_id,
                run.dag_id,
                cached.dag.dagrun_timeout,
            )
            continue
        if checked.get(key, "") != cached.dag_hash:
            rows = task_rows(cached.dag, max_map_length=settings.max_map_length)
            added, removed = scheduling.sync_task_instances(session, run.dag_id, run.run_id, rows, now)
            if added or removed:
                logger.info(
                    "run %s of %s follows its DAG's new version: tasks added %s, removed %s",
                    run.run_id,
                    run.dag_id,
                    added,
                    removed,
                )
            checked[key] = cached.dag_hash
        plan = _advance(session, cached, run, now, report, settings.max_map_length, may_end)
        if plan.run_state is not None:
            checked.pop(key, None)
            report.finished[key] = plan.run_state.value
            if (end := run_end(cached.dag, run.run_id, plan.run_state.value)) is not None:
                report.ended.append(end)
            logger.info("run %s of %s ended: %s", run.run_id, run.dag_id, plan.run_state.value)
        elif plan.next_wakeup is not None:
            report.wakeups[key] = plan.next_wakeup
    scheduling.mark_decided(session, [run.id for run in batch], now)
    return report


def _startable(session: Session, queued: list[DagRun], dags: Mapping[str, CachedDag]) -> set[int]:
    """Ids of the queued runs that may start now: oldest first, while their DAG has room."""
    by_dag: dict[str, list[DagRun]] = defaultdict(list)
    for run in sorted(queued, key=lambda r: (r.logical_date, r.id)):
        by_dag[run.dag_id].append(run)
    # The DAG rows are locked so two schedulers cannot both start "the last free" run.
    locked = scheduling.lock_dags(session, by_dag)
    running = scheduling.count_running_runs(session, locked)
    startable: set[int] = set()
    for dag_id in locked:
        room = int(dags[dag_id].dag.max_active_runs or 0) - running.get(dag_id, 0)
        startable.update(run.id for run in by_dag[dag_id][: max(0, room)])
    return startable


def _timed_out(run: DagRun, cached: CachedDag, now: datetime) -> bool:
    timeout = cached.dag.dagrun_timeout
    return (
        timeout is not None
        and run.state == DagRunState.RUNNING
        and run.start_date is not None
        and now > run.start_date + timedelta(seconds=float(timeout))
    )


def _time_out(session: Session, run: DagRun, now: datetime) -> None:
    changes: list[task_instances.Change] = [
        (ti.task_id, ti.map_index, ti.state, TI.SKIPPED, {"end_date": now})
        for ti in task_instances.get_tis(session, run.dag_id, run.run_id)
        if TI(ti.state) in UNFINISHED_STATES
    ]
    if changes:
        task_instances.transition_many(session, run.dag_id, run.run_id, changes, now=now)
    runs.set_run_state(session, run, DagRunState.FAILED, now=now)


def _advance(
    session: Session,
    cached: CachedDag,
    run: DagRun,
    now: datetime,
    report: ProgressReport,
    max_map_length: int,
    may_end: bool = True,
) -> RunPlan:
    plan = advance_run(session, cached.nodes, run, now, max_map_length=max_map_length, may_end=may_end)
    report.scheduled += len(plan.schedule)
    for _ in range(len(cached.nodes)):
        empties = [d for d in plan.schedule if d.task_id in cached.empty_task_ids]
        if not empties or plan.run_state is not None:
            break
        _finish_empty(session, run, empties, now)
        report.empty_done += len(empties)
        plan = advance_run(session, cached.nodes, run, now, max_map_length=max_map_length, may_end=may_end)
        report.scheduled += len(plan.schedule)
    return plan


def _finish_empty(session: Session, run: DagRun, decisions: list[TIDecision], now: datetime) -> None:
    """scheduled → queued → running → success in this transaction: nobody else ever sees the middle."""
    steps = (
        (TI.SCHEDULED, TI.QUEUED, {"queued_dttm": now}),
        (TI.QUEUED, TI.RUNNING, {"start_date": now, "end_date": None, "last_heartbeat": now}),
        (TI.RUNNING, TI.SUCCESS, {"end_date": now, "duration": 0.0}),
    )
    for expected, target, fields in steps:
        changes: list[task_instances.Change] = [(d.task_id, d.map_index, expected, target, fields) for d in decisions]
        task_instances.transition_many(session, run.dag_id, run.run_id, changes, now=now)
