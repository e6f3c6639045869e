"""DAG files the dag processor has seen: each file's content hash, its stat when hashed, and the
DAG ids it defined.

A file whose stat has not changed is not read again, and one whose hash has not changed is not
imported again. A file that fails to import keeps the
DAG ids of its last good import, so the DAGs it used to define are not lost while it is broken.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagFile, ParseImportError
from tradewind.metastore.statements import upsert
from tradewind.sdk.dag_folder import FileStamp


class KnownFile(NamedTuple):
    """What the metastore holds of a file: its content hash, and its stat when hashed (None: hash
    it again at the next scan)."""

    content_hash: str
    stamp: FileStamp | None


def get_hashes(session: Session) -> dict[str, str]:
    """filename -> content hash of every file recorded."""
    rows = session.execute(select(DagFile.filename, DagFile.content_hash))
    return {filename: content_hash for filename, content_hash in rows}


def get_known_files(session: Session) -> dict[str, KnownFile]:
    """filename -> hash and stamp of every file recorded."""
    rows = session.execute(select(DagFile.filename, DagFile.content_hash, DagFile.mtime_ns, DagFile.size))
    return {
        filename: KnownFile(
            content_hash=content_hash,
            stamp=FileStamp(mtime_ns=mtime_ns, size=size) if mtime_ns is not None and size is not None else None,
        )
        for filename, content_hash, mtime_ns, size in rows
    }


def record_file(
    session: Session,
    filename: str,
    content_hash: str,
    *,
    dag_ids: list[str] | None,
    stamp: FileStamp | None = None,
    now: datetime | None = None,
) -> None:
    """Record the file's hash and the stat it was hashed at; ``dag_ids=None`` (it failed to import)
    keeps the ids it had."""
    values = {
        "filename": filename,
        "content_hash": content_hash,
        "mtime_ns": stamp.mtime_ns if stamp is not None else None,
        "size": stamp.size if stamp is not None else None,
        "last_parsed": now or datetime.now(UTC),
        "dag_ids": sorted(dag_ids) if dag_ids is not None else [],
    }
    columns = ["content_hash", "mtime_ns", "size", "last_parsed"] + (["dag_ids"] if dag_ids is not None else [])
    upsert(session, DagFile, values, conflict_on=["filename"], update=columns)


def record_stamps(session: Session, stamps: Mapping[str, FileStamp]) -> None:
    """Record the new stat of files whose content did not change (touched, or first seen settled)."""
    for filename, stamp in stamps.items():
        session.execute(
            update(DagFile)
            .where(DagFile.filename == filename)
            .values(mtime_ns=stamp.mtime_ns, size=stamp.size)
            .execution_options(synchronize_session=False)
        )


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


def request_reparse(session: Session, filename: str) -> bool:
    """Have the dag processor import the file at its next scan, changed or not (its hash and stat
    are forgotten); False for a file it has never seen."""
    result = session.execute(
        update(DagFile)
        .where(DagFile.filename == filename)
        .values(content_hash="", mtime_ns=None, size=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
