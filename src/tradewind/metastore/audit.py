"""The audit log: who paused, triggered, cleared or marked what, from the UI, the API or the CLI.

It never holds a secret: the values under secret-looking keys of an entry's details (a triggered
run's ``{"conf": {"password": ...}}``) are stored as ``***``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
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
