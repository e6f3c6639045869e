"""DAG files the dag processor has seen: each file's content hash and the DAG ids it defined.

A file whose hash has not changed is not imported again. A file that fails to import keeps the
DAG ids of its last good import, so the DAGs it used to define are not lost while it is broken.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagFile, ParseImportError
from tradewind.metastore.statements import upsert


def get_hashes(session: Session) -> dict[str, str]:
    """filename -> content hash of every file recorded."""
    rows = session.execute(select(DagFile.filename, DagFile.content_hash))
    return {filename: content_hash for filename, content_hash in rows}


def record_file(
    session: Session,
    filename: str,
    content_hash: str,
    *,
    dag_ids: list[str] | None,
    now: datetime | None = None,
) -> None:
    """Record the file's hash; ``dag_ids=None`` (it failed to import) keeps the ids it had."""
    values = {
        "filename": filename,
        "content_hash": content_hash,
        "last_parsed": now or datetime.now(UTC),
        "dag_ids": sorted(dag_ids) if dag_ids is not None else [],
    }
    update = ["content_hash", "last_parsed"] + (["dag_ids"] if dag_ids is not None else [])
    upsert(session, DagFile, values, conflict_on=["filename"], update=update)


def failed_files_parsed_before(session: Session, cutoff: datetime) -> set[str]:
    """Files whose last import failed and that were last imported before ``cutoff``: due for
    another try, since what broke them (a missing module, a variable) may be fixed by now."""
    rows = session.scalars(
        select(DagFile.filename)
        .join(ParseImportError, ParseImportError.filename == DagFile.filename)
        .where(DagFile.last_parsed < cutoff)
    )
    return set(rows)


def dag_ids_of(session: Session, filename: str) -> list[str]:
    """The DAG ids the file defined at its last good import ([] for an unknown file)."""
    return list(session.scalar(select(DagFile.dag_ids).where(DagFile.filename == filename)) or [])


def forget_missing(session: Session, present: Collection[str]) -> list[str]:
    """Forget every file not in ``present``; returns the forgotten filenames, sorted."""
    gone = sorted(set(get_hashes(session)) - set(present))
    if gone:
        session.execute(delete(DagFile).where(DagFile.filename.in_(gone)).execution_options(synchronize_session=False))
    return gone
