"""The scheduler's batch reads and row locks: which runs to examine, which task instances may be
queued, how many slots are taken, which DAGs are due for a new run, which task instances went stale.

Locks are ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several schedulers each take a disjoint
batch and none waits for another; SQLite ignores them (one scheduler runs there, held by a file
lock). Like every query module, nothing here commits or decides; the duties do that.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from tradewind.decisions.run_schedule import DEFAULT_MAX_ACTIVE_RUNS
from tradewind.metastore import task_instances
from tradewind.metastore.models import DagModel, DagRun, TaskInstance
from tradewind.metastore.statements import rows_changed, upsert
from tradewind.metastore.task_instances import TIKey, no_live_try
from tradewind.states import ACTIVE_STATES, DagRunState, DagRunType
from tradewind.states import TaskInstanceState as TI

#: Any constant: the key of the PostgreSQL advisory lock around the queueing critical section.
QUEUEING_LOCK_KEY = 0x7472_6164_6577
#: Runs of `tradewind dags test` are driven by that command in its own process, never by a scheduler.


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- DAGs -----------------------------------------------------------------------------------------


def active_dag_hashes(session: Session) -> dict[str, str | None]:
    """dag_id -> dag_hash of every active DAG."""
    rows = session.execute(select(DagModel.dag_id, DagModel.dag_hash).where(DagModel.is_active.is_(True)))
    return {dag_id: dag_hash for dag_id, dag_hash in rows}


def dag_hashes(session: Session, dag_ids: Collection[str]) -> dict[str, str | None]:
    """dag_id -> dag_hash of the named DAGs that exist and have been parsed."""
    if not dag_ids:
        return {}
    rows = session.execute(
        select(DagModel.dag_id, DagModel.dag_hash).where(
            DagModel.dag_id.in_(list(dag_ids)), DagModel.serialized.is_not(None)
        )
    )
    return {dag_id: dag_hash for dag_id, dag_hash in rows}


def serialized_dags(session: Session, dag_ids: Collection[str]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """dag_id -> (dag_hash, serialized DAG) of the named DAGs."""
    if not dag_ids:
        return {}
    rows = session.execute(
        select(DagModel.dag_id, DagModel.dag_hash, DagModel.serialized).where(
            DagModel.dag_id.in_(list(dag_ids)), DagModel.serialized.is_not(None)
        )
    )
    return {dag_id: (dag_hash, serialized) for dag_id, dag_hash, serialized in rows}


def request_next_dagrun_check(session: Session, dag_ids: Collection[str], now: datetime) -> None:
    """Make the named DAGs due for the run-creation duty now (their structure or schedule changed)."""
    if not dag_ids:
        return
    # Rows locked in dag_id order first: two schedulers refreshing the same DAGs wait, never deadlock.
    locked = list(
        session.scalars(
            select(DagModel.dag_id)
            .where(DagModel.dag_id.in_(list(dag_ids)))
            .order_by(DagModel.dag_id)
            .with_for_update()
        )
    )
    if locked:
        session.execute(
            update(DagModel)
            .where(DagModel.dag_id.in_(locked))
            .values(next_dagrun_create_after=now)
            .execution_options(synchronize_session=False)
        )


def due_dag_ids(session: Session, now: datetime, *, limit: int) -> list[str]:
    """Active, unpaused DAGs whose next run may be due by ``now``, the longest-waiting first —
    leaving out DAGs at their ``max_active_runs``: they wait for a run to end (then they are due
    again at once), and however many wait, they never hold back other DAGs' runs."""
    # One grouped count over the active runs only (the state index finds them), not a count of
    # each due DAG's whole run history.
    active = (
        select(DagRun.dag_id, func.count().label("runs"))
        .where(DagRun.state.in_([DagRunState.QUEUED.value, DagRunState.RUNNING.value]))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(DagModel.dag_id)
            .outerjoin(active, active.c.dag_id == DagModel.dag_id)
            .where(
                DagModel.is_active.is_(True),
                DagModel.is_paused.is_(False),
                DagModel.next_dagrun_create_after <= now,
                func.coalesce(active.c.runs, 0) < func.coalesce(DagModel.max_active_runs, DEFAULT_MAX_ACTIVE_RUNS),
            )
            .order_by(DagModel.next_dagrun_create_after, DagModel.dag_id)
            .limit(limit)
        )
    )


