"""The two writes a worker makes for every try, each in the caller's transaction:

- its **claim**: queued → running, the try's history row, no XCom left from earlier tries, and
  what the run tells the task's process;
- its **end**: running → the outcome's state, the rest of its log, and its history row.

On PostgreSQL each is one round trip: the compare-and-set ``UPDATE`` is a common table expression,
and the other writes (and the claim's read of the run) hang off what it returned, so they happen
only when it moved the row (data-modifying CTEs run once each, whether the outer query reads them
or not). On SQLite, the standalone metastore, the same writes go as separate statements. Both are
on every hand-off from one task to the next, where each round trip shows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    Row,
    Select,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from tradewind.errors import DagRunNotFound
from tradewind.metastore import logs, runs, task_instances, xcoms
from tradewind.metastore.models import DagModel, DagRun, TaskLog, TaskTry, XCom
from tradewind.metastore.statements import is_postgres
from tradewind.states import TaskInstanceState
from tradewind.ti_key import TIKey

_KEY = ("dag_id", "run_id", "task_id", "map_index")
#: The run's columns a claim reads (``RunOfClaim``).
_RUN_READ = (
    "run_type",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "conf",
    "start_date",
    "external_trigger",
)
_RUN_LABEL = "dag_run_"


@dataclass(frozen=True)
class RunOfClaim:
    """What a claimed try's process is told of its run, and where its DAG is defined."""

    run_type: str
    logical_date: datetime
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    conf: dict[str, Any] | None
    start_date: datetime | None
    external_trigger: bool
    fileloc: str | None


@dataclass(frozen=True)
class Claim:
    """A claimed try: the task instance as the claim left it (every column), and its run."""

    ti: Row[Any]
    run: RunOfClaim


def claim_try(
    session: Session, key: TIKey, try_number: int, *, now: datetime, stale_before: datetime, hostname: str, pid: int
) -> Claim | None:
    """queued → running for try ``try_number``, only when no earlier try may still have a process
    alive (``task_instances.no_live_try``): the try's heartbeat starts now and it becomes the live
    try. A try resumed after a deferral keeps the start of its first part and the XCom it pushed
    before it deferred (as Airflow does); any other try starts with none of its own. None when the
    task instance was not there to claim (nothing is written then). Raises ``DagRunNotFound`` when
    its run is gone (the caller's transaction must then be rolled back)."""
    if try_number < 1:
        raise ValueError(f"{key.dag_id}/{key.run_id}/{key.task_id} has no try {try_number} to claim")
    params = {
        **task_instances.key_params(key),
        "w_try": try_number,
        "stale_before": stale_before,
        "now": now,
        "hostname": hostname,
        "pid": pid,
    }
    if is_postgres(session):
        found = session.execute(_claim_in_one_statement(), params).one_or_none()
        task_instances.expire_cached(session, [key])
        if found is None:
            return None
        if found.dag_run_id is None:
            raise DagRunNotFound(f"DAG {key.dag_id!r} has no run {key.run_id!r}")
        run = RunOfClaim(**{name: getattr(found, _RUN_LABEL + name) for name in _RUN_READ}, fileloc=found.fileloc)
        return Claim(ti=found, run=run)
    row = session.execute(task_instances.claim_statement(), params).one_or_none()
    task_instances.expire_cached(session, [key])
    if row is None:
        return None
    task_instances.record_try(session, row)
    if row.next_method is None:
        xcoms.clear_xcoms(session, key)
    run_row, fileloc = runs.get_run_and_fileloc(session, key.dag_id, key.run_id)
    return Claim(ti=row, run=RunOfClaim(**{name: getattr(run_row, name) for name in _RUN_READ}, fileloc=fileloc))


