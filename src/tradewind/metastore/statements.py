"""Write statements spelled once for PostgreSQL and SQLite: the upsert, and an UPDATE/DELETE's row count."""

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
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert(model)
    elif dialect == "sqlite":
        insert = sqlite.insert(model)
    else:
        raise NotImplementedError(f"the metastore supports PostgreSQL and SQLite, not {dialect}")
    statement = insert.values(**values)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict_on), set_={name: statement.excluded[name] for name in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_on))
    session.execute(statement)


def rows_changed(session: Session, statement: Update | Delete) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed (the compare-and-set's answer)."""
    result = session.execute(statement)
    return cast("CursorResult[Any]", result).rowcount
