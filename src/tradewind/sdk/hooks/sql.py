"""``DbApiHook``: run SQL on the database a connection names, with Airflow's ``DbApiHook`` API
(``get_records``, ``get_first``, ``run``, ``insert_rows``, ``get_sqlalchemy_engine``, ``get_conn``).

The connection becomes a SQLAlchemy URL (``sql_dialects``); ``get_conn`` opens a plain DB-API
connection of that URL's driver, ``get_sqlalchemy_engine`` an engine. ``iter_records`` streams a
query's rows batch by batch (a server-side cursor where the database has one), which is what
``GenericTransfer`` moves data with. ``hook_for_connection`` picks the hook class of a connection's type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any, ClassVar

import sqlalchemy
from sqlalchemy.engine import URL

from tradewind.errors import AirflowException
from tradewind.sdk.connection import Connection
from tradewind.sdk.hooks.base import BaseHook
from tradewind.sdk.hooks.sql_dialects import normalized_type, sqlalchemy_url
from tradewind.sdk.hooks.sql_results import (
    batched,
    fetch_all_handler,
    fetch_one_handler,
    return_single_query_results,
    split_sql_string,
)

__all__ = [
    "DbApiHook",
    "fetch_all_handler",
    "fetch_one_handler",
    "hook_for_connection",
    "return_single_query_results",
]

#: Rows fetched per round trip when streaming, and rows per insert batch by default.
DEFAULT_BATCH_SIZE = 1000

_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


class DbApiHook(BaseHook):
    """A SQL database reached through a connection; subclasses fix the connection type.

    ``DbApiHook(conn_id)``, ``DbApiHook(<conn_name_attr>=...)``; ``schema`` (or a subclass's
    ``database``) overrides the connection's database.
    """

    conn_name_attr: ClassVar[str] = "conn_id"  # type: ignore[misc]
    default_conn_name: ClassVar[str] = "default_conn_id"  # type: ignore[misc]
    conn_type: ClassVar[str] = ""  # type: ignore[misc]
    hook_name: ClassVar[str] = "SQL"  # type: ignore[misc]
    supports_autocommit: ClassVar[bool] = True
    #: The DB-API placeholder ``insert_rows`` writes; None means the driver's paramstyle decides.
    placeholder: ClassVar[str | None] = None
    #: Keyword arguments a subclass accepts besides ``schema`` and ``log_sql``.
    extra_arguments: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, schema: str | None = None, log_sql: bool = True, **kwargs: Any) -> None:
        super().__init__()
        if len(args) > 1:
            raise TypeError(f"{type(self).__name__} takes at most one positional argument, the connection id")
        named = kwargs.pop(self.conn_name_attr, None)
        generic = kwargs.pop("conn_id", None)
        conn_id = args[0] if args else (named or generic or self.default_conn_name)
        unknown = sorted(set(kwargs) - set(self.extra_arguments))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {', '.join(unknown)}")
        setattr(self, self.conn_name_attr, conn_id)
        self.hook_kwargs: dict[str, Any] = kwargs
        self._schema = schema
        self.log_sql = log_sql
        self.descriptions: list[Sequence[Sequence[Any]] | None] = []
        self._connection: Connection | None = None
        self._dialect: Any = None

    # -- the connection ------------------------------------------------------------------------

    def get_conn_id(self) -> str:
        return getattr(self, self.conn_name_attr)

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self.get_connection(self.get_conn_id())
        return self._connection

    @connection.setter
    def connection(self, value: Connection) -> None:
        self._connection = value
        self._dialect = None

    @property
    def database(self) -> str | None:
        """The database this hook uses instead of the connection's schema, if any."""
        return self._schema

    @property
    def sqlalchemy_url(self) -> URL:
        return sqlalchemy_url(self.connection, database=self.database)

    def get_uri(self) -> str:
        """The SQLAlchemy URL as text, password included (Airflow's ``get_uri``)."""
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    def get_sqlalchemy_engine(self, engine_kwargs: Mapping[str, Any] | None = None) -> sqlalchemy.Engine:
        """A new SQLAlchemy engine for the connection; the caller disposes of it."""
        return sqlalchemy.create_engine(self.sqlalchemy_url, **dict(engine_kwargs or {}))

    @property
    def dialect(self) -> Any:
        """The SQLAlchemy dialect of the connection (its driver loaded, nothing connected)."""
        if self._dialect is None:
            engine = sqlalchemy.create_engine(self.sqlalchemy_url, poolclass=sqlalchemy.NullPool)
            self._dialect = engine.dialect
            engine.dispose()
        return self._dialect

    @property
    def dialect_name(self) -> str:
        return self.dialect.name

    def get_conn(self) -> Any:
        """A new DB-API connection of the connection's driver (psycopg2, sqlite3…); the caller closes it."""
        cargs, cparams = self.dialect.create_connect_args(self.sqlalchemy_url)
        return self.dialect.connect(*cargs, **cparams)

    def get_autocommit(self, conn: Any) -> bool:
        return bool(getattr(conn, "autocommit", False)) and self.supports_autocommit

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        if not self.supports_autocommit and autocommit:
            self.log.warning("%s connection doesn't support autocommit but autocommit activated.", self.get_conn_id())
        conn.autocommit = autocommit

    def test_connection(self) -> tuple[bool, str]:
        """Run ``SELECT 1``: (True, message) when the database answers, (False, the error) otherwise."""
        try:
            self.get_first("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - the UI shows any failure as text
            return False, str(exc)
        return True, "Connection successfully tested"

    # -- queries -------------------------------------------------------------------------------

    def get_records(self, sql: str | list[str], parameters: Any = None) -> Any:
        """All rows of ``sql`` as tuples (a list of such lists when ``sql`` is a list)."""
        return self.run(sql=sql, parameters=parameters, handler=fetch_all_handler)

    def get_first(self, sql: str | list[str], parameters: Any = None) -> Any:
        """The first row of ``sql``, or None."""
        return self.run(sql=sql, parameters=parameters, handler=fetch_one_handler)

    def get_pandas_df(self, sql: str, parameters: Any = None, **kwargs: Any) -> Any:
        raise AirflowException(
            "tradewind's SQL hooks do not build pandas DataFrames; use get_records() or iter_records()"
        )

    def run(
        self,
        sql: str | Iterable[str],
        autocommit: bool = False,
        parameters: Any = None,
        handler: Callable[[Any], Any] | None = None,
        split_statements: bool = False,
        return_last: bool = True,
    ) -> Any:
        """Run one statement, a script (``split_statements``) or a list of statements in one
        transaction (committed at the end unless ``autocommit``). With a ``handler`` it returns
        ``handler(cursor)`` of the last statement, or a list of them for several statements
        (``return_last=False`` or a list of statements); without one, None."""
        statements = self._statements(sql, split_statements)
        results: list[Any] = []
        self.descriptions = []
        with closing(self.get_conn()) as conn:
            self.set_autocommit(conn, autocommit)
            with closing(conn.cursor()) as cursor:
                for statement in statements:
                    self._run_command(cursor, statement, parameters)
                    if handler is not None:
                        results.append(handler(cursor))
                        self.descriptions.append(cursor.description)
            if not self.get_autocommit(conn):
                conn.commit()
        if handler is None:
            return None
        if return_single_query_results(sql, return_last, split_statements):
            return results[-1]
        return results

    @property
    def last_description(self) -> Sequence[Sequence[Any]] | None:
        return self.descriptions[-1] if self.descriptions else None

    def iter_records(
        self, sql: str, parameters: Any = None, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql`` one by one, fetched ``batch_size`` at a time, so a result of any
        size passes through in bounded memory (a server-side cursor on Postgres)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        with closing(self.get_conn()) as conn, closing(self._streaming_cursor(conn, batch_size)) as cursor:
            self._run_command(cursor, sql, parameters)
            first = True
            while batch := cursor.fetchmany(batch_size):
                if first:
                    self.descriptions = [cursor.description]
                    first = False
                for row in batch:
                    yield tuple(row)

    def _streaming_cursor(self, conn: Any, batch_size: int) -> Any:
        """A cursor that does not load the whole result on ``execute``; drivers differ here."""
        return conn.cursor()

    def _statements(self, sql: str | Iterable[str], split_statements: bool) -> list[str]:
        if isinstance(sql, str):
            statements = split_sql_string(sql) if split_statements else [sql]
        else:
            statements = list(sql)
        if not statements or not all(isinstance(s, str) and s.strip() for s in statements):
            raise ValueError(
                "List of SQL statements is empty"
                if not statements
                else "every SQL statement must be a non-empty string"
            )
        return statements

    def _run_command(self, cursor: Any, sql: str, parameters: Any) -> None:
        if self.log_sql:
            self.log.info("Running statement: %s, parameters: %s", sql, parameters)
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        if getattr(cursor, "rowcount", -1) >= 0:
            self.log.info("Rows affected: %s", cursor.rowcount)

    # -- writing -------------------------------------------------------------------------------

    def insert_rows(
        self,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
        replace: bool = False,
        **kwargs: Any,
    ) -> int:
        """Insert ``rows`` (any iterable, read lazily) into ``table`` in batches of ``commit_every``,
        committing after each batch (``commit_every=0``: one transaction for all rows). ``replace``
        overwrites rows with the same key. Returns the number of rows inserted."""
        if commit_every < 0:
            raise ValueError(f"commit_every must be 0 or more, got {commit_every}")
        fields = list(target_fields) if target_fields else None
        batch_size = commit_every or DEFAULT_BATCH_SIZE
        inserted = 0
        with closing(self.get_conn()) as conn:
            if self.supports_autocommit:
                self.set_autocommit(conn, False)
            with closing(conn.cursor()) as cursor:
                statement: str | None = None
                width = 0
                for batch in batched(rows, batch_size):
                    values = [self._serialize_row(row, conn) for row in batch]
                    if statement is None:
                        width = len(values[0])
                        statement = self._generate_insert_sql(table, width, fields, replace, **kwargs)
                    _check_widths(values, width, inserted, table)
                    self._execute_batch(cursor, statement, values)
                    inserted += len(values)
                    if commit_every:
                        conn.commit()
                        self.log.info("Loaded %s rows into %s so far", inserted, table)
            conn.commit()
        self.log.info("Done loading. Loaded a total of %s rows into %s", inserted, table)
        return inserted

    def insert_from_query(
        self, table: str, sql: str, target_fields: Sequence[str] | None = None, replace: bool = False, **kwargs: Any
    ) -> int:
        """Insert the rows of ``sql`` into ``table`` inside this database (``INSERT … SELECT``),
        so no row leaves the server. Takes ``insert_rows``' arguments; batching ones are ignored.
        Returns the number of rows inserted, where the driver tells it."""
        for batching in ("commit_every", "executemany", "fast_executemany", "autocommit"):
            kwargs.pop(batching, None)
        fields = list(target_fields) if target_fields else None
        head, tail = self._insert_clauses(table, fields, replace, **kwargs)
        query = sql.strip().rstrip(";").strip()
        statement = f"{head} SELECT * FROM ({query}) AS source_rows{tail}"
        count = self.run(statement, handler=lambda cursor: cursor.rowcount)
        self.log.info("Done loading. Loaded a total of %s rows into %s", count, table)
        return int(count) if count is not None and count >= 0 else 0

    def _generate_insert_sql(
        self, table: str, width: int, target_fields: list[str] | None, replace: bool, **kwargs: Any
    ) -> str:
        if target_fields is not None and len(target_fields) != width:
            raise ValueError(f"insert into {table}: {len(target_fields)} target fields but rows have {width} values")
        head, tail = self._insert_clauses(table, target_fields, replace, **kwargs)
        return f"{head} VALUES ({', '.join([self._placeholder()] * width)}){tail}"

    def _insert_clauses(
        self, table: str, target_fields: list[str] | None, replace: bool, **kwargs: Any
    ) -> tuple[str, str]:
        """What goes before the rows of an insert (``INSERT INTO t (a, b)``) and after them."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}.insert_rows got unexpected arguments: {', '.join(sorted(kwargs))}")
        columns = f" ({', '.join(target_fields)})" if target_fields else ""
        verb = "REPLACE INTO" if replace else "INSERT INTO"
        return f"{verb} {table}{columns}", ""

    def _placeholder(self) -> str:
        if self.placeholder is not None:
            return self.placeholder
        style = getattr(self.dialect, "paramstyle", None) or "format"
        if style not in _PLACEHOLDERS:
            raise AirflowException(f"insert_rows does not support the {style!r} parameter style")
        return _PLACEHOLDERS[style]

    def _execute_batch(self, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
        cursor.executemany(statement, values)

    def _serialize_row(self, row: Sequence[Any], conn: Any) -> tuple[Any, ...]:
        return tuple(self._serialize_cell(cell, conn) for cell in row)

    def _serialize_cell(self, cell: Any, conn: Any) -> Any:
        """A value as the driver should receive it; drivers that need conversions override this."""
        return cell


def _check_widths(values: list[tuple[Any, ...]], width: int, before: int, table: str) -> None:
    for offset, row in enumerate(values):
        if len(row) != width:
            raise ValueError(
                f"insert into {table}: row {before + offset + 1} has {len(row)} values but the first row has {width}"
            )


def hook_class_for_type(conn_type: str | None) -> type[DbApiHook]:
    """The SQL hook class for a connection type; DbApiHook itself for types without their own."""
    from tradewind.sdk.hooks.mysql import MySqlHook
    from tradewind.sdk.hooks.postgres import PostgresHook
    from tradewind.sdk.hooks.sqlite import SqliteHook

    classes: dict[str, type[DbApiHook]] = {
        "postgres": PostgresHook,
        "postgresql": PostgresHook,
        "sqlite": SqliteHook,
        "mysql": MySqlHook,
    }
    return classes.get(normalized_type(conn_type), DbApiHook)


def hook_for_connection(conn_id: str, hook_params: Mapping[str, Any] | None = None) -> DbApiHook:
    """The SQL hook for connection ``conn_id``, chosen by its type (Airflow's ``get_hook``);
    an unknown conn id or a type without SQL support is a one-line error."""
    from tradewind.sdk.hooks.sqlite import SqliteHook

    # SqliteHook's lookup is BaseHook's plus Airflow's built-in ``sqlite_default``.
    connection = SqliteHook.get_connection(conn_id)
    hook_class = hook_class_for_type(connection.conn_type)
    try:
        hook = hook_class(conn_id, **dict(hook_params or {}))
    except TypeError as exc:
        raise AirflowException(f"connection {conn_id!r}: {exc}") from None
    hook.connection = connection
    # Resolving the URL now turns an unsupported type or a missing driver into this task's error.
    hook.sqlalchemy_url  # noqa: B018
    return hook