@functools.cache
def _claim_in_one_statement() -> Select[Any]:
    claimed = task_instances.claim_statement().cte("claimed")
    try_table, xcom_table = cast("Table", TaskTry.__table__), cast("Table", XCom.__table__)
    copied = [*_KEY, "try_number", *task_instances.TRY_COPIED]
    recorded = pg_insert(try_table).from_select(copied, select(*(claimed.c[name] for name in copied)))
    recorded_cte = recorded.on_conflict_do_update(
        index_elements=task_instances.TRY_PK,
        set_={name: recorded.excluded[name] for name in task_instances.TRY_COPIED},
    ).cte("recorded")
    cleared = (
        xcom_table.delete()
        .where(*(xcom_table.c[name] == claimed.c[name] for name in _KEY), claimed.c.next_method.is_(None))
        .cte("cleared")
    )
    run_table, dag_table = cast("Table", DagRun.__table__), cast("Table", DagModel.__table__)
    return (
        select(
            claimed,
            run_table.c.id.label(_RUN_LABEL + "id"),
            *(run_table.c[name].label(_RUN_LABEL + name) for name in _RUN_READ),
            dag_table.c.fileloc,
        )
        .select_from(
            claimed.outerjoin(
                run_table, and_(run_table.c.dag_id == claimed.c.dag_id, run_table.c.run_id == claimed.c.run_id)
            ).outerjoin(dag_table, dag_table.c.dag_id == claimed.c.dag_id)
        )
        .add_cte(recorded_cte, cleared)
    )


def end_try(
    session: Session,
    key: TIKey,
    try_number: int,
    *,
    state: TaskInstanceState | str,
    fields: Mapping[str, Any],
    history: Mapping[str, Any],
    log_chunks: Sequence[tuple[int, str]],
    now: datetime,
) -> bool:
    """running → ``state`` with ``fields`` set and the try no longer live, only while try
    ``try_number`` is the task instance's running one (compare-and-set); and only then, the
    ``(seq, text)`` log chunks appended to the try's log and ``history`` set on its history row.
    ``fields`` must be plain values. Returns whether the try's end was written; when it was not,
    nothing was."""
    if not is_postgres(session):
        ended = task_instances.transition(
            session,
            key,
            expected_state=TaskInstanceState.RUNNING,
            target_state=state,
            expected_try=try_number,
            now=now,
            **fields,
            live_try=None,
        )
        if ended:
            logs.append_log_chunks(session, key, try_number, log_chunks, now=now)
            task_instances.update_try(session, key, try_number, **history)
        return ended
    update, params = task_instances.cas_update(
        key, TaskInstanceState.RUNNING, state, try_number, now=now, **fields, live_try=None
    )
    params.update({f"h_{name}": value for name, value in history.items()})
    params.update(l_seqs=[seq for seq, _ in log_chunks], l_contents=[text for _, text in log_chunks], l_created_at=now)
    ended = session.execute(_end_in_one_statement(update, tuple(history)), params).scalar_one()
    task_instances.expire_cached(session, [key])
    return bool(ended)


@functools.cache
def _end_in_one_statement(update: Update, history: tuple[str, ...]) -> Select[Any]:
    """``update`` with the log's insert and the history row's update hanging off it. Cached by the
    ``Update`` object itself: ``cas_update`` builds one per set of fields, once (its own cache is
    never cleared)."""
    ended = update.returning(literal_column("1").label("one")).cte("ended")
    log_table, try_table = cast("Table", TaskLog.__table__), cast("Table", TaskTry.__table__)
    chunks = (
        func.unnest(bindparam("l_seqs", type_=ARRAY(Integer)), bindparam("l_contents", type_=ARRAY(Text)))
        .table_valued("seq", "content")
        .render_derived(name="chunk")
    )
    logged = (
        log_table.insert()
        .from_select(
            [*_KEY, "try_number", "seq", "content", "created_at"],
            select(
                *(bindparam(f"w_{name}", type_=log_table.c[name].type) for name in _KEY),
                bindparam("w_try", type_=log_table.c.try_number.type),
                chunks.c.seq,
                chunks.c.content,
                bindparam("l_created_at", type_=log_table.c.created_at.type),
            ).select_from(ended.join(chunks, true())),
        )
        .cte("logged")
    )
    recorded = (
        try_table.update()
        .where(*task_instances.key_where(try_table), try_table.c.try_number == bindparam("w_try"))
        .where(select(ended.c.one).exists())
        .values({name: bindparam(f"h_{name}", type_=try_table.c[name].type) for name in history})
        .cte("recorded")
    )
    return select(func.count()).select_from(ended).add_cte(logged, recorded)
