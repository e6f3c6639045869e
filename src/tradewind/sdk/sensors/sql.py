"""``SqlSensor``: poke a SQL query until its first cell says the condition holds, as
``airflow.providers.common.sql.sensors.sql``.

Each poke runs ``sql`` on ``conn_id``. With no ``success`` callable the first cell of the first row
must be truthy; ``success(cell)`` and ``failure(cell)`` decide otherwise (``failure`` fails the task,
or skips it with ``soft_fail``). No rows is "not yet", or a failure with ``fail_on_empty``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from tradewind.errors import AirflowException, AirflowSkipException
from tradewind.sdk.hooks.sql import DbApiHook, hook_for_connection
from tradewind.sdk.sensors.base import BaseSensorOperator


class SqlSensor(BaseSensorOperator):
    """Wait until ``sql`` on ``conn_id`` returns a row whose first cell passes."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "hook_params", "parameters")
    template_ext: ClassVar[tuple[str, ...]] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}
    ui_color: ClassVar[str] = "#7c7287"

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        success: Callable[[Any], bool] | None = None,
        failure: Callable[[Any], bool] | None = None,
        selector: Callable[[tuple[Any, ...]], Any] = itemgetter(0),
        fail_on_empty: bool = False,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("success", success), ("failure", failure), ("selector", selector)):
            if value is not None and not callable(value):
                raise AirflowException(
                    f"task {kwargs.get('task_id')!r}: {name} must be a callable taking the first cell, got {value!r}"
                )
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.sql = sql
        self.parameters = parameters
        self.success = success
        self.failure = failure
        self.selector = selector
        self.fail_on_empty = fail_on_empty
        self.hook_params: dict[str, Any] = dict(hook_params or {})

    def _get_hook(self) -> DbApiHook:
        return hook_for_connection(self.conn_id, self.hook_params)

    def poke(self, context: dict[str, Any]) -> bool:
        hook = self._get_hook()
        self.log.info("Poking: %s (with parameters %s)", self.sql, self.parameters)
        row = hook.get_first(self.sql, self.parameters)
        if row is None:
            if self.fail_on_empty:
                self._fail("No rows returned, raising as per fail_on_empty flag")
            return False
        cell = self.selector(row)
        if self.failure is not None and self.failure(cell):
            self._fail(f"Failure criteria met. self.failure({cell!r}) returned True")
        if self.success is not None:
            return bool(self.success(cell))
        return bool(cell)

    def _fail(self, message: str) -> None:
        if self.soft_fail:
            raise AirflowSkipException(message)
        raise AirflowException(message)
