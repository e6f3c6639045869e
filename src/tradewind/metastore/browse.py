"""Paged lists for the Browse pages: DAG runs (of one DAG or all, by state) and the audit log."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import AuditLog, DagRun


def runs_page(
    session: Session, *, dag_id: str | None = None, state: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[DagRun], int]:
    """Runs newest first by logical date, and how many match in all."""
    query = select(DagRun)
    if dag_id is not None:
        query = query.where(DagRun.dag_id == dag_id)
    if state is not None:
        query = query.where(DagRun.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(limit).offset(offset))
    return list(rows), total


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
