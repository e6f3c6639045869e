"""The run-creation duty: give every due DAG the scheduled runs its schedule calls for, and every
DAG scheduled on datasets the runs its queued dataset events call for (``scheduling.dataset_runs``).

Only DAGs whose ``next_dagrun_create_after`` has come are looked at, so an idle DAG costs nothing
per tick. Each DAG's row is locked while its runs are created (``SKIP LOCKED``: another scheduler
already on it is left alone), and its next run and when to create it are written back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from tradewind.decisions.run_schedule import NewRuns, plan_new_runs
from tradewind.decisions.task_nodes import task_rows
from tradewind.metastore import runs, scheduling
from tradewind.scheduling.dag_cache import CachedDag, DagCache
from tradewind.scheduling.dataset_runs import create_dataset_runs
from tradewind.settings import Settings
from tradewind.states import DagRunState

logger = logging.getLogger(__name__)

#: DAGs looked at in one tick; the rest are due on the next.
DAGS_PER_TICK = 100


@dataclass
class RunCreationReport:
    #: (dag_id, run_id) of every run created
    created: list[tuple[str, str]] = field(default_factory=list)
    #: The earliest time an unpaused DAG may get its next run.
    next_due: datetime | None = None
    #: A full batch of due DAGs was looked at: more may be due now (a DAG folder just stored).
    more_due: bool = False


def scheduled_run_id(logical_date: datetime) -> str:
    return f"scheduled__{logical_date.isoformat()}"


def create_scheduled_runs(session: Session, cache: DagCache, settings: Settings, now: datetime) -> RunCreationReport:
    report = RunCreationReport()
    due = scheduling.due_dag_ids(session, now, limit=DAGS_PER_TICK)
    settled = 0
    for dag_id in due:
        if scheduling.lock_dag(session, dag_id) is None:
            continue
        cached = cache.get(session, dag_id)
        plan = _plan(session, cached, settings, now) if cached is not None else NewRuns()
        for info in plan.create:
            run = runs.create_run(
                session,
                dag_id=dag_id,
                run_id=scheduled_run_id(info.logical_date),
                run_type="scheduled",
                logical_date=info.logical_date,
                data_interval=(info.data_interval.start, info.data_interval.end),
                state=DagRunState.QUEUED,
                now=now,
                task_rows=task_rows(cached.dag, max_map_length=settings.max_map_length) if cached else (),
            )
            report.created.append((dag_id, run.run_id))
            logger.info("created run %s of %s", run.run_id, dag_id)
        following = plan.next_run
        scheduling.set_next_dagrun(
            session,
            dag_id,
            (following.data_interval.start, following.data_interval.end) if following is not None else None,
            following.run_after if following is not None else None,
        )
        if plan.create or following is None or following.run_after > now:
            settled += 1  # it got runs, or it is not due again before its time
    # A full batch in which DAGs moved on: more may be due now. A batch of DAGs that stay due with
    # nothing to create (another scheduler's, or a schedule that cannot move on) waits for the
    # next tick rather than making the loop spin.
    report.more_due = len(due) == DAGS_PER_TICK and settled > 0
    report.created.extend(create_dataset_runs(session, cache, settings, now))
    report.next_due = scheduling.next_create_after(session)
    return report


def _plan(session: Session, cached: CachedDag, settings: Settings, now: datetime) -> NewRuns:
    dag = cached.dag
    last = scheduling.last_scheduled_interval(session, dag.dag_id)
    try:
        return plan_new_runs(
            dag,
            catchup=dag.resolved_catchup(settings.catchup_by_default),
            last_interval=last,
            active_runs=scheduling.count_active_runs(session, dag.dag_id),
            taken=scheduling.logical_dates_since(session, dag.dag_id, last[1] if last else None),
            now=now,
        )
    except Exception:  # noqa: BLE001 - a schedule that cannot be computed stops this DAG, not the duty
        logger.exception("cannot work out the next run of %s; it gets none until its file changes", dag.dag_id)
        return NewRuns()
