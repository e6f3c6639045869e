"""DAG runs: create one with all its task instances at once, read them, and move a run's state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewind.errors import DagRunAlreadyExists, DagRunNotFound
from tradewind.metastore.column_limits import check_fits
from tradewind.metastore.models import DEFAULT_POOL, DagModel, DagRun, TaskInstance
from tradewind.metastore.statements import rows_changed
from tradewind.run_ids import check_logical_date, check_run_id
from tradewind.states import DagRunState, DagRunType, TaskInstanceState, can_transition_run

RUN_TYPES = frozenset(DagRunType)
_INSERT_TASK_INSTANCES = cast("Table", TaskInstance.__table__).insert()
_TASK_ROW_KEYS = frozenset(
    {"task_id", "map_index", "operator", "pool", "pool_slots", "queue", "priority_weight", "max_tries"}
)


def create_run(
    session: Session,
    *,
    dag_id: str,
    run_id: str,
    run_type: str,
    logical_date: datetime,
    data_interval: tuple[datetime, datetime] | None = None,
    conf: Mapping[str, Any] | None = None,
    state: DagRunState | str = DagRunState.QUEUED,
    external_trigger: bool = False,
    task_rows: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> DagRun:
    """Insert the run, then one task instance (state ``none``) per row of ``task_rows`` as plain
    rows in one executemany (a run of hundreds of tasks is no ORM object apiece).

    Raises ``InvalidInput`` for a run id or logical date no run may have (``run_ids``) or that does
    not fit its column, ``DagRunAlreadyExists`` if the DAG has a run with that run id or logical date. When
    that is found only by the flush (another process inserted the same run a moment ago), the
    session's transaction has been rolled back, so nothing of this run was written either way.
    """
    if run_type not in RUN_TYPES:
        raise ValueError(f"run_type must be one of {sorted(RUN_TYPES)}, not {run_type!r}")
    check_fits(DagRun, dag_id=dag_id, run_id=check_run_id(run_id))
    check_logical_date(logical_date)
    now = now or datetime.now(UTC)
    # Every row is checked before anything is written, so a bad row leaves nothing pending.
    task_instances = [_task_instance(dag_id, run_id, row, now) for row in task_rows]
    _refuse_duplicate_tasks(task_instances)
    _refuse_existing(session, dag_id, run_id, logical_date)
    state = DagRunState(state)
    start, end = data_interval if data_interval is not None else (None, None)
    run = DagRun(
        dag_id=dag_id,
        run_id=run_id,
        run_type=run_type,
        logical_date=logical_date,
        data_interval_start=start,
        data_interval_end=end,
        state=state.value,
        conf=dict(conf or {}),
        external_trigger=external_trigger,
        queued_at=now if state == DagRunState.QUEUED else None,
        start_date=now if state == DagRunState.RUNNING else None,
        updated_at=now,
    )
    session.add(run)
    try:
        session.flush()
    except IntegrityError as exc:
        raise DagRunAlreadyExists(
            f"DAG {dag_id!r} already has a run with run id {run_id!r} or logical date {logical_date.isoformat()}"
        ) from exc
    if task_instances:
        # Core on the table, one executemany of a statement built once (on PostgreSQL SQLAlchemy
        # sends it as multi-row INSERTs). The run is in: no other run's rows can be in the way.
        session.execute(_INSERT_TASK_INSTANCES, task_instances)
    return run


def _refuse_existing(session: Session, dag_id: str, run_id: str, logical_date: datetime) -> None:
    existing = find_run(session, dag_id, run_id=run_id, logical_date=logical_date)
    if existing is None:
        return
    if existing.run_id == run_id:
        raise DagRunAlreadyExists(f"DAG {dag_id!r} already has a run with run id {run_id!r}")
    raise DagRunAlreadyExists(
        f"DAG {dag_id!r} already has a run with logical date {logical_date.isoformat()} (run id {existing.run_id!r})"
    )


def _refuse_duplicate_tasks(task_instances: Sequence[Mapping[str, Any]]) -> None:
    seen: set[tuple[str, int]] = set()
    for ti in task_instances:
        key = (ti["task_id"], ti["map_index"])
        if key in seen:
            raise ValueError(f"task {key[0]!r} (map index {key[1]}) appears twice in the run's task rows")
        seen.add(key)


def _task_instance(dag_id: str, run_id: str, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The task instance row to insert for one of a new run's task rows (every row the same keys)."""
    unknown = set(row) - _TASK_ROW_KEYS
    if unknown:
        raise ValueError(f"unknown task row keys {sorted(unknown)} for task {row.get('task_id')!r}")
    return dict(
        dag_id=dag_id,
        run_id=run_id,
        task_id=row["task_id"],
        map_index=row.get("map_index", -1),
        state=TaskInstanceState.NONE.value,
        try_number=0,
        max_tries=row.get("max_tries", 0),
        operator=row.get("operator"),
        pool=row.get("pool") or DEFAULT_POOL,
        pool_slots=row.get("pool_slots", 1),
        queue=row.get("queue"),
        priority_weight=row.get("priority_weight", 1),
        updated_at=now,
    )


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).execution_options(populate_existing=True)
    ).one_or_none()
    if run is None:
        raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def get_run_and_fileloc(session: Session, dag_id: str, run_id: str) -> tuple[Row[Any], str | None]:
    """The run's row (every column, read-only) and the file of its DAG (``dags.get_fileloc``) in one
    round trip: what a worker reads about a try it claims."""
    found = session.execute(_RUN_AND_FILELOC, {"w_dag_id": dag_id, "w_run_id": run_id}).one_or_none()
    if found is None:
        raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return cast("Row[Any]", found), found.fileloc