def next_create_after(session: Session) -> datetime | None:
    """The earliest time an active, unpaused DAG may get its next run."""
    return session.scalar(
        select(func.min(DagModel.next_dagrun_create_after)).where(
            DagModel.is_active.is_(True), DagModel.is_paused.is_(False)
        )
    )


def lock_dag(session: Session, dag_id: str) -> DagModel | None:
    """The DAG's row, locked for this transaction; None when another scheduler holds it (or it is
    gone, paused or inactive)."""
    return session.scalars(
        select(DagModel)
        .where(DagModel.dag_id == dag_id, DagModel.is_active.is_(True), DagModel.is_paused.is_(False))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def lock_dags(session: Session, dag_ids: Collection[str]) -> set[str]:
    """Lock the named DAG rows for this transaction; returns those this call holds."""
    if not dag_ids:
        return set()
    return set(
        session.scalars(
            select(DagModel.dag_id)
            .where(DagModel.dag_id.in_(sorted(dag_ids)))
            .order_by(DagModel.dag_id)
            .with_for_update(skip_locked=True)
        )
    )


def set_next_dagrun(
    session: Session, dag_id: str, interval: tuple[datetime, datetime] | None, create_after: datetime | None
) -> None:
    """Record the DAG's next scheduled run (None: there is none) and when to create it."""
    start, end = interval if interval is not None else (None, None)
    session.execute(
        update(DagModel)
        .where(DagModel.dag_id == dag_id)
        .values(
            next_dagrun_data_interval_start=start,
            next_dagrun_data_interval_end=end,
            next_dagrun_create_after=create_after,
        )
        .execution_options(synchronize_session=False)
    )


# --- runs -----------------------------------------------------------------------------------------


def last_scheduled_interval(session: Session, dag_id: str) -> tuple[datetime, datetime] | None:
    """The data interval of the DAG's latest scheduled run."""
    row = session.execute(
        select(DagRun.data_interval_start, DagRun.data_interval_end, DagRun.logical_date)
        .where(DagRun.dag_id == dag_id, DagRun.run_type == "scheduled")
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    start, end, logical_date = row
    return (start or logical_date, end or logical_date)


def logical_dates_since(session: Session, dag_id: str, since: datetime | None) -> set[datetime]:
    """Logical dates of the DAG's runs at or after ``since`` (all of them when None)."""
    query = select(DagRun.logical_date).where(DagRun.dag_id == dag_id)
    if since is not None:
        query = query.where(DagRun.logical_date >= since)
    return set(session.scalars(query))


def count_active_runs(session: Session, dag_id: str) -> int:
    """Queued and running runs of the DAG."""
    return (
        session.scalar(
            select(func.count())
            .select_from(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.state.in_([DagRunState.QUEUED.value, DagRunState.RUNNING.value]))
        )
        or 0
    )


def count_running_runs(session: Session, dag_ids: Collection[str]) -> dict[str, int]:
    if not dag_ids:
        return {}
    rows = session.execute(
        select(DagRun.dag_id, func.count())
        .where(DagRun.dag_id.in_(list(dag_ids)), DagRun.state == DagRunState.RUNNING.value)
        .group_by(DagRun.dag_id)
    )
    return {dag_id: count for dag_id, count in rows}


def lock_runs_to_examine(
    session: Session,
    *,
    named: Collection[tuple[str, str]],
    limit: int,
    decided_before: datetime,
    only_named: bool = False,
) -> list[DagRun]:
    """Up to ``limit`` queued or running runs of unpaused, active DAGs, locked for this transaction
    (runs another scheduler holds are skipped): the ``named`` ones first, then those whose last
    scheduling decision is not newer than ``decided_before``, least recently decided first."""
    base = (
        select(DagRun)
        .join(DagModel, DagModel.dag_id == DagRun.dag_id)
        .where(
            DagRun.state.in_([DagRunState.QUEUED.value, DagRunState.RUNNING.value]),
            DagRun.run_type != DagRunType.DAGS_TEST,
            DagModel.is_paused.is_(False),
            DagModel.is_active.is_(True),
        )
        .with_for_update(of=DagRun, skip_locked=True)
        .execution_options(populate_existing=True)
    )
    found: list[DagRun] = []
    if named:
        found = list(
            session.scalars(
                base.where(tuple_(DagRun.dag_id, DagRun.run_id).in_(list(named)))
                .order_by(DagRun.logical_date)
                .limit(limit)
            )
        )
    remaining = 0 if only_named else limit - len(found)
    if remaining > 0:
        query = base.where(
            or_(DagRun.last_scheduling_decision.is_(None), DagRun.last_scheduling_decision <= decided_before)
        )
        if found:
            query = query.where(DagRun.id.not_in([run.id for run in found]))
        found.extend(
            session.scalars(
                query.order_by(DagRun.last_scheduling_decision.asc().nulls_first(), DagRun.logical_date).limit(
                    remaining
                )
            )
        )
    return found


def sync_task_instances(
    session: Session,
    dag_id: str,
    run_id: str,
    task_rows: Sequence[Mapping[str, Any]],
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Bring a run's task instances in line with the DAG's current tasks (Airflow's
    ``verify_integrity``): add a task instance (state ``none``) for each new task, and mark those
    of vanished tasks that have not started ``removed``. Returns (added, removed) task ids."""
    existing = list(
        session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
    )
    present = {task_id for task_id, _, _ in existing}
    added: list[str] = []
    for row in task_rows:
        if row["task_id"] in present:
            continue
        # ON CONFLICT DO NOTHING: another scheduler adding the same task instance is no error.
        upsert(
            session,
            TaskInstance,
            {
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": row["task_id"],
                "map_index": row.get("map_index", -1),
                "state": TI.NONE.value,
                "try_number": 0,
                "max_tries": row.get("max_tries", 0),
                "operator": row.get("operator"),
                "pool": row.get("pool") or "default_pool",
                "pool_slots": row.get("pool_slots", 1),
                "queue": row.get("queue"),
                "priority_weight": row.get("priority_weight", 1),
                "updated_at": now,
            },
            conflict_on=["dag_id", "run_id", "task_id", "map_index"],
            update=[],
        )
        added.append(row["task_id"])
    current = {row["task_id"] for row in task_rows}
    gone: list[task_instances.Change] = [
        (task_id, map_index, state, TI.REMOVED, {})
        for task_id, map_index, state in existing
        if task_id not in current and state in (TI.NONE.value, TI.SCHEDULED.value)
    ]
    if gone:
        task_instances.transition_many(session, dag_id, run_id, gone, now=now)
    return added, sorted({task_id for task_id, *_ in gone})


def mark_decided(session: Session, run_pks: Collection[int], now: datetime) -> None:
    """Record that these runs were examined at ``now``."""
    if run_pks:
        session.execute(
            update(DagRun)
            .where(DagRun.id.in_(list(run_pks)))
            .values(last_scheduling_decision=now)
            .execution_options(synchronize_session=False)
        )


# --- queueing -------------------------------------------------------------------------------------


def any_scheduled(session: Session) -> bool:
    """Whether any task instance is scheduled (one index lookup): with none, there is nothing to
    queue, and the queueing critical section need not be entered."""
    return (
        session.scalar(select(TaskInstance.task_id).where(TaskInstance.state == TI.SCHEDULED.value).limit(1))
        is not None
    )


def try_lock_queueing(session: Session) -> bool:
    """Enter the queueing critical section for this transaction; False when another scheduler is in
    it. On PostgreSQL a transaction-scoped advisory lock; SQLite has one scheduler only."""
    if not is_postgres(session):
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(QUEUEING_LOCK_KEY))))


@dataclass(frozen=True)
class SlotUse:
    """Queued and running task instances of one task, and the pool slots they take."""

    dag_id: str
    task_id: str
    pool: str
    count: int
    slots: int


def active_slot_use(session: Session) -> list[SlotUse]:
    """What every queued or running task instance takes, grouped by task and pool (one query)."""
    rows = session.execute(
        select(
            TaskInstance.dag_id,
            TaskInstance.task_id,
            TaskInstance.pool,
            func.count(),
            func.coalesce(func.sum(TaskInstance.pool_slots), 0),
        )
        .where(TaskInstance.state.in_([s.value for s in ACTIVE_STATES]))
        .group_by(TaskInstance.dag_id, TaskInstance.task_id, TaskInstance.pool)
    )
    return [SlotUse(dag_id, task_id, pool, int(count), int(slots)) for dag_id, task_id, pool, count, slots in rows]


@dataclass(frozen=True)
class Schedulable:
    """A scheduled task instance that may be queued, with what the limits need to know."""

    key: TIKey
    try_number: int
    priority_weight: int
    pool: str
    pool_slots: int
    queue: str | None
    logical_date: datetime


def lock_schedulable(
    session: Session,
    *,
    limit: int,
    live_stale_before: datetime,
    skip_pools: Iterable[str] = (),
    run: tuple[str, str] | None = None,
) -> list[Schedulable]:
    """Scheduled task instances of running runs of unpaused DAGs, highest priority weight first, then
    oldest run; locked for this transaction (rows another scheduler holds are skipped). A task instance
    an earlier try of which may still have processes alive (heartbeating since ``live_stale_before``)
    waits until they are gone."""
    query = (
        select(TaskInstance, DagRun.logical_date)
        .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
        .join(DagModel, DagModel.dag_id == TaskInstance.dag_id)
        .where(
            TaskInstance.state == TI.SCHEDULED.value,
            DagRun.state == DagRunState.RUNNING.value,
            DagRun.run_type != DagRunType.DAGS_TEST,
            DagModel.is_paused.is_(False),
            no_live_try(live_stale_before),
        )
    )
    skip = list(skip_pools)
    if skip:
        query = query.where(TaskInstance.pool.not_in(skip))
    if run is not None:
        query = query.where(TaskInstance.dag_id == run[0], TaskInstance.run_id == run[1])
    query = (
        query.order_by(
            TaskInstance.priority_weight.desc(),
            DagRun.logical_date,
            TaskInstance.dag_id,
            TaskInstance.run_id,
            TaskInstance.map_index,
            TaskInstance.task_id,
        )
        .limit(limit)
        .with_for_update(of=TaskInstance, skip_locked=True)
    )
    return [
        Schedulable(
            key=TIKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
            try_number=ti.try_number,
            priority_weight=ti.priority_weight,
            pool=ti.pool,
            pool_slots=ti.pool_slots,
            queue=ti.queue,
            logical_date=logical_date,
        )
        for ti, logical_date in session.execute(query.execution_options(populate_existing=True))
    ]


# --- liveness -------------------------------------------------------------------------------------


def stale_running(session: Session, *, heartbeat_before: datetime, limit: int) -> list[TaskInstance]:
    """Running task instances whose last heartbeat (or start) is older than ``heartbeat_before``."""
    seen = func.coalesce(TaskInstance.last_heartbeat, TaskInstance.start_date, TaskInstance.updated_at)
    return list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.state == TI.RUNNING.value, seen < heartbeat_before)
            .order_by(seen)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )


def stale_queued(session: Session, *, queued_before: datetime, limit: int) -> list[TaskInstance]:
    """Queued task instances queued (or last sent) before ``queued_before``."""
    sent = func.coalesce(TaskInstance.queued_dttm, TaskInstance.updated_at)
    return list(
        session.scalars(
            select(TaskInstance)
            .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
            .where(TaskInstance.state == TI.QUEUED.value, sent < queued_before, DagRun.run_type != DagRunType.DAGS_TEST)
            .order_by(sent)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )


def stale_restarting(session: Session, *, heartbeat_before: datetime, limit: int) -> list[TaskInstance]:
    """Restarting task instances whose old try is gone: released by its worker, or silent since before
    ``heartbeat_before`` (its worker died, or fenced the try)."""
    seen = func.coalesce(TaskInstance.last_heartbeat, TaskInstance.updated_at)
    return list(
        session.scalars(
            select(TaskInstance)
            .where(
                TaskInstance.state == TI.RESTARTING.value, or_(TaskInstance.live_try.is_(None), seen < heartbeat_before)
            )
            .order_by(seen)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )


def mark_sent_again(session: Session, key: TIKey, try_number: int, *, sent_before: datetime, now: datetime) -> bool:
    """Refresh ``queued_dttm`` of a task instance still queued at ``try_number`` and last sent before
    ``sent_before`` — a compare-and-set, so of two schedulers only one sends it again."""
    sent = func.coalesce(TaskInstance.queued_dttm, TaskInstance.updated_at)
    return (
        rows_changed(
            session,
            update(TaskInstance)
            .where(
                TaskInstance.dag_id == key.dag_id,
                TaskInstance.run_id == key.run_id,
                TaskInstance.task_id == key.task_id,
                TaskInstance.map_index == key.map_index,
                TaskInstance.state == TI.QUEUED.value,
                TaskInstance.try_number == try_number,
                sent < sent_before,
            )
            .values(queued_dttm=now)
            .execution_options(synchronize_session=False),
        )
        == 1
    )
