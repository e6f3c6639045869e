"""DAG files the dag processor has seen: each file's content hash, its stat when hashed, and the
DAG ids it defined.

A file whose stat has not changed is not read again, and one whose hash has not changed is not
imported again. A file that fails to import keeps the
DAG ids of its last good import, so the DAGs it used to define are not lost while it is broken.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tradewind.metastore.column_limits import max_length
from tradewind.metastore.models import DagFile, ParseImportError
from tradewind.metastore.statements import upsert_many
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


class FileRecord(NamedTuple):
    """A file just imported: its hash, the DAG ids it defined (None: it failed to import, so it
    keeps the ids it had), and the stat it was hashed at."""

    filename: str
    content_hash: str
    dag_ids: list[str] | None
    stamp: FileStamp | None = None


def fits_filename(filename: str) -> bool:
    """Whether the path is short enough to be recorded (its hash, its import error)."""
    limit = max_length(DagFile, "filename")
    return limit is None or len(filename) <= limit


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
    record_files(session, [FileRecord(filename, content_hash, dag_ids, stamp)], now=now)


def record_files(session: Session, records: Sequence[FileRecord], *, now: datetime | None = None) -> None:
    """``record_file`` for many files (distinct names): one statement for those that imported and
    one for those that failed."""
    now = now or datetime.now(UTC)
    for failed in (False, True):
        rows = [
            {
                "filename": r.filename,
                "content_hash": r.content_hash,
                "mtime_ns": r.stamp.mtime_ns if r.stamp is not None else None,
                "size": r.stamp.size if r.stamp is not None else None,
                "last_parsed": now,
                "dag_ids": sorted(r.dag_ids) if r.dag_ids is not None else [],
            }
            for r in records
            if (r.dag_ids is None) == failed
        ]
        columns = ["content_hash", "mtime_ns", "size", "last_parsed"] + ([] if failed else ["dag_ids"])
        if rows:
            upsert_many(session, DagFile, rows, conflict_on=["filename"], update=columns)


def record_stamps(session: Session, stamps: Mapping[str, FileStamp]) -> None:
    """Record the new stat of files whose content did not change (touched, or first seen settled)."""
    for filename, stamp in sorted(stamps.items()):  # in key order, as every bulk write (statements.py)
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


def dag_ids_by_file(session: Session, filenames: Collection[str]) -> dict[str, list[str]]:
    """``dag_ids_of`` for many files (one query); unknown files are left out."""
    if not filenames:
        return {}
    query = select(DagFile.filename, DagFile.dag_ids).where(DagFile.filename.in_(sorted(filenames)))
    return {filename: list(dag_ids or []) for filename, dag_ids in session.execute(query)}


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
