"""The audit log's paged list for its Browse page (the runs and task instances lists read
``searches``, as the REST API does)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import AuditLog


def audit_page(
    session: Session, *, dag_id: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[AuditLog], int]:
    """Audit-log rows latest first, and how many match in all."""
    query = select(AuditLog)
    if dag_id is not None:
        query = query.where(AuditLog.dag_id == dag_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditLog.dttm.desc(), AuditLog.id.desc()).limit(limit).offset(offset))
    return list(rows), total
