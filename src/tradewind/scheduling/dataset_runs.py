"""Dataset-triggered runs: for each DAG with queued dataset events, lock it, decide with
``decisions.dataset_runs`` and, when its condition holds, create the run, record the events on it
and take them off the queue — all in the scheduler's transaction, so two schedulers never both
take an event (the DAG's row lock is ``SKIP LOCKED``: a DAG another scheduler holds waits a tick).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from tradewind.decisions.dataset_runs import Queued, plan_dataset_run
from tradewind.decisions.task_nodes import task_rows
from tradewind.errors import DagRunAlreadyExists
from tradewind.metastore import datasets, runs, scheduling
from tradewind.scheduling.dag_cache import DagCache
from tradewind.sdk.timetables.datasets import data_interval_for_events, dataset_condition
from tradewind.settings import Settings
from tradewind.states import DagRunState, DagRunType

logger = logging.getLogger(__name__)

#: Dataset-triggered runs created in one tick at most; the rest are created on the next.
RUNS_PER_TICK = 100


def create_dataset_runs(session: Session, cache: DagCache, settings: Settings, now: datetime) -> list[tuple[str, str]]:
    """Create the runs queued dataset events call for; returns (dag_id, run_id) of each."""
    created: list[tuple[str, str]] = []
    for dag_id in datasets.queued_dag_ids(session):
        if len(created) >= RUNS_PER_TICK:
            break
        if scheduling.lock_dag(session, dag_id) is None:
            continue
        cached = cache.get(session, dag_id)
        if cached is None:
            continue
        condition = dataset_condition(cached.dag.timetable)
        queued = [Queued(q.event_id, q.uri, q.created_at) for q in datasets.queued_events(session, dag_id)]
        aliases = [a.name for a in condition.iter_aliases()] if condition is not None else []
        plan = plan_dataset_run(condition, queued, datasets.alias_members(session, aliases))
        if not plan.take:
            continue
        if not plan.create or plan.logical_date is None:
            datasets.take_queued(session, dag_id, plan.take, run_pk=None)
            continue
        interval = data_interval_for_events(plan.logical_date, datasets.source_intervals(session, plan.take))
        run_id = DagRunType.DATASET_TRIGGERED.generate_run_id(plan.logical_date)
        try:
            run = runs.create_run(
                session,
                dag_id=dag_id,
                run_id=run_id,
                run_type=DagRunType.DATASET_TRIGGERED.value,
                logical_date=plan.logical_date,
                data_interval=(interval.start, interval.end),
                state=DagRunState.QUEUED,
                now=now,
                task_rows=task_rows(cached.dag, max_map_length=settings.max_map_length),
            )
        except DagRunAlreadyExists:
            logger.warning("%s already has a run at %s; its dataset events wait", dag_id, plan.logical_date)
            continue
        datasets.take_queued(session, dag_id, plan.take, run_pk=run.id)
        created.append((dag_id, run.run_id))
        logger.info("created run %s of %s from %d dataset event(s)", run.run_id, dag_id, len(plan.take))
    return created
