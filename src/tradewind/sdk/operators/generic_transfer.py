"""``GenericTransfer``: copy the result of a query on one connection into a table on another,
as ``airflow.operators.generic_transfer``.

Unlike Airflow's, which reads the whole result into memory first, rows stream through in batches
of ``page_size`` (a server-side cursor on Postgres) and are written in batches of the destination's
``commit_every``, so a transfer of any size runs in bounded memory. When source and destination are
the same database the copy is one ``INSERT … SELECT`` inside it (a SQLite file cannot be read and
written by two connections at once anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.hooks.sql import DEFAULT_BATCH_SIZE, hook_for_connection


class GenericTransfer(BaseOperator):
    """Run ``preoperator`` on the destination, then move the rows of ``sql`` (run on the source)
    into ``destination_table``; ``insert_args`` go to the destination hook's ``insert_rows``."""

    template_fields: ClassVar[tuple[str, ...]] = (
        "source_conn_id",
        "destination_conn_id",
        "sql",
        "destination_table",
        "preoperator",
        "insert_args",
    )
    template_ext: ClassVar[tuple[str, ...]] = (".sql", ".hql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"preoperator": "sql"}
    ui_color: ClassVar[str] = "#b0f07c"

    def __init__(
        self,
        *,
        sql: str,
        destination_table: str,
        source_conn_id: str,
        destination_conn_id: str,
        source_hook_params: Mapping[str, Any] | None = None,
        destination_hook_params: Mapping[str, Any] | None = None,
        preoperator: str | Sequence[str] | None = None,
        insert_args: Mapping[str, Any] | None = None,
        page_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise AirflowException(f"task {self.task_id!r}: page_size must be a whole number of at least 1")
        self.sql = sql
        self.destination_table = destination_table
        self.source_conn_id = source_conn_id
        self.destination_conn_id = destination_conn_id
        self.source_hook_params = dict(source_hook_params or {})
        self.destination_hook_params = dict(destination_hook_params or {})
        self.preoperator = preoperator
        self.insert_args: dict[str, Any] = dict(insert_args or {})
        self.page_size = page_size

    def execute(self, context: dict[str, Any]) -> None:
        self._check_rendered()
        source = hook_for_connection(self.source_conn_id, self.source_hook_params)
        destination = hook_for_connection(self.destination_conn_id, self.destination_hook_params)
        if self.preoperator:
            self.log.info("Running preoperator")
            self.log.info(self.preoperator)
            destination.run(self.preoperator)
        self.log.info("Extracting data from %s", self.source_conn_id)
        self.log.info("Executing: \n %s", self.sql)
        try:
            if source.get_uri() == destination.get_uri():
                self.log.info("Source and destination are the same database: copying with INSERT ... SELECT")
                count = destination.insert_from_query(self.destination_table, self.sql, **self.insert_args)
            else:
                rows = source.iter_records(self.sql, batch_size=self.page_size)
                self.log.info("Inserting rows into %s", self.destination_conn_id)
                count = destination.insert_rows(table=self.destination_table, rows=rows, **self.insert_args)
        except TypeError as exc:
            raise AirflowException(f"task {self.task_id!r}: bad insert_args: {exc}") from None
        self.log.info("Transferred %s rows into %s", count, self.destination_table)

    def _check_rendered(self) -> None:
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise AirflowException(f"task {self.task_id!r}: sql must be a non-empty SQL query, got {self.sql!r}")
        if not isinstance(self.destination_table, str) or not self.destination_table.strip():
            raise AirflowException(
                f"task {self.task_id!r}: destination_table must be a table name, got {self.destination_table!r}"
            )
