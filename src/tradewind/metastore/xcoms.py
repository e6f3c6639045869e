"""XCom: small JSON values a task instance pushes for the tasks after it to pull."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Delete, Table, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import XCom
from tradewind.metastore.statements import rows_changed, upsert
from tradewind.metastore.task_instances import TIKey, key_params, key_where

RETURN_VALUE = "return_value"


def set_xcom(
    session: Session, key: TIKey, xcom_key: str, value: Any, *, shown: Any = None, now: datetime | None = None
) -> None:
    """Push ``value`` under ``xcom_key`` for the task instance, replacing what it pushed before;
    ``shown`` is what people see instead (the value with secrets masked), None when it is the value."""
    upsert(
        session,
        XCom,
        {
            "dag_id": key.dag_id,
            "run_id": key.run_id,
            "task_id": key.task_id,
            "map_index": key.map_index,
            "key": xcom_key,
            "value": value,
            "display_value": shown,
            "timestamp": now or datetime.now(UTC),
        },
        conflict_on=["dag_id", "run_id", "task_id", "map_index", "key"],
        update=["value", "display_value", "timestamp"],
    )


def get_xcom(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str = RETURN_VALUE,
    map_index: int = -1,
    default: Any = None,
) -> Any:
    """The pushed value, or ``default`` when nothing was pushed under that key."""
    found, value = find_xcom(session, dag_id, run_id, task_id, key, map_index=map_index)
    return value if found else default


def find_xcom(
    session: Session, dag_id: str, run_id: str, task_id: str | None, key: str = RETURN_VALUE, map_index: int = -1
) -> tuple[bool, Any]:
    """(True, value) when something was pushed under that key, even None; (False, None) otherwise.
    ``task_id`` None: the latest push of ``key`` by any task instance of the run (as Airflow's
    ``xcom_pull(task_ids=None)``)."""
    query = select(XCom.value).where(XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.key == key)
    if task_id is None:
        query = query.order_by(XCom.timestamp.desc())
    else:
        query = query.where(XCom.task_id == task_id, XCom.map_index == map_index)
    row = session.execute(query.limit(1)).first()
    return (False, None) if row is None else (True, row.value)


def get_xcoms_for_tasks(
    session: Session, dag_id: str, run_id: str, task_ids: Iterable[str], key: str = RETURN_VALUE
) -> dict[str, Any]:
    """task_id -> value for the tasks that pushed under ``key``, in one query.

    A mapped task's value is the list of its instances' values in map-index order, as an Airflow
    ``xcom_pull`` of a mapped task returns.
    """
    rows = session.execute(
        select(XCom.task_id, XCom.map_index, XCom.value)
        .where(
            XCom.dag_id == dag_id,
            XCom.run_id == run_id,
            XCom.task_id.in_(list(task_ids)),
            XCom.key == key,
        )
        .order_by(XCom.task_id, XCom.map_index)
    ).all()
    values: dict[str, Any] = {}
    for task_id, map_index, value in rows:
        if map_index < 0:
            values[task_id] = value
        else:
            values.setdefault(task_id, []).append(value)
    return values


def clear_xcoms(session: Session, key: TIKey) -> int:
    """Delete what the task instance pushed: a new try starts with no XCom of its own, as in Airflow."""
    return rows_changed(session, _clear_statement(), key_params(key))


@functools.cache
def _clear_statement() -> Delete:
    table = cast("Table", XCom.__table__)
    return table.delete().where(*key_where(table))


def list_xcoms(session: Session, dag_id: str, run_id: str, task_id: str | None = None) -> list[XCom]:
    query = select(XCom).where(XCom.dag_id == dag_id, XCom.run_id == run_id)
    if task_id is not None:
        query = query.where(XCom.task_id == task_id)
    query = query.order_by(XCom.task_id, XCom.map_index, XCom.key).execution_options(populate_existing=True)
    return list(session.scalars(query))
