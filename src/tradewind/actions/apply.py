"""Applying a person's actions: read what a plan needs, write its outcome in the caller's
transaction, with one audit-log row each. The caller commits, then wakes the schedulers
(``wake.wake_schedulers``).

- clear / mark task instances: ``plan`` reads the runs and task instances (locking the runs when
  the plan is about to be applied, so a scheduler never decides about them at the same time), the
  pure ``plan.plan_action`` decides, ``apply`` writes;
- a whole run: ``plan_run`` and ``set_run_state``, ``delete_run``; a trigger: ``trigger_dag``; a backfill:
  ``backfill_dag``; pause / unpause: ``set_paused``; a whole DAG: ``delete_dag``; a note on a
  run or task instance: ``set_note``;
- pools: ``set_pool`` and ``delete_pool``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.actions.clear import RunRef, TIRef
from tradewind.actions.plan import ActionOptions, ActionPlan, plan_action, plan_run_state
from tradewind.actions.trigger import backfill_runs, manual_run
from tradewind.decisions.task_nodes import task_rows
from tradewind.errors import DagNotFound, DagStillRunning, PoolNotFound, TaskNotFound
from tradewind.metastore import audit, clearing, dag_removal, dags, pools, runs, scheduling, task_instances
from tradewind.metastore.dags import load_dag
from tradewind.metastore.models import DagModel, DagRun, SlotPool
from tradewind.sdk.schedules import intervals_between
from tradewind.states import DagRunState


def plan(session: Session, dag: Any, kind: str, options: ActionOptions, *, lock: bool = False) -> ActionPlan:
    """The plan of ``kind`` on ``dag`` (a deserialized DAG) as the metastore holds it now.

    Raises ``DagRunNotFound`` when ``options.run_id`` names no run, ValueError for a bad option."""
    if options.run_id is not None:
        runs.get_run(session, dag.dag_id, options.run_id)
        run_rows = clearing.runs_between(session, dag.dag_id, lock=lock)
    else:
        run_rows = clearing.runs_between(session, dag.dag_id, start=options.start, end=options.end, lock=lock)
    run_refs = [RunRef(r.run_id, r.logical_date, r.state) for r in run_rows]
    if options.run_id is not None and not (options.past or options.future):
        run_refs = [r for r in run_refs if r.run_id == options.run_id]
    ti_refs = [
        TIRef(t.run_id, t.task_id, t.map_index, t.state, t.try_number)
        for t in clearing.task_instances_of(session, dag.dag_id, [r.run_id for r in run_refs])
    ]
    return plan_action(kind, dag, run_refs, ti_refs, options)


def apply(
    session: Session,
    dag_id: str,
    action: ActionPlan,
    options: ActionOptions,
    *,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> int:
    """Write ``action`` (planned with ``lock=True`` in this transaction); returns how many task
    instances changed. Each change is a compare-and-set from the state the plan read."""
    now = now or datetime.now(UTC)
    by_run: dict[str, list[task_instances.Change]] = defaultdict(list)
    for change in action.changes:
        fields: dict[str, Any] = {}
        if change.max_tries is not None:
            fields = {"max_tries": change.max_tries, "retry_at": None, "next_poke_at": None, "first_poke_at": None}
        by_run[change.run_id].append((change.task_id, change.map_index, change.from_state, change.to_state, fields))
    changed = 0
    for run_id, changes in by_run.items():
        changed += task_instances.transition_many(session, dag_id, run_id, changes, manual=True, now=now)
    for run in clearing.runs_between(session, dag_id, run_ids=action.reopen_run_ids):
        if DagRunState(run.state) in (DagRunState.SUCCESS, DagRunState.FAILED):
            runs.set_run_state(session, run, action.reopen_state, now=now)
    event = "clear" if action.kind == "clear" else f"mark_{action.kind}"
    single = options.task_ids is not None and len(options.task_ids) == 1
    audit.record(
        session,
        event,
        owner=owner,
        dag_id=dag_id,
        run_id=options.run_id,
        task_id=options.task_ids[0] if single and options.task_ids else None,
        map_index=options.map_index if single else None,
        extra={"source": source, "count": changed, **options.as_dict()},
        now=now,
    )
    return changed


def plan_run(session: Session, dag: Any, run_id: str, state: str, *, lock: bool = False) -> ActionPlan:
    """The plan of setting the whole run to ``state`` (``plan.plan_run_state``) as the metastore
    holds it now; raises ``DagRunNotFound``, ValueError for a state a person may not set."""
    runs.get_run(session, dag.dag_id, run_id)
    (run,) = clearing.runs_between(session, dag.dag_id, run_ids=[run_id], lock=lock)
    ti_refs = [
        TIRef(t.run_id, t.task_id, t.map_index, t.state, t.try_number)
        for t in clearing.task_instances_of(session, dag.dag_id, [run_id])
    ]
    return plan_run_state(dag, RunRef(run.run_id, run.logical_date, run.state), ti_refs, state)


def set_run_state(
    session: Session, dag_id: str, run_id: str, state: str, *, owner: str, source: str, now: datetime | None = None
) -> int:
    """A whole run to ``state`` (``plan.plan_run_state``): ``queued`` clears it; ``failed`` fails
    what runs and skips what has not finished; ``success`` marks every task instance success. The
    run takes ``state``. Returns the task instances changed."""
    now = now or datetime.now(UTC)
    dag = load_dag(session, dag_id)
    options = ActionOptions(run_id=run_id)
    action = plan_run(session, dag, run_id, state, lock=True)
    changed = apply(session, dag_id, action, options, owner=owner, source=source, now=now)
    if state == DagRunState.QUEUED.value:
        return changed
    run = runs.get_run(session, dag_id, run_id)
    if run.state != state:
        runs.set_run_state(session, run, state, now=now)
    return changed


def delete_run(
    session: Session, dag_id: str, run_id: str, *, owner: str, source: str, now: datetime | None = None
) -> None:
    """Delete the run with its task instances, tries, XComs and logs; raises ``DagRunNotFound``.

    A try still running finds its row gone at its next heartbeat and is stopped by its worker, as
    in Airflow. The run's logical date is free again for a new run."""
    run = runs.get_run(session, dag_id, run_id)
    run_type, logical_date = run.run_type, run.logical_date
    runs.delete_run(session, run)
    audit.record(
        session,
        "delete_run",
        owner=owner,
        dag_id=dag_id,
        run_id=run_id,
        extra={"source": source, "run_type": run_type, "logical_date": logical_date.isoformat()},
        now=now,
    )


