"""The last import error of each DAG file, shown in the UI until the file imports cleanly again."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tradewind.metastore.models import DagModel, ParseImportError
from tradewind.metastore.statements import rows_changed, upsert


def record_import_error(session: Session, filename: str, stacktrace: str, *, now: datetime | None = None) -> None:
    """Record (or replace) the file's error and flag the DAGs last parsed from it."""
    upsert(
        session,
        ParseImportError,
        {"filename": filename, "stacktrace": stacktrace, "timestamp": now or datetime.now(UTC)},
        conflict_on=["filename"],
        update=["stacktrace", "timestamp"],
    )
    _flag_dags(session, filename, True)


def clear_import_error(session: Session, filename: str) -> bool:
    """Forget the file's error; returns whether there was one."""
    deleted = rows_changed(
        session,
        delete(ParseImportError)
        .where(ParseImportError.filename == filename)
        .execution_options(synchronize_session="fetch"),
    )
    _flag_dags(session, filename, False)
    return deleted > 0


def clear_import_errors(session: Session, filenames: Collection[str]) -> None:
    """``clear_import_error`` for many files, in two statements."""
    if not filenames:
        return
    names = sorted(filenames)
    session.execute(
        delete(ParseImportError)
        .where(ParseImportError.filename.in_(names))
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(DagModel)
        .where(DagModel.fileloc.in_(names), DagModel.has_import_errors.is_(True))
        .values(has_import_errors=False)
        .execution_options(synchronize_session="fetch")
    )


def list_import_errors(session: Session) -> list[ParseImportError]:
    return list(
        session.scalars(
            select(ParseImportError).order_by(ParseImportError.filename).execution_options(populate_existing=True)
        )
    )


def _flag_dags(session: Session, filename: str, has_errors: bool) -> None:
    session.execute(
        update(DagModel)
        .where(DagModel.fileloc == filename)
        .values(has_import_errors=has_errors)
        .execution_options(synchronize_session="fetch")
    )
