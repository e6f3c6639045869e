"""``PostgresHook``: ``DbApiHook`` on psycopg2, as ``airflow.providers.postgres.hooks.postgres``.

Postgres adds a server-side (named) cursor for streaming reads, batched inserts in few round trips,
``ON CONFLICT`` upserts for ``insert_rows(replace=True)`` and ``COPY`` through ``copy_expert``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from contextlib import closing
from typing import Any, ClassVar

from sqlalchemy.engine import URL

from tradewind.sdk.hooks.sql import DbApiHook


class PostgresHook(DbApiHook):
    """``PostgresHook(postgres_conn_id="postgres_default", database=None, options=None)``."""

    conn_name_attr: ClassVar[str] = "postgres_conn_id"  # type: ignore[misc]
    default_conn_name: ClassVar[str] = "postgres_default"  # type: ignore[misc]
    conn_type: ClassVar[str] = "postgres"  # type: ignore[misc]
    hook_name: ClassVar[str] = "Postgres"  # type: ignore[misc]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form calls the schema "Database", as Airflow's Postgres provider does."""
        return {"hidden_fields": [], "relabeling": {"schema": "Database"}, "placeholders": {"port": "5432"}}

    placeholder: ClassVar[str | None] = "%s"
    extra_arguments: ClassVar[tuple[str, ...]] = ("database", "options")

    @property
    def database(self) -> str | None:
        return self.hook_kwargs.get("database") or self._schema

    @property
    def sqlalchemy_url(self) -> URL:
        """The connection's URL; the hook's ``options`` (``"-c search_path=sales"``) win over the extra's."""
        url = super().sqlalchemy_url
        options = self.hook_kwargs.get("options")
        return url.update_query_dict({"options": options}) if options else url

    def _streaming_cursor(self, conn: Any, batch_size: int) -> Any:
        # A named cursor keeps the result on the server; fetchmany pulls batch_size rows at a time.
        cursor = conn.cursor(name=f"tradewind_stream_{uuid.uuid4().hex}")
        cursor.itersize = batch_size
        return cursor

    def _generate_insert_sql(
        self, table: str, width: int, target_fields: list[str] | None, replace: bool, **kwargs: Any
    ) -> str:
        if target_fields is not None and len(target_fields) != width:
            raise ValueError(f"insert into {table}: {len(target_fields)} target fields but rows have {width} values")
        head, tail = self._insert_clauses(table, target_fields, replace, **kwargs)
        # One multi-row VALUES list per batch (psycopg2's execute_values fills in the single %s).
        return f"{head} VALUES %s{tail}"

    def _execute_batch(self, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
        from psycopg2.extras import execute_values

        # psycopg2's executemany makes one round trip per row; this sends the batch as one statement.
        execute_values(cursor, statement, values, page_size=max(len(values), 1))

    def _serialize_row(self, row: Sequence[Any], conn: Any) -> tuple[Any, ...]:
        # psycopg2 adapts every other Python value itself; only dicts need wrapping as JSON.
        return tuple(self._serialize_cell(cell, conn) if type(cell) is dict else cell for cell in row)

    def _serialize_cell(self, cell: Any, conn: Any) -> Any:
        if isinstance(cell, dict):
            from psycopg2.extras import Json

            return Json(cell)
        return cell

    def _insert_clauses(
        self, table: str, target_fields: list[str] | None, replace: bool, **kwargs: Any
    ) -> tuple[str, str]:
        replace_index = kwargs.pop("replace_index", None)
        head, _ = super()._insert_clauses(table, target_fields, False, **kwargs)
        if not replace:
            return head, ""
        if not target_fields:
            raise ValueError("PostgreSQL ON CONFLICT upsert syntax requires column names (target_fields)")
        if not replace_index:
            raise ValueError("PostgreSQL ON CONFLICT upsert syntax requires a unique index (replace_index)")
        index = [replace_index] if isinstance(replace_index, str) else list(replace_index)
        updates = [f"{column} = excluded.{column}" for column in target_fields if column not in index]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        return head, f" ON CONFLICT ({', '.join(index)}) {action}"

    def copy_expert(self, sql: str, filename: str) -> None:
        """Run a ``COPY … FROM STDIN`` or ``COPY … TO STDOUT`` statement with ``filename`` as its
        input or output (created when missing)."""
        if not os.path.isfile(filename):
            open(filename, "w").close()
        with open(filename, "r+") as file, closing(self.get_conn()) as conn, closing(conn.cursor()) as cursor:
            self.log.info("Running copy expert: %s, filename: %s", sql, filename)
            cursor.copy_expert(sql, file)
            file.truncate(file.tell())
            conn.commit()

    def bulk_load(self, table: str, tmp_file: str) -> None:
        """Load a tab-delimited file into ``table``."""
        self.copy_expert(f"COPY {table} FROM STDIN", tmp_file)

    def bulk_dump(self, table: str, tmp_file: str) -> None:
        """Write ``table`` to a tab-delimited file."""
        self.copy_expert(f"COPY {table} TO STDOUT", tmp_file)

    def get_table_primary_key(self, table: str, schema: str | None = "public") -> Sequence[str] | None:
        """The primary key columns of ``table``, in key order, or None when it has none."""
        sql = """
            SELECT kcu.column_name
            FROM information_schema.table_constraints tco
            JOIN information_schema.key_column_usage kcu
              ON kcu.constraint_name = tco.constraint_name AND kcu.constraint_schema = tco.constraint_schema
            WHERE tco.constraint_type = 'PRIMARY KEY' AND kcu.table_schema = %s AND kcu.table_name = %s
            ORDER BY kcu.ordinal_position
        """
        rows = self.get_records(sql, (schema, table))
        return [row[0] for row in rows] or None
