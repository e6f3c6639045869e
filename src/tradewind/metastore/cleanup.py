"""The SQL of ``tradewind db clean``: which rows of a history table are old enough to go (see
``tradewind.retention``), counted, or deleted one batch at a time.

A batch is chosen in primary-key order from where the previous one stopped, so a table is read
once however many batches it takes. On PostgreSQL the batch's rows are locked ``FOR UPDATE SKIP
LOCKED`` (for a run's own rows, the run's row too): rows a scheduler, a worker or a person's action
holds are passed over, never waited for. On SQLite the batch takes the file's write lock first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, delete, exists, func, or_, select, text, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tradewind.metastore import jobs, workers
from tradewind.metastore.models import Base, DagFile, DagRun, TaskInstance
from tradewind.retention import CleanPlan, CleanTable
from tradewind.states import UNFINISHED_STATES, DagRunState

#: How long a batch may wait for a row lock it cannot skip (a deleted run's task instance another
#: transaction holds) before it gives up, so neither side waits on the other for long.
LOCK_TIMEOUT_MS = 5000
#: Keys per DELETE statement: SQLite allows 32,766 bound values, and a key has up to five columns.
_KEYS_PER_STATEMENT = 500
#: Tables whose rows belong to a run (ON DELETE CASCADE from dag_run).
_RUN_ROWS = frozenset({"task_log", "xcom", "task_try", "task_instance"})

_ACTIVE_RUN_STATES = [DagRunState.QUEUED.value, DagRunState.RUNNING.value]
_UNFINISHED_TI_STATES = sorted(state.value for state in UNFINISHED_STATES)

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Batch:
    """What one batch deleted, and where the next one starts."""

    deleted: int
    #: The last key the batch chose; None when it chose nothing.
    last_key: Key | None
    #: No old row is left past ``last_key`` (other than those another transaction held).
    done: bool


def _kept_run(run: FromClause) -> ColumnElement[bool]:
    """Runs kept with all their rows: queued or running ones, finished ones a task instance of which
    has not finished or still has a try whose processes a worker is stopping (that worker may still
    be writing to it), and each DAG's latest scheduled run (its schedule continues from it)."""
    unfinished = TaskInstance.__table__.alias("unfinished_ti")
    has_unfinished = exists().where(
        unfinished.c.dag_id == run.c.dag_id,
        unfinished.c.run_id == run.c.run_id,
        or_(unfinished.c.state.in_(_UNFINISHED_TI_STATES), unfinished.c.live_try.is_not(None)),
    )
    newer = DagRun.__table__.alias("newer_run")
    latest_scheduled = and_(
        run.c.run_type == "scheduled",
        ~exists().where(
            newer.c.dag_id == run.c.dag_id, newer.c.run_type == "scheduled", newer.c.logical_date > run.c.logical_date
        ),
    )
    return or_(run.c.state.in_(_ACTIVE_RUN_STATES), has_unfinished, latest_scheduled)


def _no_guard(rows: FromClause, plan: CleanPlan) -> list[ColumnElement[bool]]:
    return []


def _unkept_run(rows: FromClause, plan: CleanPlan) -> list[ColumnElement[bool]]:
    return [~_kept_run(rows)]


def _file_gone(rows: FromClause, plan: CleanPlan) -> list[ColumnElement[bool]]:
    files = DagFile.__table__
    return [~exists().where(files.c.filename == rows.c.filename)]


def _job_ended_or_dead(rows: FromClause, plan: CleanPlan) -> list[ColumnElement[bool]]:
    return [or_(rows.c.state != jobs.RUNNING, rows.c.latest_heartbeat < plan.alive_since)]


def _worker_gone(rows: FromClause, plan: CleanPlan) -> list[ColumnElement[bool]]:
    return [or_(rows.c.state != workers.ONLINE, rows.c.last_heartbeat < plan.alive_since)]


