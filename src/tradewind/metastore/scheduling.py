"""The scheduler's batch reads and row locks: which runs to examine, which task instances may be
queued, how many slots are taken, which DAGs are due for a new run, which task instances went stale.

Locks are ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several schedulers each take a disjoint
batch and none waits for another; SQLite ignores them (one scheduler runs there, held by a file
lock). Like every query module, nothing here commits or decides; the duties do that.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Row,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from tradewind.decisions.run_schedule import DEFAULT_MAX_ACTIVE_RUNS
from tradewind.metastore import pools, task_instances
from tradewind.metastore.models import DagModel, DagRun, TaskInstance
from tradewind.metastore.statements import is_postgres, rows_changed, upsert
from tradewind.metastore.task_instances import TIKey, no_live_try
from tradewind.states import ACTIVE_STATES, DagRunState, DagRunType
from tradewind.states import TaskInstanceState as TI

#: Any constant: the key of the PostgreSQL advisory lock around the queueing critical section.
QUEUEING_LOCK_KEY = 0x7472_6164_6577
#: Runs of `tradewind dags test` are driven by that command in its own process, never by a scheduler.


# --- DAGs -----------------------------------------------------------------------------------------


def active_dag_hashes(session: Session) -> dict[str, str | None]:
    """dag_id -> dag_hash of every active DAG."""
    rows = session.execute(select(DagModel.dag_id, DagModel.dag_hash).where(DagModel.is_active.is_(True)))
    return {dag_id: dag_hash for dag_id, dag_hash in rows}


def dag_hashes(session: Session, dag_ids: Collection[str]) -> dict[str, str | None]:
    """dag_id -> dag_hash of the named DAGs that exist and have been parsed."""
    if not dag_ids:
        return {}
    rows = session.execute(_DAG_HASHES, {"dag_ids": list(dag_ids)})
    return {dag_id: dag_hash for dag_id, dag_hash in rows}


_DAGS = cast("Table", DagModel.__table__)
_RUNS = cast("Table", DagRun.__table__)
_TIS = cast("Table", TaskInstance.__table__)
# The statements a worker's follow-up runs for every try are built once (see ``task_instances``).
_DAG_HASHES = select(_DAGS.c.dag_id, _DAGS.c.dag_hash).where(
    _DAGS.c.dag_id.in_(bindparam("dag_ids", expanding=True)), _DAGS.c.serialized.is_not(None)
)


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


def dag_id_lock_order(session: Session) -> Any:
    """The order DAG rows are locked in: by dag_id, compared as Python compares strings (code
    points), which is also how writers that take their locks row by row (a dataset event queueing
    its consumers) sort them. PostgreSQL's ``C`` collation compares bytes of UTF-8, the same order;
    a database's default collation (``en_US.utf8``) would not be."""
    return DagModel.dag_id.collate("C") if is_postgres(session) else DagModel.dag_id