def trigger_dag(
    session: Session,
    dag_id: str,
    *,
    conf: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    logical_date: datetime | None = None,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> DagRun:
    """Create a queued manual run; raises ``DagNotFound``, ``ParamValidationError`` or
    ``DagRunAlreadyExists`` (same run id or logical date) with nothing written."""
    now = now or datetime.now(UTC)
    dag = load_dag(session, dag_id)
    planned = manual_run(dag, conf=conf, run_id=run_id, logical_date=logical_date, now=now)
    run = runs.create_run(
        session,
        dag_id=dag_id,
        run_id=planned.run_id,
        run_type="manual",
        logical_date=planned.logical_date,
        data_interval=planned.data_interval,
        conf=planned.conf,
        state=DagRunState.QUEUED,
        external_trigger=True,
        task_rows=task_rows(dag),
        now=now,
    )
    audit.record(
        session,
        "trigger",
        owner=owner,
        dag_id=dag_id,
        run_id=run.run_id,
        extra={"source": source, "conf": planned.conf},
        now=now,
    )
    return run


def backfill_dag(
    session: Session,
    dag_id: str,
    start: datetime,
    end: datetime,
    *,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> tuple[list[DagRun], int]:
    """Create a queued backfill run for every interval in ``[start, end]`` without a run; returns the
    new runs and how many intervals already had one."""
    now = now or datetime.now(UTC)
    dag = load_dag(session, dag_id)
    taken = scheduling.logical_dates_since(session, dag_id, None)
    every = intervals_between(dag.timetable, start, end, start_date=dag.start_date, end_date=dag.end_date)
    created = [
        runs.create_run(
            session,
            dag_id=dag_id,
            run_id=f"backfill__{info.logical_date.isoformat()}",
            run_type="backfill",
            logical_date=info.logical_date,
            data_interval=(info.data_interval.start, info.data_interval.end),
            state=DagRunState.QUEUED,
            task_rows=task_rows(dag),
            now=now,
        )
        for info in backfill_runs(dag, start, end, taken)
    ]
    audit.record(
        session,
        "backfill",
        owner=owner,
        dag_id=dag_id,
        extra={"source": source, "start": start.isoformat(), "end": end.isoformat(), "created": len(created)},
        now=now,
    )
    return created, len(every) - len(created)


def set_note(
    session: Session,
    dag_id: str,
    run_id: str,
    note: str | None,
    *,
    task_id: str | None = None,
    map_index: int = -1,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> None:
    """Write a note on a run, or (``task_id``) on one of its task instances; raises
    ``DagRunNotFound`` / ``TaskNotFound``."""
    run = runs.get_run(session, dag_id, run_id)
    if task_id is None:
        runs.set_note(session, run, note)
    else:
        ti = task_instances.get_ti(session, dag_id, run_id, task_id, map_index)
        if ti is None:
            which = f" with map index {map_index}" if map_index >= 0 else ""
            raise TaskNotFound(f"run {run_id!r} of {dag_id!r} has no task instance {task_id!r}{which}")
        task_instances.set_note(session, ti, note)
    audit.record(
        session,
        "set_note",
        owner=owner,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index if task_id is not None else None,
        extra={"source": source, "note": note},
        now=now,
    )


def set_paused(
    session: Session, dag_id: str, paused: bool, *, owner: str, source: str, now: datetime | None = None
) -> DagModel:
    """Pause or unpause the DAG and record who did it (``source``: "ui", "api" or "cli").

    Raises ``DagNotFound`` for an unknown DAG id.
    """
    dag = dags.set_paused(session, dag_id, paused)
    audit.record(
        session, "pause" if paused else "unpause", owner=owner, dag_id=dag_id, extra={"source": source}, now=now
    )
    return dag


def delete_dag(session: Session, dag_id: str, *, owner: str, source: str, now: datetime | None = None) -> int:
    """Delete every row of the DAG — its runs with their task instances, tries, XComs and logs, and
    the DAG itself — and return how many rows went; its file, if still in the DAG folder, is imported
    again and the DAG comes back (paused, with no history), as in Airflow.

    Raises ``DagNotFound`` for an unknown DAG and ``DagStillRunning`` (nothing deleted) while a task
    instance of it runs."""
    dag = dags.get_dag(session, dag_id)
    if dag is None:
        raise DagNotFound(f"DAG {dag_id!r} not found; see `tradewind dags list`")
    running = dag_removal.live_task_instances(session, dag_id)
    if running:
        raise DagStillRunning(
            f"DAG {dag_id} has {running} task instance(s) running; wait for them to end or mark them "
            "failed, then delete it (nothing was deleted)"
        )
    removed = dag_removal.delete_dag_rows(session, dag)
    audit.record(session, "delete_dag", owner=owner, dag_id=dag_id, extra={"source": source, "rows": removed}, now=now)
    return removed


def set_pool(
    session: Session,
    name: str,
    slots: int,
    description: str | None = None,
    *,
    include_deferred: bool = False,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> SlotPool:
    """Create the pool or change its slots; ValueError for a blank name or negative slots."""
    pool = pools.set_pool(session, name, slots, description, include_deferred=include_deferred)
    audit.record(
        session, "pool.set", owner=owner, extra={"pool": pool.pool, "slots": pool.slots, "source": source}, now=now
    )
    return pool


def delete_pool(session: Session, name: str, *, owner: str, source: str, now: datetime | None = None) -> None:
    """Delete the pool; ``PoolNotFound`` for an unknown one, ValueError for ``default_pool``."""
    if not pools.delete_pool(session, name):
        raise PoolNotFound(f"Pool {name} does not exist")
    audit.record(session, "pool.delete", owner=owner, extra={"pool": name, "source": source}, now=now)