def _dag_inactive(rows: FromClause, plan: CleanPlan) -> list[ColumnElement[bool]]:
    return [rows.c.is_active.is_(False)]


#: tradewind table -> what, besides its age, a row must satisfy to be deleted. A run's own rows
#: (``_RUN_ROWS``) also go only when dag_run would not keep their run.
GUARDS: dict[str, Callable[[FromClause, CleanPlan], list[ColumnElement[bool]]]] = {
    "task_log": _no_guard,
    "xcom": _no_guard,
    "task_try": _no_guard,
    "task_instance": _no_guard,
    "dag_run": _unkept_run,
    "audit_log": _no_guard,
    "import_error": _file_gone,
    "job": _job_ended_or_dead,
    "worker": _worker_gone,
    "dag": _dag_inactive,
}


def _old_rows(table: CleanTable, plan: CleanPlan) -> tuple[Select[Any], FromClause, list[FromClause]]:
    """The SELECT of the old rows' keys, the aliased table it reads, and the tables to lock."""
    rows = Base.metadata.tables[table.table].alias("candidate")
    query = select(*_key_columns(rows, table)).select_from(rows).where(rows.c[table.age_column] < plan.before)
    locked: list[Any] = [rows]
    if table.table in _RUN_ROWS:
        run = DagRun.__table__.alias("run")
        query = query.join(run, and_(run.c.dag_id == rows.c.dag_id, run.c.run_id == rows.c.run_id))
        query = query.where(~_kept_run(run))
        locked.append(run)
    return query.where(*GUARDS[table.table](rows, plan)), rows, locked


def count_old_rows(session: Session, table: CleanTable, plan: CleanPlan) -> int:
    """How many rows of ``table`` the plan would delete now."""
    query, _, _ = _old_rows(table, plan)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def delete_old_rows(session: Session, table: CleanTable, plan: CleanPlan, *, after: Key | None) -> Batch:
    """Delete up to ``plan.batch_size`` old rows of ``table`` whose key comes after ``after``.

    Call it first thing in a transaction of its own: on SQLite it opens the transaction itself,
    taking the write lock before it reads, so nothing can change between choosing and deleting.
    """
    query, rows, locked = _old_rows(table, plan)
    keys = _key_columns(rows, table)
    if after is not None:
        query = query.where(_key_after(keys, after))
    query = query.order_by(*keys).limit(plan.batch_size)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
        query = query.with_for_update(of=locked, skip_locked=True)
    else:
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    chosen = [tuple(row) for row in session.execute(query)]
    target = Base.metadata.tables[table.table]
    deleted = 0
    for start in range(0, len(chosen), _KEYS_PER_STATEMENT):
        part = chosen[start : start + _KEYS_PER_STATEMENT]
        result: Any = session.execute(delete(target).where(_key_in(_key_columns(target, table), part)))
        deleted += result.rowcount
    return Batch(deleted=deleted, last_key=chosen[-1] if chosen else None, done=len(chosen) < plan.batch_size)


def _key_columns(rows: FromClause, table: CleanTable) -> list[Any]:
    """The primary key's columns, in the table's order, of ``rows`` (the table or an alias of it)."""
    return [rows.c[column.name] for column in Base.metadata.tables[table.table].primary_key.columns]


def _key_after(columns: Sequence[Any], key: Key) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0] > key[0]
    return tuple_(*columns) > tuple_(*key)


def _key_in(columns: Sequence[Any], keys: Sequence[Key]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in keys])
    return tuple_(*columns).in_(keys)


def is_lock_timeout(exc: DBAPIError) -> bool:
    """Whether a batch failed because a row it needed stayed locked (PostgreSQL's lock_timeout,
    SQLite's busy timeout) rather than for a reason running again would not cure."""
    original = getattr(exc, "orig", None)
    if getattr(original, "pgcode", None) == "55P03":
        return True
    return "database is locked" in str(original)
