"""The source of DAG files: written by the dag processor when it parses a file, read by the web UI,
which never reads user code from disk."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagCode
from tradewind.metastore.statements import upsert_many


def set_code(session: Session, fileloc: str, source: str, source_hash: str, *, now: datetime | None = None) -> None:
    set_codes(session, [(fileloc, source, source_hash)], now=now)


def set_codes(session: Session, sources: Sequence[tuple[str, str, str]], *, now: datetime | None = None) -> None:
    """Store each (file, source, source hash) given (distinct files), in one statement."""
    now = now or datetime.now(UTC)
    rows = [
        {"fileloc": fileloc, "source": source, "source_hash": source_hash, "last_updated": now}
        for fileloc, source, source_hash in sources
    ]
    if rows:
        upsert_many(session, DagCode, rows, conflict_on=["fileloc"], update=["source", "source_hash", "last_updated"])


def get_code(session: Session, fileloc: str) -> DagCode | None:
    return session.scalars(
        select(DagCode).where(DagCode.fileloc == fileloc).execution_options(populate_existing=True)
    ).one_or_none()


def forget_missing(session: Session, present: Collection[str]) -> None:
    """Drop the source of every file not in ``present`` (found here, as ``dags.deactivate_missing``)."""
    missing = sorted(set(session.scalars(select(DagCode.fileloc))) - set(present))
    if missing:
        session.execute(
            delete(DagCode).where(DagCode.fileloc.in_(missing)).execution_options(synchronize_session=False)
        )
