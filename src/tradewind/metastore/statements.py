"""Write statements spelled once for PostgreSQL and SQLite: the upsert (of one row or many, each
shape built once and executed with its rows as parameters), and an UPDATE/DELETE's row count.

A bulk upsert writes its rows sorted by their conflict key, so two schedulers upserting
overlapping rows lock them in the same order and one waits for the other instead of both
waiting for each other (a deadlock on PostgreSQL)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Delete, Table, Update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session


def upsert(
    session: Session,
    model: type[Any],
    values: Mapping[str, Any],
    *,
    conflict_on: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``values`` into ``model``'s table, or update the ``update`` columns of the row that
    has the same ``conflict_on`` columns (nothing, if ``update`` is empty). One statement, so there
    is no read-then-write window for a second writer to slip into."""
    upsert_many(session, model, [values], conflict_on=conflict_on, update=update)


def upsert_many(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict_on: Sequence[str],
    update: Sequence[str],
) -> None:
    """``upsert`` of many rows (all with the same columns) in as few round trips as the driver
    allows, sorted by their ``conflict_on`` columns (the lock order every writer shares); no two
    rows may share those columns (PostgreSQL refuses to update a row twice in one statement)."""
    if not rows:
        return
    statement = _upsert_statement(session.get_bind().dialect.name, model.__table__, tuple(conflict_on), tuple(update))
    rows = sorted(rows, key=lambda row: tuple(row[name] for name in conflict_on))
    # Core on the table, the statement built once: with one row a plain execute; with many,
    # SQLAlchemy batches them into multi-row INSERTs ("insertmanyvalues") from the one compiled,
    # cached statement (the ORM's bulk insert would send a row per round trip here). Through the
    # session, so what the caller added to it is flushed first.
    session.execute(statement, dict(rows[0]) if len(rows) == 1 else [dict(row) for row in rows])


@functools.cache
def _upsert_statement(dialect: str, table: Table, conflict_on: tuple[str, ...], update: tuple[str, ...]) -> Any:
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"the metastore supports PostgreSQL and SQLite, not {dialect}")
    statement = insert(table)
    if update:
        return statement.on_conflict_do_update(
            index_elements=list(conflict_on), set_={name: statement.excluded[name] for name in update}
        )
    return statement.on_conflict_do_nothing(index_elements=list(conflict_on))


def is_postgres(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (else SQLite, the standalone metastore)."""
    return session.get_bind().dialect.name == "postgresql"


def rows_changed(session: Session, statement: Update | Delete, params: Mapping[str, Any] | None = None) -> int:
    """Run an UPDATE or DELETE (with ``params`` for its bind parameters) and return how many rows it
    changed (the compare-and-set's answer)."""
    result = session.execute(statement, params)
    return cast("CursorResult[Any]", result).rowcount
