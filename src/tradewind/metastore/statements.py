"""Write statements spelled once for PostgreSQL and SQLite: the upsert (of one row or many), and
an UPDATE/DELETE's row count.

A bulk upsert writes its rows sorted by their conflict key, so two schedulers upserting
overlapping rows lock them in the same order and one waits for the other instead of both
waiting for each other (a deadlock on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Delete, Update
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
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"the metastore supports PostgreSQL and SQLite, not {dialect}")
    if not rows:
        return
    rows = sorted(rows, key=lambda row: tuple(row[name] for name in conflict_on))
    statement = insert(model)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict_on), set_={name: statement.excluded[name] for name in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_on))
    if len(rows) == 1:
        session.execute(statement.values(**rows[0]))
        return
    # Core's executemany on the table (not the ORM's bulk insert, which sends a row per round
    # trip here): SQLAlchemy batches the rows into multi-row INSERTs ("insertmanyvalues") from one
    # compiled, cached statement.
    table_statement = insert(model.__table__)
    if update:
        table_statement = table_statement.on_conflict_do_update(
            index_elements=list(conflict_on), set_={name: table_statement.excluded[name] for name in update}
        )
    else:
        table_statement = table_statement.on_conflict_do_nothing(index_elements=list(conflict_on))
    session.connection().execute(table_statement, [dict(row) for row in rows])


def rows_changed(session: Session, statement: Update | Delete) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed (the compare-and-set's answer)."""
    result = session.execute(statement)
    return cast("CursorResult[Any]", result).rowcount
