"""Column types that behave the same on PostgreSQL and SQLite: aware-UTC timestamps and JSON as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware in UTC.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as naive
    UTC text and made aware again on the way out. Naive datetimes are refused: guessing their
    zone is how runs end up an hour off.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} is not allowed in the metastore; use UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonText(sa.types.TypeDecorator[Any]):
    """A JSON value stored as text, so both backends store, compare and index it the same way.

    Python ``None`` is SQL NULL; every other JSON value (dict, list, str, int, float, bool)
    round-trips through ``json``. A value ``json`` cannot encode raises ``TypeError`` at flush.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)
