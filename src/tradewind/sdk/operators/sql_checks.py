"""The data-quality operators of ``airflow.providers.common.sql.operators.sql``: a task that runs a
query and fails when its answer is not what the DAG author expects, or branches on it.

- ``SQLCheckOperator``: every value of the first row is truthy.
- ``SQLValueCheckOperator``: the first row equals ``pass_value`` (within ``tolerance``).
- ``SQLIntervalCheckOperator``: metrics of ``{{ ds }}`` against ``days_back`` days before.
- ``SQLThresholdCheckOperator``: one value between two bounds (numbers or queries).
- ``BranchSQLOperator``: follow one set of tasks or the other, as the query says.
- ``SQLTableCheckOperator`` / ``SQLColumnCheckOperator``: named checks on a table and its columns.

They reach the database through ``BaseSQLOperator.get_db_hook``; what passes is decided in
``sql_check_rules``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.operators import sql_check_rules as rules
from tradewind.sdk.operators.branch import branch_choice
from tradewind.sdk.operators.python import BranchMixIn
from tradewind.sdk.operators.sql import BaseSQLOperator


class SQLCheckOperator(BaseSQLOperator):
    """Fails unless the first row of ``sql`` exists and all its values are truthy."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "parameters")
    template_ext: ClassVar[tuple[str, ...]] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color: ClassVar[str] = "#fff7e6"

    def __init__(
        self,
        *,
        sql: str,
        conn_id: str | None = None,
        database: str | None = None,
        parameters: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql = sql
        self.parameters = parameters

    def execute(self, context: dict[str, Any]) -> None:
        self.log.info("Executing SQL check: %s", self.sql)
        record = self.get_db_hook().get_first(self.sql, self.parameters)
        self.log.info("Record: %s", record)
        rules.check_all_truthy(self.sql, record)
        self.log.info("Success.")


class SQLValueCheckOperator(BaseSQLOperator):
    """Fails unless every value of the first row of ``sql`` equals ``pass_value``: as numbers,
    within ``tolerance`` (a fraction: 0.1 allows 10 % either way), when ``pass_value`` is one."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "pass_value")
    template_ext: ClassVar[tuple[str, ...]] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color: ClassVar[str] = "#fff7e6"

    def __init__(
        self,
        *,
        sql: str,
        pass_value: Any,
        tolerance: Any = None,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql = sql
        self.pass_value = str(pass_value)
        self.tol = float(tolerance) if tolerance is not None else None
        self.has_tolerance = self.tol is not None

    def execute(self, context: dict[str, Any]) -> None:
        self.log.info("Executing SQL check: %s", self.sql)
        record = self.get_db_hook().get_first(self.sql)
        rules.check_value(self.sql, record, self.pass_value, self.tol)
        self.log.info("Success.")


class SQLIntervalCheckOperator(BaseSQLOperator):
    """Fails when a metric of the run's day (``date_filter_column = '{{ ds }}'``) differs from the
    same metric ``days_back`` days before by more than its threshold (``metrics_thresholds``:
    SQL expression -> highest ratio allowed, by ``ratio_formula``)."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql1", "sql2")
    template_ext: ClassVar[tuple[str, ...]] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql1": "sql", "sql2": "sql"}
    ui_color: ClassVar[str] = "#fff7e6"

    def __init__(
        self,
        *,
        table: str,
        metrics_thresholds: Mapping[str, float],
        date_filter_column: str = "ds",
        days_back: int = -7,
        ratio_formula: str = "max_over_min",
        ignore_zero: bool = True,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        if ratio_formula not in rules.RATIO_FORMULAS:
            raise AirflowException(
                f"Invalid diff_method: {ratio_formula}. Supported diff methods are: {list(rules.RATIO_FORMULAS)}"
            )
        if not metrics_thresholds:
            raise AirflowException("SQLIntervalCheckOperator needs at least one metric in metrics_thresholds")
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.table = table
        self.metrics_thresholds = dict(metrics_thresholds)
        self.metrics_sorted = sorted(self.metrics_thresholds)
        self.date_filter_column = date_filter_column
        self.days_back = -abs(days_back)
        self.ratio_formula = ratio_formula
        self.ignore_zero = ignore_zero
        self.sql1 = rules.interval_sql(table, self.metrics_sorted, date_filter_column, "{{ ds }}")
        self.sql2 = rules.interval_sql(
            table, self.metrics_sorted, date_filter_column, f"{{{{ macros.ds_add(ds, {self.days_back}) }}}}"
        )

    def execute(self, context: dict[str, Any]) -> None:
        hook = self.get_db_hook()
        self.log.info("Using ratio formula: %s", self.ratio_formula)
        self.log.info("Executing SQL check: %s", self.sql2)
        reference = hook.get_first(self.sql2)
        self.log.info("Executing SQL check: %s", self.sql1)
        current = hook.get_first(self.sql1)
        if not reference:
            raise rules.zero_rows(self.sql2)
        if not current:
            raise rules.zero_rows(self.sql1)
        results = rules.interval_ratios(
            current, reference, self.metrics_sorted, self.ratio_formula, self.ignore_zero, self.metrics_thresholds
        )
        for metric, (ratio, passed) in results.items():
            threshold = self.metrics_thresholds[metric]
            self.log.info("Current metric for %s: %s; ratio %s, threshold %s", metric, current, ratio, threshold)
            if not passed:
                self.log.warning("'%s' check failed. %s is above %s", metric, ratio, threshold)
        failed = sorted(metric for metric, (_, passed) in results.items() if not passed)
        if failed:
            raise AirflowException(f"The following tests have failed:\n {', '.join(failed)}")
        self.log.info("All tests have passed")


class SQLThresholdCheckOperator(BaseSQLOperator):
    """Fails unless the first value of ``sql`` lies between ``min_threshold`` and
    ``max_threshold``, each a number or a query whose first value is one."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "min_threshold", "max_threshold")
    template_ext: ClassVar[tuple[str, ...]] = (".hql", ".sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color: ClassVar[str] = "#fff7e6"

    def __init__(
        self,
        *,
        sql: str,
        min_threshold: Any,
        max_threshold: Any,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql = sql
        self.min_threshold = min_threshold
        self.max_threshold = max_threshold

    def execute(self, context: dict[str, Any]) -> None:
        hook = self.get_db_hook()
        result = self._first_value(hook, self.sql)
        lower = self._bound(hook, self.min_threshold)
        upper = self._bound(hook, self.max_threshold)
        within = lower <= result <= upper
        self.log.info(
            "Threshold check %s: result %s, min_threshold %s, max_threshold %s, within_threshold %s",
            self.task_id,
            result,
            lower,
            upper,
            within,
        )
        if not within:
            raise AirflowException(
                f'Threshold Check: "{self.task_id}" failed.\nDAG: {self.dag_id}\nTask_id: {self.task_id}\n'
                f"SQL: {self.sql}\nResult: {round(result, 2)} is not within thresholds {lower} and {upper}"
            )
        self.log.info("Test %s Successful.", self.task_id)

    def _bound(self, hook: Any, threshold: Any) -> float:
        number = rules.threshold_number(threshold)
        return number if number is not None else self._first_value(hook, str(threshold))

    @staticmethod
    def _first_value(hook: Any, sql: str) -> float:
        record = hook.get_first(sql)
        if not record:
            raise rules.zero_rows(sql)
        try:
            return float(record[0])
        except (TypeError, ValueError):
            raise AirflowException(f"The query {sql!r} did not return a number: {record[0]!r}") from None


class BranchSQLOperator(BaseSQLOperator, BranchMixIn):
    """Follows ``follow_task_ids_if_true`` when the first value of ``sql`` is true (a true bool, a
    non-zero number, or text like ``yes``/``true``/``1``), ``follow_task_ids_if_false`` when it
    is false; the other direct downstream tasks are skipped."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "parameters")
    template_ext: ClassVar[tuple[str, ...]] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color: ClassVar[str] = "#a22034"
    ui_fgcolor: ClassVar[str] = "#F7F7F7"

    def __init__(
        self,
        *,
        sql: str,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        conn_id: str = "default_conn_id",
        database: str | None = None,
        parameters: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql = sql
        self.parameters = parameters
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false

    def execute(self, context: dict[str, Any]) -> Any:
        self.log.info("Executing: %s (with parameters %s)", self.sql, self.parameters)
        record = self.get_db_hook().get_first(self.sql, self.parameters)
        self.log.info("Query returns %s", record)
        chosen = self.follow_task_ids_if_true if rules.branch_truth(record, self.sql) else self.follow_task_ids_if_false
        return self.do_branch(context, branch_choice(chosen))


class SQLTableCheckOperator(BaseSQLOperator):
    """Named checks on a whole table, each a boolean SQL expression over it::

        checks={"row_count_check": {"check_statement": "COUNT(*) = 1000"},
                "amount_positive": {"check_statement": "MIN(amount) > 0", "partition_clause": "day = '{{ ds }}'"}}

    ``partition_clause`` (of the task, of a check, or both) narrows the rows checked.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("partition_clause", "table", "sql", "checks")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color: ClassVar[str] = "#fff7e6"

    def __init__(
        self,
        *,
        table: str,
        checks: Mapping[str, Mapping[str, Any]],
        partition_clause: str | None = None,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.table = table
        self.checks = {name: dict(check) for name, check in checks.items()}
        self.partition_clause = partition_clause
        self.sql = rules.table_check_sql(table, self.checks, partition_clause)

    def execute(self, context: dict[str, Any]) -> None:
        # Rebuilt here: the table, checks and partition clause may have been templated.
        self.sql = rules.table_check_sql(self.table, self.checks, self.partition_clause)
        self.log.info("Running statement: %s", self.sql)
        records = self.get_db_hook().get_records(self.sql)
        if not records:
            raise rules.zero_rows(self.sql)
        self.log.info("Record:\n%s", records)
        failed = rules.failed_table_checks(self.checks, records)
        for name, result in records:
            self.checks[str(name)]["success"] = bool(result)
        if failed:
            listed = "\n".join(f"\tCheck: {name},\n\tCheck Values: {self.checks[name]}\n" for name in failed)
            raise AirflowException(
                f"Test failed.\nQuery:\n{self.sql}\nResults:\n{records!s}\nThe following tests have failed:\n{listed}"
            )
        self.log.info("All tests have passed")


class SQLColumnCheckOperator(BaseSQLOperator):
    """Checks on columns: ``null_check``, ``distinct_check``, ``unique_check``, ``min``, ``max``,
    each compared with ``equal_to``, ``greater_than``, ``geq_to``, ``less_than`` or ``leq_to``
    (``tolerance`` widens the comparison by that fraction)::

        column_mapping={"id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
                        "amount": {"min": {"geq_to": 0}, "max": {"less_than": 1000, "tolerance": 0.1}}}

    ``accept_none`` counts a NULL result (an empty table's MIN) as 0.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("partition_clause", "table", "sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color: ClassVar[str] = "#fff7e6"

    def __init__(
        self,
        *,
        table: str,
        column_mapping: Mapping[str, Mapping[str, Mapping[str, Any]]],
        partition_clause: str | None = None,
        accept_none: bool = True,
        conn_id: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        rules.validate_column_mapping(column_mapping)
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.table = table
        self.column_mapping = {
            column: {check: dict(values) for check, values in checks.items()}
            for column, checks in column_mapping.items()
        }
        self.partition_clause = partition_clause
        self.accept_none = accept_none
        self.sql = self._sql()

    def _sql(self) -> str:
        return " UNION ALL ".join(
            rules.column_check_sql(self.table, column, checks, self.partition_clause)
            for column, checks in self.column_mapping.items()
        )

    def execute(self, context: dict[str, Any]) -> None:
        hook = self.get_db_hook()
        failed: list[str] = []
        for column, checks in self.column_mapping.items():
            sql = rules.column_check_sql(self.table, column, checks, self.partition_clause)
            self.log.info("Running statement: %s", sql)
            records = hook.get_records(sql)
            if not records:
                raise rules.zero_rows(sql)
            self.log.info("Record: %s", records)
            for _, check, result in records:
                values = checks[str(check)]
                values["result"] = result
                values["success"] = rules.column_check_passes(values, result, self.accept_none)
                if not values["success"]:
                    failed.append(f"\tColumn: {column}\n\tCheck: {check},\n\tCheck Values: {values}\n")
        if failed:
            raise AirflowException(
                f"Test failed.\nResults:\n{self.column_mapping}\nThe following tests have failed:\n{''.join(failed)}"
            )
        self.log.info("All tests have passed")