_RUNS = cast("Table", DagRun.__table__)
#: Built once (the worker's claim runs it for every try; see ``task_instances``).
_RUN_AND_FILELOC = (
    select(*_RUNS.c, DagModel.fileloc)
    .outerjoin(DagModel, DagModel.dag_id == _RUNS.c.dag_id)
    .where(_RUNS.c.dag_id == bindparam("w_dag_id"), _RUNS.c.run_id == bindparam("w_run_id"))
)


def find_run(
    session: Session, dag_id: str, *, run_id: str | None = None, logical_date: datetime | None = None
) -> DagRun | None:
    """The DAG's run with that run id, else the one at that logical date, else None."""
    conditions = []
    if run_id is not None:
        conditions.append(DagRun.run_id == run_id)
    if logical_date is not None:
        conditions.append(DagRun.logical_date == logical_date)
    if not conditions:
        raise ValueError("find_run needs a run_id or a logical_date")
    query = select(DagRun).where(DagRun.dag_id == dag_id, or_(*conditions))
    found = session.scalars(query.execution_options(populate_existing=True)).all()
    return next((run for run in found if run.run_id == run_id), found[0] if found else None)


def delete_run(session: Session, run: DagRun) -> None:
    """Delete the run; the database cascades to its task instances, tries, XComs and logs."""
    session.delete(run)
    session.flush()


def list_runs(
    session: Session,
    dag_id: str,
    *,
    states: Iterable[DagRunState | str] | None = None,
    limit: int | None = None,
    newest_first: bool = True,
    logical_date_from: datetime | None = None,
    logical_date_to: datetime | None = None,
    excluded_run_types: Iterable[DagRunType | str] = (),
) -> list[DagRun]:
    """The DAG's runs ordered by logical date; the bounds on the logical date are inclusive."""
    query = select(DagRun).where(DagRun.dag_id == dag_id).execution_options(populate_existing=True)
    if states is not None:
        query = query.where(DagRun.state.in_([DagRunState(s).value for s in states]))
    if logical_date_from is not None:
        query = query.where(DagRun.logical_date >= logical_date_from)
    if logical_date_to is not None:
        query = query.where(DagRun.logical_date <= logical_date_to)
    excluded = [DagRunType(t).value for t in excluded_run_types]
    if excluded:
        query = query.where(DagRun.run_type.not_in(excluded))
    order = DagRun.logical_date.desc() if newest_first else DagRun.logical_date.asc()
    query = query.order_by(order, DagRun.id.desc() if newest_first else DagRun.id.asc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def latest_run(session: Session, dag_id: str) -> DagRun | None:
    """The run with the latest logical date, or None."""
    runs = list_runs(session, dag_id, limit=1)
    return runs[0] if runs else None


def set_run_state(session: Session, run: DagRun, target: DagRunState | str, *, now: datetime | None = None) -> bool:
    """Move ``run`` from the state it was read in to ``target``, only if it is still in that state.

    Raises ``ValueError`` for a move the state machine forbids. Returns whether this call made the
    change; either way ``run`` is refreshed to what the database now holds.
    """
    current, target = DagRunState(run.state), DagRunState(target)
    if not can_transition_run(current, target):
        raise ValueError(f"run {run.dag_id}/{run.run_id} cannot go from {current} to {target}")
    now = now or datetime.now(UTC)
    values: dict[str, Any] = {"state": target.value, "updated_at": now}
    if target == DagRunState.QUEUED:
        # A cleared run starts over, as in Airflow.
        values.update(queued_at=now, start_date=None, end_date=None, last_scheduling_decision=None)
    elif target == DagRunState.RUNNING:
        values.update(end_date=None)
        if current == DagRunState.QUEUED or run.start_date is None:
            values.update(start_date=now)
    else:
        values.update(end_date=now)
    changed = rows_changed(
        session,
        update(DagRun)
        .where(DagRun.id == run.id, DagRun.state == current.value)
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    session.refresh(run)
    return changed == 1


def set_note(session: Session, run: DagRun, note: str | None) -> None:
    """Write a person's note on the run (None removes it)."""
    run.note = note
    session.flush()
