"""What the SQL check operators decide from the rows a query returned, as Airflow 2.10's
common.sql check operators decide it: which checks pass, and the message of those that do not."""

from __future__ import annotations

import pytest

from tradewind.errors import AirflowException
from tradewind.sdk.operators import sql_check_rules as rules


def test_a_check_passes_only_when_every_value_of_the_first_row_is_truthy():
    rules.check_all_truthy("SELECT 1, 'x'", (1, "x"))
    with pytest.raises(AirflowException, match=r"Test failed.\nQuery:\nSELECT 1, 0\nResults:\n\(1, 0\)"):
        rules.check_all_truthy("SELECT 1, 0", (1, 0))
    with pytest.raises(AirflowException, match="returned zero rows: SELECT x FROM empty"):
        rules.check_all_truthy("SELECT x FROM empty", None)


@pytest.mark.parametrize(
    ("record", "pass_value", "tolerance", "verdicts"),
    [
        ((100,), 100, None, [True]),
        ((100.0, 99), "100", None, [True, False]),
        ((95, 105, 111), 100, 0.1, [True, True, False]),
        (("ok", "no"), "ok", None, [True, False]),
    ],
)
def test_a_value_check_compares_numbers_as_numbers_within_the_tolerance(record, pass_value, tolerance, verdicts):
    assert rules.value_matches(record, pass_value, tolerance) == verdicts


def test_a_value_check_on_text_results_against_a_number_is_a_clear_error():
    with pytest.raises(AirflowException, match="Converting a result to float failed"):
        rules.check_value("SELECT 'abc'", ("abc",), 5, None)
    with pytest.raises(AirflowException, match=r"Pass value:5.0\nTolerance:10.0%"):
        rules.check_value("SELECT 7", (7,), 5, 0.1)


def test_interval_ratios_flag_metrics_above_their_threshold_and_skip_zeros_when_told():
    results = rules.interval_ratios(
        current=(150, 0, 10),
        reference=(100, 5, 10),
        metrics=["COUNT(*)", "SUM(a)", "MAX(b)"],
        ratio_formula="max_over_min",
        ignore_zero=True,
        thresholds={"COUNT(*)": 1.2, "SUM(a)": 1.5, "MAX(b)": 1.01},
    )
    assert results == {"COUNT(*)": (1.5, False), "SUM(a)": (None, True), "MAX(b)": (1.0, True)}
    strict = rules.interval_ratios((0,), (5,), ["x"], "relative_diff", False, {"x": 1})
    assert strict == {"x": (None, False)}
    assert rules.interval_ratios((90,), (100,), ["x"], "relative_diff", True, {"x": 0.2}) == {"x": (0.1, True)}


def test_the_interval_check_queries_the_day_and_the_day_days_back():
    sql = rules.interval_sql("orders", ["COUNT(*)", "SUM(amount)"], "day", "{{ ds }}")
    assert sql == "SELECT COUNT(*), SUM(amount) FROM orders WHERE day='{{ ds }}'"


@pytest.mark.parametrize(("value", "number"), [(5, 5.0), (2.5, 2.5), ("10", 10.0), ("SELECT 3", None), (True, None)])
def test_a_threshold_is_a_number_or_a_query(value, number):
    assert rules.threshold_number(value) == number


@pytest.mark.parametrize(
    ("value", "follow_true"),
    [(True, True), (False, False), (1, True), (0, False), ("yes", True), ("OFF", False), ("1", True), (2.5, True)],
)
def test_a_branch_follows_the_first_value_of_the_first_row(value, follow_true):
    assert rules.branch_truth((value,), "SELECT x") is follow_true


def test_a_branch_on_an_unreadable_or_missing_answer_fails_clearly():
    with pytest.raises(AirflowException, match="Unexpected query return result 'maybe'"):
        rules.branch_truth(("maybe",), "SELECT x")
    with pytest.raises(AirflowException, match="zero rows"):
        rules.branch_truth(None, "SELECT x")


def test_table_checks_become_one_query_and_the_failed_ones_are_named():
    sql = rules.table_check_sql(
        "orders",
        {
            "row_count": {"check_statement": "COUNT(*) = 3"},
            "positive": {"check_statement": "MIN(a) > 0", "partition_clause": "b = 1"},
        },
        partition_clause="c IS NOT NULL",
    )
    assert sql.count("UNION ALL") == 1
    assert "CASE WHEN COUNT(*) = 3 THEN 1 ELSE 0 END AS row_count FROM orders WHERE c IS NOT NULL)" in sql
    assert "FROM orders WHERE c IS NOT NULL AND b = 1)" in sql
    checks = {"row_count": {}, "positive": {}}
    assert rules.failed_table_checks(checks, [("row_count", 1), ("positive", 0)]) == ["positive"]


def test_a_table_check_without_a_statement_is_refused():
    with pytest.raises(AirflowException, match="'row_count' has no 'check_statement'"):
        rules.table_check_sql("t", {"row_count": {}}, None)


def test_column_checks_are_validated_when_the_dag_is_written():
    rules.validate_column_mapping({"id": {"null_check": {"equal_to": 0}, "min": {"geq_to": 1, "leq_to": 9}}})
    with pytest.raises(AirflowException, match="Invalid column check: avg"):
        rules.validate_column_mapping({"id": {"avg": {"equal_to": 0}}})
    with pytest.raises(AirflowException, match="please provide one or more of"):
        rules.validate_column_mapping({"id": {"max": {"tolerance": 0.1}}})
    with pytest.raises(AirflowException, match="equal_to cannot be combined"):
        rules.validate_column_mapping({"id": {"max": {"equal_to": 1, "less_than": 3}}})


def test_column_check_sql_names_each_check_and_its_column():
    sql = rules.column_check_sql("t", "id", {"null_check": {"equal_to": 0}, "max": {"less_than": 5}}, None)
    assert sql.startswith("SELECT 'id' AS col_name, check_type, check_result FROM (")
    assert "SUM(CASE WHEN id IS NULL THEN 1 ELSE 0 END) AS check_result" in sql
    assert "SELECT 'max' AS check_type, MAX(id) AS check_result" in sql


@pytest.mark.parametrize(
    ("values", "result", "passes"),
    [
        ({"equal_to": 0}, 0, True),
        ({"equal_to": 0}, 1, False),
        ({"equal_to": 100, "tolerance": 0.1}, 109, True),
        ({"geq_to": 10, "less_than": 20}, 10, True),
        ({"greater_than": 10, "leq_to": 20}, 10, False),
        ({"less_than": 20, "tolerance": 0.5}, 29, True),
        ({"geq_to": 0}, None, True),
    ],
)
def test_a_column_check_result_meets_its_comparisons(values, result, passes):
    assert rules.column_check_passes(values, result, accept_none=True) is passes


def test_a_null_result_fails_when_none_is_not_accepted():
    assert rules.column_check_passes({"geq_to": 0}, None, accept_none=False) is False
