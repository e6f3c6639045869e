"""What the metastore's columns can hold, read from the models and checked before a write, so a
value too long or too large gets the same clear refusal on PostgreSQL (which would fail the
statement) and on SQLite (which would store it silently).

``check_fits(Model, field=value, ...)`` raises ``InvalidInput`` naming the field: text longer than
its column (or holding a NUL character, which PostgreSQL cannot store), a whole number outside its
column's range. ``int_range`` gives a column's range to the code that parses numbers from requests.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tradewind.errors import InvalidInput

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def int_range(model: type[Any], field: str) -> tuple[int, int]:
    """The smallest and largest whole number the column holds (on both databases)."""
    column_type = model.__table__.c[field].type
    return INT64 if isinstance(column_type, sa.BigInteger) else INT32


def max_length(model: type[Any], field: str) -> int | None:
    """The most characters the column holds; None for unbounded text."""
    length: int | None = getattr(model.__table__.c[field].type, "length", None)
    return length


def check_fits(model: type[Any], **values: Any) -> None:
    """Raise ``InvalidInput`` unless every value fits its column of ``model``'s table."""
    for field, value in values.items():
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            _check_text(model, field, value)
        elif isinstance(value, int):
            low, high = int_range(model, field)
            if not low <= value <= high:
                raise InvalidInput(f"{field} must be between {low} and {high}, not {value}")


def _check_text(model: type[Any], field: str, value: str) -> None:
    length = max_length(model, field)
    if length is not None and len(value) > length:
        raise InvalidInput(f"{field} is {len(value)} characters long; at most {length} fit")
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain a NUL character")
