"""What SQL hooks and operators do with statements and rows, apart from any database: splitting a
script into statements, the cursor handlers, batching rows, and turning result rows into JSON for XCom.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import sqlparse


def split_sql_string(sql: str) -> list[str]:
    """The statements of ``sql``, comments and trailing semicolons removed, empty ones dropped
    (``sqlparse`` keeps semicolons inside strings, dollar-quoted bodies and BEGIN…END blocks)."""
    statements = sqlparse.split(sqlparse.format(sql, strip_comments=True))
    cleaned = (statement.strip().rstrip(";").strip() for statement in statements)
    return [statement for statement in cleaned if statement]


def fetch_all_handler(cursor: Any) -> list[tuple[Any, ...]] | None:
    """Every row of the last statement; None when the statement returns no rows (DDL, INSERT)."""
    if cursor.description is None:
        return None
    return [tuple(row) for row in cursor.fetchall()]


def fetch_one_handler(cursor: Any) -> tuple[Any, ...] | None:
    """The first row of the last statement, or None."""
    if cursor.description is None:
        return None
    row = cursor.fetchone()
    return None if row is None else tuple(row)


def return_single_query_results(sql: str | Iterable[str], return_last: bool, split_statements: bool | None) -> bool:
    """Whether ``run`` returns one statement's result rather than a list of them (Airflow's rule):
    a single string not split, or any script when only the last result is wanted."""
    return isinstance(sql, str) and (return_last or not split_statements)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``, read lazily: only one batch is held at a time."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def column_names(description: Sequence[Sequence[Any]] | None) -> list[str]:
    return [str(column[0]) for column in description or ()]


def json_safe_cell(value: Any) -> Any:
    """One database value as plain JSON, so results fit in XCom.

    Tuples and sets become lists; dates, times and datetimes their ISO text; ``Decimal`` a number
    when a float holds it exactly (``12.50`` → ``12.5``), else its text so no digit is lost;
    timedeltas their seconds; UUIDs their text; bytes base64 text; NaN and infinities their names.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(key): json_safe_cell(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe_cell(item) for item in value]
    return str(value)


def json_safe_result(result: Any) -> Any:
    """A hook's ``run`` result (rows, a row, a list of per-statement results) as plain JSON."""
    return json_safe_cell(result)


def _decimal(value: decimal.Decimal) -> Any:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
