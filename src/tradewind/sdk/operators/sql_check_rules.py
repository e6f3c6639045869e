"""What the SQL check operators decide, apart from any database: the SQL each check runs and
whether the rows it returns pass, as Airflow 2.10's ``common.sql`` check operators decide it.

Every function takes plain values (rows as tuples, the operator's arguments) and returns plain
values or raises ``AirflowException`` with the message the task's log shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tradewind.errors import AirflowException

#: The column checks ``SQLColumnCheckOperator`` knows, as SQL over ``{column}``.
COLUMN_CHECKS: Mapping[str, str] = {
    "null_check": "SUM(CASE WHEN {column} IS NULL THEN 1 ELSE 0 END)",
    "distinct_check": "COUNT(DISTINCT({column}))",
    "unique_check": "COUNT({column}) - COUNT(DISTINCT({column}))",
    "min": "MIN({column})",
    "max": "MAX({column})",
}

#: The comparisons a column check may set.
COMPARISONS = ("greater_than", "geq_to", "less_than", "leq_to", "equal_to")

#: ``SQLIntervalCheckOperator``'s ratio formulas: (current, reference) -> ratio.
RATIO_FORMULAS: Mapping[str, Callable[[float, float], float]] = {
    "max_over_min": lambda cur, ref: max(cur, ref) / min(cur, ref),
    "relative_diff": lambda cur, ref: abs(cur - ref) / ref,
}

_TRUE_TEXT = ("true", "y", "yes", "on", "1")
_FALSE_TEXT = ("false", "n", "no", "off", "0")


def zero_rows(sql: str) -> AirflowException:
    return AirflowException(f"The following query returned zero rows: {sql}")


# -- SQLCheckOperator, SQLValueCheckOperator --------------------------------------------------------


def check_all_truthy(sql: str, record: Sequence[Any] | None) -> None:
    """``SQLCheckOperator``: the first row exists and every value in it is truthy."""
    if not record:
        raise zero_rows(sql)
    if not all(record):
        raise AirflowException(f"Test failed.\nQuery:\n{sql}\nResults:\n{tuple(record)!s}")


def as_float_if_possible(value: Any) -> Any:
    """``value`` as a float when it reads as a number, else as it is (Airflow's conversion)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def value_matches(record: Sequence[Any], pass_value: Any, tolerance: float | None) -> list[bool]:
    """``SQLValueCheckOperator``: one verdict per value of the row. A numeric ``pass_value`` is
    compared as a number (within ``tolerance``, a fraction, when given); any other as text."""
    expected = as_float_if_possible(pass_value)
    if not isinstance(expected, float):
        return [str(value) == str(expected) for value in record]
    try:
        values = [float(value) for value in record]
    except (TypeError, ValueError):
        raise AirflowException("Converting a result to float failed") from None
    if tolerance is None:
        return [value == expected for value in values]
    return [expected * (1 - tolerance) <= value <= expected * (1 + tolerance) for value in values]


def check_value(sql: str, record: Sequence[Any] | None, pass_value: Any, tolerance: float | None) -> None:
    if not record:
        raise zero_rows(sql)
    if not all(value_matches(record, pass_value, tolerance)):
        tolerance_text = f"{tolerance:.1%}" if tolerance is not None else None
        raise AirflowException(
            f"Test failed.\nPass value:{as_float_if_possible(pass_value)}\nTolerance:{tolerance_text}\n"
            f"Query:\n{sql}\nResults:\n{tuple(record)!s}"
        )


# -- SQLIntervalCheckOperator -----------------------------------------------------------------------


def interval_sql(table: str, metrics: Sequence[str], date_filter_column: str, date_template: str) -> str:
    return f"SELECT {', '.join(metrics)} FROM {table} WHERE {date_filter_column}='{date_template}'"


def interval_ratios(
    current: Sequence[Any],
    reference: Sequence[Any],
    metrics: Sequence[str],
    ratio_formula: str,
    ignore_zero: bool,
    thresholds: Mapping[str, float],
) -> dict[str, tuple[float | None, bool]]:
    """``{metric: (ratio, passed)}``: a metric passes when its ratio is below its threshold; one
    that is zero or NULL on either day has no ratio and passes only with ``ignore_zero``."""
    formula = RATIO_FORMULAS[ratio_formula]
    results: dict[str, tuple[float | None, bool]] = {}
    for metric, cur, ref in zip(metrics, current, reference, strict=True):
        if cur is None or ref is None or cur == 0 or ref == 0:
            results[metric] = (None, ignore_zero)
        else:
            ratio = formula(float(cur), float(ref))
            results[metric] = (ratio, ratio < float(thresholds[metric]))
    return results


# -- SQLThresholdCheckOperator ----------------------------------------------------------------------


def threshold_number(value: Any) -> float | None:
    """A threshold given as a number (or text reading as one); None when it is SQL to run."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    converted = as_float_if_possible(value)
    return converted if isinstance(converted, float) else None


# -- BranchSQLOperator ------------------------------------------------------------------------------


def branch_truth(record: Sequence[Any] | None, sql: str) -> bool:
    """Whether the first value of the first row says to follow the "true" branch."""
    if not record:
        raise zero_rows(sql)
    value = record[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.strip().lower() in _TRUE_TEXT:
            return True
        if value.strip().lower() in _FALSE_TEXT:
            return False
    elif isinstance(value, int | float):
        return bool(value)
    raise AirflowException(f"Unexpected query return result '{value}' type '{type(value)}'")


# -- SQLTableCheckOperator --------------------------------------------------------------------------


def _where(*clauses: str | None) -> str:
    present = [clause for clause in clauses if clause]
    return f"WHERE {' AND '.join(present)}" if present else ""


def table_check_sql(table: str, checks: Mapping[str, Mapping[str, Any]], partition_clause: str | None) -> str:
    """One query answering every table check as a row ``(check_name, 1 or 0)``."""
    if not checks:
        raise AirflowException("SQLTableCheckOperator needs at least one check")
    parts = []
    for name, check in checks.items():
        statement = check.get("check_statement")
        if not statement:
            raise AirflowException(f"table check {name!r} has no 'check_statement'")
        where = _where(partition_clause, check.get("partition_clause"))
        parts.append(
            f"SELECT '{name}' AS check_name, MIN({name}) AS check_result FROM "
            f"(SELECT CASE WHEN {statement} THEN 1 ELSE 0 END AS {name} FROM {table} {where}) AS sq"
        )
    return " UNION ALL ".join(parts)


def failed_table_checks(checks: Mapping[str, Mapping[str, Any]], records: Sequence[Sequence[Any]]) -> list[str]:
    """The names of the checks whose row says 0 (or that gave no row)."""
    results = {str(name): result for name, result in records}
    return [name for name in checks if not results.get(name)]


# -- SQLColumnCheckOperator -------------------------------------------------------------------------


def validate_column_mapping(column_mapping: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
    """Every check is a known one with at least one comparison; ``equal_to`` stands alone."""
    if not column_mapping:
        raise AirflowException("SQLColumnCheckOperator needs at least one column to check")
    for column, checks in column_mapping.items():
        for check, values in checks.items():
            if check not in COLUMN_CHECKS:
                raise AirflowException(f"Invalid column check: {check}. Known checks: {', '.join(COLUMN_CHECKS)}")
            given = [name for name in COMPARISONS if name in values]
            if not given:
                raise AirflowException(
                    f"column {column!r}, check {check!r}: please provide one or more of: "
                    "less_than, leq_to, greater_than, geq_to, or equal_to in the check's dict."
                )
            if "equal_to" in given and len(given) > 1:
                raise AirflowException(
                    f"column {column!r}, check {check!r}: equal_to cannot be combined with another comparison"
                )


def column_check_sql(
    table: str, column: str, checks: Mapping[str, Mapping[str, Any]], partition_clause: str | None
) -> str:
    """One query answering a column's checks as rows ``(column, check, result)``."""
    parts = [
        f"SELECT '{check}' AS check_type, {COLUMN_CHECKS[check].format(column=column)} AS check_result "
        f"FROM {table} {_where(partition_clause, values.get('partition_clause'))}"
        for check, values in checks.items()
    ]
    union = " UNION ALL ".join(parts)
    return f"SELECT '{column}' AS col_name, check_type, check_result FROM ({union}) AS check_columns"


def column_check_passes(values: Mapping[str, Any], result: Any, accept_none: bool) -> bool:
    """Whether one column check's result meets its comparisons (``tolerance``, a fraction, widens them)."""
    if result is None:
        if not accept_none:
            return False
        result = 0
    tolerance = values.get("tolerance")
    low = 1 - tolerance if tolerance is not None else 1
    high = 1 + tolerance if tolerance is not None else 1
    passed = True
    if "geq_to" in values:
        passed = result >= values["geq_to"] * low
    elif "greater_than" in values:
        passed = result > values["greater_than"] * low
    if "leq_to" in values:
        passed = passed and result <= values["leq_to"] * high
    elif "less_than" in values:
        passed = passed and result < values["less_than"] * high
    if "equal_to" in values:
        expected = values["equal_to"]
        passed = expected * low <= result <= expected * high if tolerance is not None else result == expected
    return bool(passed)