def request_next_dagrun_check(session: Session, dag_ids: Collection[str], now: datetime) -> None:
    """Make the named DAGs due for the run-creation duty now (their structure or schedule changed)."""
    if not dag_ids:
        return
    # Rows locked in dag_id order first: two schedulers refreshing the same DAGs wait, never deadlock.
    locked = list(
        session.scalars(
            select(DagModel.dag_id)
            .where(DagModel.dag_id.in_(list(dag_ids)))
            .order_by(dag_id_lock_order(session))
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
            .order_by(dag_id_lock_order(session))
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
) -> tuple[list[DagRun], dict[str, str | None]]:
    """Up to ``limit`` queued or running runs of unpaused, active DAGs, locked for this transaction
    (runs another scheduler holds are skipped): the ``named`` ones first, then those whose last
    scheduling decision is not newer than ``decided_before``, least recently decided first. With
    them, read in the same statement, the stored hash of each of their DAGs that has been parsed
    (as ``dag_hashes`` answers it)."""
    base = _examinable_runs()
    rows: list[Row[DagRun, str | None, bool]] = []
    if named:
        rows = list(session.execute(_named_runs(), {"named": list(named), "limit": limit}))
    remaining = 0 if only_named else limit - len(rows)
    if remaining > 0:
        query = base.where(
            or_(DagRun.last_scheduling_decision.is_(None), DagRun.last_scheduling_decision <= decided_before)
        )
        if rows:
            query = query.where(DagRun.id.not_in([row[0].id for row in rows]))
        rows.extend(
            session.execute(
                query.order_by(DagRun.last_scheduling_decision.asc().nulls_first(), DagRun.logical_date).limit(
                    remaining
                )
            )
        )
    hashes = {run.dag_id: dag_hash for run, dag_hash, stored in rows if stored}
    return [row[0] for row in rows], hashes


@functools.cache
def _examinable_runs() -> Select[DagRun, str | None, bool]:
    """Queued or running runs of unpaused, active DAGs, locked (skipping those another scheduler holds)."""
    return (
        select(DagRun, DagModel.dag_hash, DagModel.serialized.is_not(None))
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


@functools.cache
def _named_runs() -> Select[DagRun, str | None, bool]:
    """``_examinable_runs`` of the named (dag_id, run_id) pairs (a worker's follow-up names its run)."""
    return (
        _examinable_runs()
        .where(tuple_(DagRun.dag_id, DagRun.run_id).in_(bindparam("named", expanding=True)))
        .order_by(DagRun.logical_date)
        .limit(bindparam("limit"))
    )


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
        session.execute(_MARK_DECIDED, {"run_pks": list(run_pks), "now": now})


_MARK_DECIDED = (
    _RUNS.update()
    .where(_RUNS.c.id.in_(bindparam("run_pks", expanding=True)))
    .values(last_scheduling_decision=bindparam("now"))
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
    return bool(session.scalar(_TRY_LOCK_QUEUEING))


_TRY_LOCK_QUEUEING = select(func.pg_try_advisory_xact_lock(QUEUEING_LOCK_KEY))


@dataclass(frozen=True)
class SlotUse:
    """Queued and running task instances of one task, and the pool slots they take."""

    dag_id: str
    task_id: str
    pool: str
    count: int
    slots: int


def slot_use_and_limits(session: Session) -> tuple[list[SlotUse], dict[str, int], dict[str, int]]:
    """What every queued or running task instance takes, grouped by task and pool; and each pool's
    slots and what deferred task instances hold of them (``pools.slot_limits``). One round trip:
    the queueing critical section reads both for every decision."""
    use: list[SlotUse] = []
    pool_rows: list[tuple[str, int, int]] = []
    for pool, count, slots, dag_id, task_id, kind in session.execute(_SLOT_USE_AND_LIMITS):
        if kind == "pool":
            pool_rows.append((pool, count, slots))
        else:
            use.append(SlotUse(dag_id, task_id, pool, int(count), int(slots)))
    return (use, *pools.limits_of(pool_rows))


# The pools' rows are ``pools.SLOT_LIMITS`` as it is, with the columns the task rows have after.
_SLOT_USE_AND_LIMITS = union_all(
    select(
        _TIS.c.pool,
        func.count(),
        func.coalesce(func.sum(_TIS.c.pool_slots), 0),
        _TIS.c.dag_id,
        _TIS.c.task_id,
        literal_column("'task'").label("kind"),
    )
    .where(_TIS.c.state.in_(sorted(s.value for s in ACTIVE_STATES)))
    .group_by(_TIS.c.dag_id, _TIS.c.task_id, _TIS.c.pool),
    pools.SLOT_LIMITS.add_columns(null(), null(), literal_column("'pool'")),
)


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
    params: dict[str, Any] = {"stale_before": live_stale_before, "limit": limit}
    skip = sorted(set(skip_pools))
    if skip:
        params["skip_pools"] = skip
    if run is not None:
        params["w_dag_id"], params["w_run_id"] = run
    return [
        Schedulable(
            key=TIKey(row.dag_id, row.run_id, row.task_id, row.map_index),
            try_number=row.try_number,
            priority_weight=row.priority_weight,
            pool=row.pool,
            pool_slots=row.pool_slots,
            queue=row.queue,
            logical_date=row.logical_date,
        )
        for row in session.execute(_schedulable_statement(bool(skip), run is not None), params)
    ]


@functools.cache
def _schedulable_statement(skipping_pools: bool, of_one_run: bool) -> Select[Any]:
    query = (
        select(
            _TIS.c.dag_id,
            _TIS.c.run_id,
            _TIS.c.task_id,
            _TIS.c.map_index,
            _TIS.c.try_number,
            _TIS.c.priority_weight,
            _TIS.c.pool,
            _TIS.c.pool_slots,
            _TIS.c.queue,
            _RUNS.c.logical_date,
        )
        .join(_RUNS, and_(_RUNS.c.dag_id == _TIS.c.dag_id, _RUNS.c.run_id == _TIS.c.run_id))
        .join(_DAGS, _DAGS.c.dag_id == _TIS.c.dag_id)
        .where(
            _TIS.c.state == TI.SCHEDULED.value,
            _RUNS.c.state == DagRunState.RUNNING.value,
            _RUNS.c.run_type != DagRunType.DAGS_TEST,
            _DAGS.c.is_paused.is_(False),
            no_live_try(bindparam("stale_before", type_=_TIS.c.last_heartbeat.type)),
        )
    )
    if skipping_pools:
        query = query.where(_TIS.c.pool.not_in(bindparam("skip_pools", expanding=True)))
    if of_one_run:
        query = query.where(_TIS.c.dag_id == bindparam("w_dag_id"), _TIS.c.run_id == bindparam("w_run_id"))
    return (
        query.order_by(
            _TIS.c.priority_weight.desc(),
            _RUNS.c.logical_date,
            _TIS.c.dag_id,
            _TIS.c.run_id,
            _TIS.c.map_index,
            _TIS.c.task_id,
        )
        .limit(bindparam("limit"))
        .with_for_update(of=_TIS, skip_locked=True)
    )


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
