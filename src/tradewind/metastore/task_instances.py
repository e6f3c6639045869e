"""Task instances: reads, the one compare-and-set that changes their state, and the history of tries.

Every state change of a task instance goes through ``transition`` (or ``transition_many``): it
checks ``states.can_transition`` and updates the row only if it still holds the state (and try)
the caller read, so two schedulers or two workers racing cannot both win.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Row,
    String,
    Table,
    Update,
    any_,
    bindparam,
    case,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import ClauseElement

from tradewind.metastore.models import TaskInstance, TaskTry
from tradewind.metastore.statements import is_postgres, rows_changed, upsert
from tradewind.states import TaskInstanceState, can_transition
from tradewind.ti_key import TIKey

_KEY_COLUMNS = frozenset({"dag_id", "run_id", "task_id", "map_index"})
_SETTABLE = frozenset(TaskInstance.__table__.columns.keys()) - _KEY_COLUMNS - {"state", "updated_at"}
#: The task instance's columns its try's history row copies (``record_try``).
TRY_COPIED = (
    "state",
    "queued_dttm",
    "start_date",
    "end_date",
    "duration",
    "hostname",
    "pid",
    "operator",
    "rendered_fields",
)
#: The history table's key: a task instance's key and the try number.
TRY_PK = ["dag_id", "run_id", "task_id", "map_index", "try_number"]


#: (task_id, map_index, expected_state, target_state, fields)
Change = tuple[str, int, TaskInstanceState | str, TaskInstanceState | str, Mapping[str, Any]]


def get_tis(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    """The run's task instances as the database holds them now, by task and map index."""
    return list(session.scalars(_run_tis_statement(), {"w_dag_id": dag_id, "w_run_id": run_id}))


def planning_rows(session: Session, dag_id: str, run_id: str) -> list[Row[Any]]:
    """What planning a run reads of each of its task instances (task_id, map_index, state,
    try_number, max_tries, retry_at, next_poke_at): light rows, not ORM objects — a follow-up reads
    them for every try, of runs of hundreds of task instances."""
    return list(session.execute(_planning_statement(), {"w_dag_id": dag_id, "w_run_id": run_id}))


