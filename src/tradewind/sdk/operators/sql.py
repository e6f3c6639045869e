"""``SQLExecuteQueryOperator``: run SQL on a connection's database and push the result to XCom,
as ``airflow.providers.common.sql.operators.sql``; with the older ``PostgresOperator`` and
``SqliteOperator`` spellings of it.

The return value (the ``return_value`` XCom) is the handler's result made plain JSON: rows become
lists, dates and datetimes ISO text, decimals numbers when a float holds them exactly and text
otherwise (see ``sql_results.json_safe_cell``). XCom values are capped by ``TRADEWIND_XCOM_MAX_BYTES``:
a query returning more fails the task with that limit in its message, so set ``do_xcom_push=False``
for statements whose rows nobody reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.hooks.sql import DbApiHook, hook_for_connection
from tradewind.sdk.hooks.sql_results import fetch_all_handler, json_safe_result, return_single_query_results

log = logging.getLogger("tradewind.task.operators")


class BaseSQLOperator(BaseOperator):
    """An operator that reaches a SQL database through ``conn_id`` (``database`` overrides its schema)."""

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        database: str | None = None,
        hook_params: Mapping[str, Any] | None = None,
        retry_on_failure: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.database = database
        self.hook_params: dict[str, Any] = dict(hook_params or {})
        self.retry_on_failure = retry_on_failure

    def get_db_hook(self) -> DbApiHook:
        """The SQL hook of ``conn_id``, chosen by the connection's type."""
        if not self.conn_id:
            raise AirflowException(f"task {self.task_id!r}: conn_id is required to run SQL")
        params = dict(self.hook_params)
        if self.database:
            params["schema"] = self.database
        return hook_for_connection(self.conn_id, params)


class SQLExecuteQueryOperator(BaseSQLOperator):
    """Run ``sql`` (a statement, a list of them, or a ``.sql`` template file) on ``conn_id``.

    ``split_statements`` splits one string into statements; ``return_last`` returns only the last
    statement's result; ``handler`` reads each result from the cursor (all rows by default).
    """

    template_fields: ClassVar[tuple[str, ...]] = ("conn_id", "sql", "parameters", "hook_params")
    template_ext: ClassVar[tuple[str, ...]] = (".sql", ".json")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}
    ui_color: ClassVar[str] = "#cdaaed"

    def __init__(
        self,
        *,
        sql: str | Sequence[str],
        autocommit: bool = False,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        handler: Callable[[Any], Any] = fetch_all_handler,
        output_processor: Callable[[list[Any], list[Any]], Any] | None = None,
        conn_id: str | None = None,
        database: str | None = None,
        split_statements: bool | None = None,
        return_last: bool = True,
        show_return_value_in_logs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql = sql
        self.autocommit = autocommit
        self.parameters = parameters
        self.handler = handler
        self.output_processor = output_processor
        self.split_statements = split_statements
        self.return_last = return_last
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: dict[str, Any]) -> Any:
        self.log.info("Executing: %s", self.sql)
        hook = self.get_db_hook()
        run_kwargs = {} if self.split_statements is None else {"split_statements": self.split_statements}
        output = hook.run(
            sql=self.sql,
            autocommit=self.autocommit,
            parameters=self.parameters,
            handler=self.handler if self.do_xcom_push else None,
            return_last=self.return_last,
            **run_kwargs,
        )
        if not self.do_xcom_push:
            return None
        if return_single_query_results(self.sql, self.return_last, self.split_statements):
            result = self._process_output([output], hook.descriptions[-1:])[-1]
        else:
            result = self._process_output(output, hook.descriptions)
        value = json_safe_result(result)
        if self.show_return_value_in_logs:
            self.log.info("Operator output is: %s", value)
        return value

    def _process_output(self, results: list[Any], descriptions: list[Any]) -> Any:
        """The results as they are, or as ``output_processor(results, descriptions)`` makes them."""
        if self.output_processor is None:
            return results
        return self.output_processor(results, descriptions)


class PostgresOperator(SQLExecuteQueryOperator):
    """Airflow's older ``PostgresOperator``: ``SQLExecuteQueryOperator`` on ``postgres_conn_id``."""

    ui_color: ClassVar[str] = "#ededed"

    def __init__(
        self, *, postgres_conn_id: str = "postgres_default", database: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(conn_id=postgres_conn_id, database=database, **kwargs)
        self.postgres_conn_id = postgres_conn_id


class SqliteOperator(SQLExecuteQueryOperator):
    """Airflow's older ``SqliteOperator``: ``SQLExecuteQueryOperator`` on ``sqlite_conn_id``."""

    ui_color: ClassVar[str] = "#cdaaed"

    def __init__(self, *, sqlite_conn_id: str = "sqlite_default", **kwargs: Any) -> None:
        super().__init__(conn_id=sqlite_conn_id, **kwargs)
        self.sqlite_conn_id = sqlite_conn_id
