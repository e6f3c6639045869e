"""Carrying out a ``db clean`` plan: each table in batches, each batch a short transaction of its own, so
a scheduler running meanwhile waits at most one batch for a row; or, for a dry run, one count per table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from tradewind.retention import CleanPlan, CleanTable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class TableOutcome:
    table: CleanTable
    #: Rows deleted (or, in a dry run, that would be).
    rows: int
    batches: int = 0
    #: Why the table was left before its end (a lock held for too long); None when it was finished.
    stopped: str | None = None


#: Called after each batch: the table, the batch's number, rows deleted, seconds it took.
BatchReport = Callable[[CleanTable, int, int, float], None]


def count(factory: sessionmaker[Session], plan: CleanPlan) -> list[TableOutcome]:
    """The rows each table of the plan would lose now; nothing is deleted."""
    from tradewind.metastore import cleanup
    from tradewind.metastore.engine import session_scope

    with _disconnects_named(factory), session_scope(factory) as session:
        return [TableOutcome(table, cleanup.count_old_rows(session, table, plan)) for table in plan.tables]


def delete(factory: sessionmaker[Session], plan: CleanPlan, on_batch: BatchReport | None = None) -> list[TableOutcome]:
    """Delete what the plan names, table by table; then record what was done in the audit log."""
    from tradewind.metastore import audit
    from tradewind.metastore.engine import session_scope

    outcomes = [_delete_table(factory, table, plan, on_batch) for table in plan.tables]
    with _disconnects_named(factory), session_scope(factory) as session:
        audit.record(
            session,
            "db_clean",
            owner="cli",
            extra={
                "clean_before_timestamp": plan.before.isoformat(),
                "deleted": {outcome.table.name: outcome.rows for outcome in outcomes},
                "stopped": {outcome.table.name: outcome.stopped for outcome in outcomes if outcome.stopped},
            },
        )
    return outcomes


def _delete_table(
    factory: sessionmaker[Session], table: CleanTable, plan: CleanPlan, on_batch: BatchReport | None
) -> TableOutcome:
    from tradewind.metastore import cleanup
    from tradewind.metastore.engine import session_scope

    total, batches, after = 0, 0, None
    while True:
        started = time.monotonic()
        try:
            with _disconnects_named(factory), session_scope(factory) as session:
                batch = cleanup.delete_old_rows(session, table, plan, after=after)
        except DBAPIError as exc:
            if not cleanup.is_lock_timeout(exc):
                raise
            return TableOutcome(
                table,
                total,
                batches,
                "a row it had to delete stayed locked by another transaction; run the command again later",
            )
        batches += 1
        total += batch.deleted
        if on_batch is not None:
            on_batch(table, batches, batch.deleted, time.monotonic() - started)
        if batch.done:
            return TableOutcome(table, total, batches)
        after = batch.last_key


@contextmanager
def _disconnects_named(factory: sessionmaker[Session]) -> Iterator[None]:
    """A database that went away mid-command is one clear line, not a traceback."""
    from tradewind.metastore.engine import unreachable_error

    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise unreachable_error(factory.kw["bind"], exc) from exc
        raise