def get_ti(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance | None:
    """The row as the database holds it now (not a copy cached in the session)."""
    return session.scalars(
        select(TaskInstance)
        .where(*_where(TIKey(dag_id, run_id, task_id, map_index)))
        .execution_options(populate_existing=True)
    ).one_or_none()


def transition(
    session: Session,
    key: TIKey,
    *,
    expected_state: TaskInstanceState | str,
    target_state: TaskInstanceState | str,
    expected_try: int | None = None,
    manual: bool = False,
    now: datetime | None = None,
    only_if: ColumnElement[bool] | None = None,
    **fields: Any,
) -> bool:
    """Move one task instance from ``expected_state`` to ``target_state`` and set ``fields``, only
    if the row is still in ``expected_state`` (and at ``expected_try`` when given, and ``only_if``
    holds when given).

    Raises ``ValueError`` for a transition the state machine forbids, ``TypeError`` for a field
    that is not a settable column. Returns whether this call changed the row.
    """
    if only_if is None and not any(_is_expression(value) for value in fields.values()):
        statement, params = cas_update(
            key, expected_state, target_state, expected_try, now=now, manual=manual, **fields
        )
        changed = rows_changed(session, statement, params)
    else:
        statement = _transition_statement(key, expected_state, target_state, expected_try, manual, now, only_if, fields)
        changed = rows_changed(session, statement)
    expire_cached(session, [key])
    return changed == 1


def cas_update(
    key: TIKey,
    expected_state: TaskInstanceState | str,
    target_state: TaskInstanceState | str,
    expected_try: int | None,
    *,
    now: datetime | None = None,
    manual: bool = False,
    **fields: Any,
) -> tuple[Update, dict[str, Any]]:
    """``transition``'s compare-and-set UPDATE (built once per set of fields) and its parameters,
    for plain values only; checked against the state machine as ``transition`` checks it."""
    expected, target = _checked(expected_state, target_state, manual)
    values = _values(fields, target, now)
    params = {**key_params(key), "w_state": expected.value, **_value_params(values)}
    if expected_try is not None:
        params["w_try"] = expected_try
    return _cas_update(tuple(values), expected_try is not None), params


def _transition_statement(
    key: TIKey,
    expected_state: TaskInstanceState | str,
    target_state: TaskInstanceState | str,
    expected_try: int | None,
    manual: bool,
    now: datetime | None,
    only_if: ColumnElement[bool] | None,
    fields: dict[str, Any],
) -> Update:
    expected, target = _checked(expected_state, target_state, manual)
    values = _values(fields, target, now)
    statement = update(TaskInstance).where(*_where(key), TaskInstance.state == expected.value)
    if expected_try is not None:
        statement = statement.where(TaskInstance.try_number == expected_try)
    if only_if is not None:
        statement = statement.where(only_if)
    return statement.values(**values).execution_options(synchronize_session=False)


def transition_many(
    session: Session,
    dag_id: str,
    run_id: str,
    changes: Sequence[Change],
    *,
    manual: bool = False,
    now: datetime | None = None,
) -> int:
    """Apply many compare-and-set transitions in one run; returns how many rows changed.

    Changes with the same expected state, target state and fields go in one UPDATE. Every
    transition is checked before anything is written.
    """
    now = now or datetime.now(UTC)
    groups: dict[Hashable, list[tuple[str, int]]] = defaultdict(list)
    payloads: dict[Hashable, tuple[TaskInstanceState, dict[str, Any]]] = {}
    for index, (task_id, map_index, expected_state, target_state, fields) in enumerate(changes):
        expected, target = _checked(expected_state, target_state, manual)
        values = _values(fields, target, now)
        group = _group_key(expected, values, index)
        groups[group].append((task_id, map_index))
        payloads[group] = (expected, values)
    changed = 0
    for group, tis in groups.items():
        expected, values = payloads[group]
        params = {"w_dag_id": dag_id, "w_run_id": run_id, "w_state": expected.value, "w_rows": tis}
        changed += rows_changed(session, _cas_update_rows(tuple(values), False), {**params, **_value_params(values)})
    expire_cached(session, [TIKey(dag_id, run_id, task_id, map_index) for task_id, map_index, *_ in changes])
    return changed


#: (key, expected_try, expected_state, target_state, fields)
KeyedChange = tuple[TIKey, int, TaskInstanceState | str, TaskInstanceState | str, Mapping[str, Any]]


def transition_each(
    session: Session,
    changes: Sequence[KeyedChange],
    *,
    manual: bool = False,
    now: datetime | None = None,
) -> list[TIKey]:
    """Many compare-and-set transitions, each on its own key *and try*, across runs; returns the keys
    this call moved (the others were no longer in the expected state and try).

    Changes with the same run, states and fields go in one UPDATE … RETURNING, so the caller learns
    exactly which task instances it won (the scheduler sends a message only for those).
    """
    now = now or datetime.now(UTC)
    groups: dict[Hashable, list[tuple[str, int, int]]] = defaultdict(list)
    payloads: dict[Hashable, tuple[str, str, TaskInstanceState, dict[str, Any]]] = {}
    for index, (key, expected_try, expected_state, target_state, fields) in enumerate(changes):
        expected, target = _checked(expected_state, target_state, manual)
        values = _values(fields, target, now)
        run_group = (key.dag_id, key.run_id, _group_key(expected, values, index))
        groups[run_group].append((key.task_id, key.map_index, expected_try))
        payloads[run_group] = (key.dag_id, key.run_id, expected, values)
    moved: list[TIKey] = []
    for group, rows in groups.items():
        dag_id, run_id, expected, values = payloads[group]
        params = {"w_dag_id": dag_id, "w_run_id": run_id, "w_state": expected.value, "w_rows": rows}
        result = session.execute(_cas_update_rows(tuple(values), True), {**params, **_value_params(values)})
        moved.extend(TIKey(dag_id, run_id, task_id, map_index) for task_id, map_index in result.all())
    expire_cached(session, [key for key, *_ in changes])
    return moved


# --- the try whose processes may still be alive ------------------------------------------------------


def no_live_try(stale_before: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """True for a task instance no earlier try of which may still have a process alive: none is
    recorded as live, or the live one's worker has not heartbeated since ``stale_before`` (a worker
    that cannot heartbeat kills its own tries well within the zombie threshold)."""
    return or_(
        TaskInstance.live_try.is_(None),
        TaskInstance.last_heartbeat.is_(None),
        TaskInstance.last_heartbeat < stale_before,
    )


def heartbeat_try(session: Session, key: TIKey, try_number: int, *, now: datetime) -> tuple[str, int] | None:
    """Refresh the heartbeat of try ``try_number`` while its processes may be alive (whatever the
    task instance's state: a try being stopped keeps heartbeating until its processes are gone).
    Returns the task instance's (state, try number), or None when the try is no longer the live one."""
    row = session.execute(
        update(TaskInstance)
        .where(*_where(key), TaskInstance.live_try == try_number)
        .values(last_heartbeat=now)
        .returning(TaskInstance.state, TaskInstance.try_number)
        .execution_options(synchronize_session=False)
    ).first()
    expire_cached(session, [key])
    return (str(row[0]), int(row[1])) if row is not None else None


def release_try(session: Session, key: TIKey, try_number: int) -> bool:
    """Every process of try ``try_number`` is gone: another try may be queued and claimed."""
    changed = rows_changed(
        session,
        update(TaskInstance)
        .where(*_where(key), TaskInstance.live_try == try_number)
        .values(live_try=None)
        .execution_options(synchronize_session=False),
    )
    expire_cached(session, [key])
    return changed == 1


def record_try(session: Session, ti_row: TaskInstance | Row[Any], *, error: str | None = None) -> None:
    """Copy the task instance's current try into its history (insert or update that try's row)."""
    if ti_row.try_number < 1:
        raise ValueError(f"{ti_row.dag_id}/{ti_row.run_id}/{ti_row.task_id} has not started a try yet")
    values = {name: getattr(ti_row, name) for name in TRY_COPIED}
    update_columns = list(values) + (["error"] if error is not None else [])
    row = {**_key_values(ti_row), "try_number": ti_row.try_number, **values, "error": error}
    upsert(session, TaskTry, row, conflict_on=TRY_PK, update=update_columns)


def states_of(session: Session, dag_id: str, run_id: str, task_ids: Sequence[str]) -> dict[str, list[str]]:
    """task_id -> the states of its task instances in the run (one light query, no ORM rows)."""
    found: dict[str, list[str]] = {}
    rows = session.execute(
        _states_statement(is_postgres(session)), {"w_dag_id": dag_id, "w_run_id": run_id, "w_task_ids": list(task_ids)}
    )
    for task_id, state in rows:
        found.setdefault(task_id, []).append(state)
    return found


def one_not_in_state(session: Session, dag_id: str, run_id: str, task_ids: Sequence[str], state: str) -> str | None:
    """The task id of one task instance of ``task_ids`` in the run that is in another state than
    ``state``; None when there is none (one row at most is read: a follow-up asks this of a fan-in
    of hundreds for every try)."""
    params = {"w_dag_id": dag_id, "w_run_id": run_id, "w_task_ids": list(task_ids), "w_state": state}
    row = session.execute(_not_in_state_statement(is_postgres(session)), params).first()
    return None if row is None else str(row.task_id)


def update_try(session: Session, key: TIKey, try_number: int, **values: Any) -> None:
    """Set columns of one try's history row (which ``record_try`` created when the try started)."""
    session.execute(_try_update(tuple(values)), {**key_params(key), "w_try": try_number, **_value_params(values)})


def set_rendered_fields(session: Session, key: TIKey, try_number: int, rendered: Mapping[str, Any]) -> None:
    """Store a try's rendered template values on the task instance (while that try is current) and
    in the try's history row."""
    session.execute(
        update(TaskInstance)
        .where(*_where(key), TaskInstance.try_number == try_number)
        .values(rendered_fields=dict(rendered))
        .execution_options(synchronize_session=False)
    )
    expire_cached(session, [key])
    upsert(
        session,
        TaskTry,
        {**_key_values(key), "try_number": try_number, "rendered_fields": dict(rendered)},
        conflict_on=TRY_PK,
        update=["rendered_fields"],
    )


def list_tries(session: Session, key: TIKey) -> list[TaskTry]:
    """The task instance's recorded tries, oldest first."""
    return list(
        session.scalars(
            select(TaskTry)
            .where(
                TaskTry.dag_id == key.dag_id,
                TaskTry.run_id == key.run_id,
                TaskTry.task_id == key.task_id,
                TaskTry.map_index == key.map_index,
            )
            .order_by(TaskTry.try_number)
            .execution_options(populate_existing=True)
        )
    )


def _checked(
    expected_state: TaskInstanceState | str, target_state: TaskInstanceState | str, manual: bool
) -> tuple[TaskInstanceState, TaskInstanceState]:
    expected, target = TaskInstanceState(expected_state), TaskInstanceState(target_state)
    if not can_transition(expected, target, manual=manual):
        hint = ""
        if not manual and can_transition(expected, target, manual=True):
            hint = " (only a person's clear or mark may: manual=True)"
        raise ValueError(f"a task instance cannot go from {expected} to {target}{hint}")
    return expected, target


def _values(fields: Mapping[str, Any], target: TaskInstanceState, now: datetime | None) -> dict[str, Any]:
    unknown = set(fields) - _SETTABLE
    if unknown:
        raise TypeError(f"cannot set {sorted(unknown)} on a task instance; settable: {sorted(_SETTABLE)}")
    return {**fields, "state": target.value, "updated_at": now or datetime.now(UTC)}


def _group_key(expected: TaskInstanceState, values: Mapping[str, Any], index: int) -> Hashable:
    key = (expected, tuple(sorted(values.items())))
    try:
        hash(key)
    except TypeError:
        # A dict or list value (rendered_fields) cannot be grouped by; it gets its own statement.
        return ("unhashable", index)
    return key


# --- statements built once ----------------------------------------------------------------------------
# The hot path (a worker's claim, a try's end, a follow-up) runs the same few statements for every
# try: each is built once, on the table, with bind parameters (w_*: which row and what it must
# hold; v_*: the values set), so a call costs the round trip, not building and caching a statement.

_TI = cast("Table", TaskInstance.__table__)
_TRY = cast("Table", TaskTry.__table__)


def key_params(key: TIKey) -> dict[str, Any]:
    """The bind parameters ``key_where`` compares a table's key columns with."""
    return {"w_dag_id": key.dag_id, "w_run_id": key.run_id, "w_task_id": key.task_id, "w_map_index": key.map_index}


def _value_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The bind parameters of the values a built-once statement sets (plain values only)."""
    expressions = sorted(name for name, value in values.items() if _is_expression(value))
    if expressions:
        raise TypeError(f"{expressions} must be values, not SQL expressions, in a batch transition")
    return {f"v_{name}": value for name, value in values.items()}


def _is_expression(value: Any) -> bool:
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def key_where(table: Any) -> tuple[Any, ...]:
    """A built-once statement's condition on a task instance's key columns (of any table that has
    them: XCom, logs, tries), bound by ``key_params``."""
    return (
        *_run_where(table),
        table.c.task_id == bindparam("w_task_id"),
        table.c.map_index == bindparam("w_map_index"),
    )


def _run_where(table: Any) -> tuple[Any, ...]:
    """The condition on a run's columns (``w_dag_id``, ``w_run_id``)."""
    return table.c.dag_id == bindparam("w_dag_id"), table.c.run_id == bindparam("w_run_id")


@functools.cache
def _run_tis_statement() -> Any:
    return (
        select(TaskInstance)
        .where(*_run_where(_TI))
        .order_by(TaskInstance.task_id, TaskInstance.map_index)
        .execution_options(populate_existing=True)
    )


@functools.cache
def _planning_statement() -> Any:
    return (
        select(
            _TI.c.task_id,
            _TI.c.map_index,
            _TI.c.state,
            _TI.c.try_number,
            _TI.c.max_tries,
            _TI.c.retry_at,
            _TI.c.next_poke_at,
        )
        .where(*_run_where(_TI))
        .order_by(_TI.c.task_id, _TI.c.map_index)
    )


@functools.cache
def _cas_update(fields: tuple[str, ...], with_try: bool) -> Update:
    """The compare-and-set UPDATE of ``transition`` that sets ``fields``."""
    statement = _TI.update().where(*key_where(_TI), _TI.c.state == bindparam("w_state"))
    if with_try:
        statement = statement.where(_TI.c.try_number == bindparam("w_try"))
    return statement.values({name: bindparam(f"v_{name}") for name in fields})


@functools.cache
def claim_statement() -> Update:
    """queued → running for try ``w_try`` while no earlier try may have a process alive
    (``no_live_try``), returning every column (``try_writes.claim_try`` runs it)."""
    now = bindparam("now", type_=_TI.c.start_date.type)
    return (
        _TI.update()
        .where(
            *key_where(_TI),
            _TI.c.state == TaskInstanceState.QUEUED.value,
            _TI.c.try_number == bindparam("w_try"),
            no_live_try(bindparam("stale_before", type_=_TI.c.last_heartbeat.type)),
        )
        .values(
            state=TaskInstanceState.RUNNING.value,
            start_date=case((_TI.c.next_method.is_(None), now), else_=_TI.c.start_date),
            end_date=None,
            duration=None,
            hostname=bindparam("hostname"),
            pid=bindparam("pid"),
            last_heartbeat=now,
            live_try=bindparam("w_try"),
            updated_at=now,
        )
        .returning(*_TI.c)
    )


@functools.cache
def _cas_update_rows(fields: tuple[str, ...], with_try: bool) -> Update:
    """The UPDATE of ``transition_many`` (``with_try``: ``transition_each``, which returns the rows it moved)."""
    columns = (_TI.c.task_id, _TI.c.map_index, _TI.c.try_number) if with_try else (_TI.c.task_id, _TI.c.map_index)
    statement = (
        _TI.update()
        .where(
            *_run_where(_TI),
            _TI.c.state == bindparam("w_state"),
            tuple_(*columns).in_(bindparam("w_rows", expanding=True)),
        )
        .values({name: bindparam(f"v_{name}") for name in fields})
    )
    return statement.returning(_TI.c.task_id, _TI.c.map_index) if with_try else statement


@functools.cache
def _states_statement(postgres: bool) -> Any:
    # On PostgreSQL the task ids are one array parameter (``= ANY``): an expanding ``IN`` is
    # rendered anew for each list, which for a fan-in of hundreds cost more than the query.
    task_ids = bindparam("w_task_ids", type_=ARRAY(String)) if postgres else bindparam("w_task_ids", expanding=True)
    in_task_ids = _TI.c.task_id == any_(task_ids) if postgres else _TI.c.task_id.in_(task_ids)
    return select(_TI.c.task_id, _TI.c.state).where(*_run_where(_TI), in_task_ids)


@functools.cache
def _not_in_state_statement(postgres: bool) -> Any:
    return _states_statement(postgres).where(_TI.c.state != bindparam("w_state")).limit(1)


@functools.cache
def _try_update(fields: tuple[str, ...]) -> Update:
    return (
        _TRY.update()
        .where(*key_where(_TRY), _TRY.c.try_number == bindparam("w_try"))
        .values({name: bindparam(f"v_{name}") for name in fields})
    )


def _where(key: TIKey) -> tuple[Any, ...]:
    return (
        TaskInstance.dag_id == key.dag_id,
        TaskInstance.run_id == key.run_id,
        TaskInstance.task_id == key.task_id,
        TaskInstance.map_index == key.map_index,
    )


def _key_values(key: TIKey | TaskInstance | Row[Any]) -> dict[str, Any]:
    return {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id, "map_index": key.map_index}


def expire_cached(session: Session, keys: Sequence[TIKey]) -> None:
    """Core UPDATEs bypass the session's objects: expire any loaded copy so it reloads from the row."""
    for key in keys:
        cached = session.identity_map.get(
            identity_key(TaskInstance, (key.dag_id, key.run_id, key.task_id, key.map_index))
        )
        if cached is not None:
            session.expire(cached)


def set_note(session: Session, ti: TaskInstance, note: str | None) -> None:
    """Write a person's note on the task instance (None removes it)."""
    ti.note = note
    session.flush()
