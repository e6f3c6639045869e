"""``SqliteHook``: ``DbApiHook`` on Python's sqlite3, as ``airflow.providers.sqlite.hooks.sqlite``.

Like Airflow, ``sqlite_default`` works without being defined: when neither the environment nor
the metastore has it, it is a database file ``sqlite_default.db`` in the tradewind home folder
(Airflow creates the same connection, in the temporary folder, at ``db init``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from tradewind.errors import AirflowNotFoundException
from tradewind.sdk.connection import Connection
from tradewind.sdk.hooks.base import BaseHook
from tradewind.sdk.hooks.sql import DbApiHook

SQLITE_DEFAULT_CONN_ID = "sqlite_default"
_BINDABLE = frozenset({int, float, str, bytes, type(None)})


class SqliteHook(DbApiHook):
    """``SqliteHook(sqlite_conn_id="sqlite_default")``; the connection's host is the database file."""

    conn_name_attr: ClassVar[str] = "sqlite_conn_id"  # type: ignore[misc]
    default_conn_name: ClassVar[str] = SQLITE_DEFAULT_CONN_ID  # type: ignore[misc]
    conn_type: ClassVar[str] = "sqlite"  # type: ignore[misc]
    hook_name: ClassVar[str] = "Sqlite"  # type: ignore[misc]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """A SQLite connection is a file: its host is the file's path, and nothing else applies."""
        return {
            "hidden_fields": ["login", "password", "port", "schema"],
            "relabeling": {"host": "Database file path"},
            "placeholders": {"host": "/path/to/database.db"},
        }

    placeholder: ClassVar[str | None] = "?"

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        try:
            return BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            if conn_id != SQLITE_DEFAULT_CONN_ID:
                raise
            connection = default_sqlite_connection()
            logging.getLogger("tradewind.task.hooks").info(
                "Connection '%s' is not defined; using the SQLite file %s", conn_id, connection.host
            )
            return connection

    def get_autocommit(self, conn: Any) -> bool:
        return conn.isolation_level is None

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        # sqlite3 before Python 3.12 has no autocommit attribute: no isolation level means autocommit.
        conn.isolation_level = None if autocommit else ""

    def _serialize_row(self, row: Sequence[Any], conn: Any) -> tuple[Any, ...]:
        # Most cells are already what sqlite3 binds; checking the exact type first keeps bulk inserts fast.
        return tuple(cell if type(cell) in _BINDABLE else sqlite_cell(cell) for cell in row)

    def _serialize_cell(self, cell: Any, conn: Any) -> Any:
        return sqlite_cell(cell)


def sqlite_cell(cell: Any) -> Any:
    """A value sqlite3 can bind: exact decimals as text (a NUMERIC column turns them back into
    numbers), datetimes as SQLite's ``YYYY-MM-DD HH:MM:SS`` text, JSON values as JSON text."""
    if cell is None or isinstance(cell, int | float | str | bytes):
        return cell
    if isinstance(cell, decimal.Decimal):
        return str(cell)
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    if isinstance(cell, dt.timedelta):
        return cell.total_seconds()
    if isinstance(cell, dict | list):
        return json.dumps(cell, default=str)
    if isinstance(cell, uuid.UUID):
        return str(cell)
    if isinstance(cell, memoryview | bytearray):
        return bytes(cell)
    return cell


def default_sqlite_connection() -> Connection:
    """``sqlite_default`` as it is when nobody defined it: ``<home>/sqlite_default.db``."""
    from tradewind.sdk import runtime_services

    home = Path(runtime_services.current().settings.home)
    home.mkdir(parents=True, exist_ok=True)
    return Connection(conn_id=SQLITE_DEFAULT_CONN_ID, conn_type="sqlite", host=str(home / "sqlite_default.db"))
