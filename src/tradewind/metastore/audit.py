"""The audit log: who paused, triggered, cleared or marked what, from the UI, the API or the CLI.

It never holds a secret: the values under secret-looking keys of an entry's details (a triggered
run's ``{"conf": {"password": ...}}``) are stored as ``***``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import AuditLog
from tradewind.secrets.masker import redact_value


def record(
    session: Session,
    event: str,
    *,
    owner: str,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditLog:
    """Record one action; ``owner`` is the username, or ``'cli'``."""
    entry = AuditLog(
        dttm=now or datetime.now(UTC),
        event=event,
        owner=owner,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        extra=redact_value(extra) if extra is not None else None,
    )
    session.add(entry)
    session.flush()
    return entry


def list_events(session: Session, dag_id: str | None = None, limit: int = 100) -> list[AuditLog]:
    """The latest events first, for one DAG or for all."""
    query = select(AuditLog).order_by(AuditLog.dttm.desc(), AuditLog.id.desc()).limit(limit)
    if dag_id is not None:
        query = query.where(AuditLog.dag_id == dag_id)
    return list(session.scalars(query))


#: The columns an event search may match exactly or order by.
EVENT_COLUMNS = {
    "event_log_id": AuditLog.id,
    "when": AuditLog.dttm,
    "dag_id": AuditLog.dag_id,
    "task_id": AuditLog.task_id,
    "run_id": AuditLog.run_id,
    "map_index": AuditLog.map_index,
    "event": AuditLog.event,
    "owner": AuditLog.owner,
}


def get_event(session: Session, event_id: int) -> AuditLog | None:
    return session.get(AuditLog, event_id)


def search_events(
    session: Session,
    *,
    equal: Mapping[str, Any],
    before: datetime | None = None,
    after: datetime | None = None,
    included: Collection[str] = (),
    excluded: Collection[str] = (),
    order: str = "event_log_id",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditLog], int]:
    """(one page of events, how many matched): ``equal`` maps a column of ``EVENT_COLUMNS`` to
    the value it must hold; ``order`` names one, ``-`` before it for descending."""
    query = select(AuditLog)
    for name, value in equal.items():
        query = query.where(EVENT_COLUMNS[name] == value)
    if before is not None:
        query = query.where(AuditLog.dttm < before)
    if after is not None:
        query = query.where(AuditLog.dttm > after)
    if included:
        query = query.where(AuditLog.event.in_(list(included)))
    if excluded:
        query = query.where(AuditLog.event.not_in(list(excluded)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = EVENT_COLUMNS[order.lstrip("-")]
    ordered = query.order_by(column.desc() if order.startswith("-") else column.asc(), AuditLog.id)
    return list(session.scalars(ordered.limit(limit).offset(offset))), total
