"""The SQL check operators of ``common.sql``, run by ``tradewind dags test`` against a real
Postgres database and a SQLite file: the checks a user writes pass on good data, fail on bad data
with a log that says which check and why, and BranchSQLOperator skips the branch not taken."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Cli

pytestmark = pytest.mark.integration

DAG_FILE = textwrap.dedent("""
    from datetime import datetime, timezone
    from airflow import DAG
    from airflow.operators.empty import EmptyOperator
    from airflow.providers.common.sql.operators.sql import (
        BranchSQLOperator, SQLCheckOperator, SQLColumnCheckOperator, SQLExecuteQueryOperator,
        SQLIntervalCheckOperator, SQLTableCheckOperator, SQLThresholdCheckOperator, SQLValueCheckOperator,
    )

    C = "warehouse"
    with DAG("checks", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
        load = SQLExecuteQueryOperator(task_id="load", conn_id=C, do_xcom_push=False, sql=[
            "CREATE TABLE sales (id INTEGER, amount NUMERIC, region TEXT, ds TEXT)",
            "INSERT INTO sales VALUES (1, 10, 'north', '{{ ds }}'), (2, 30, 'south', '{{ ds }}'),"
            " (3, 20, NULL, '{{ ds }}'), (1, 10, 'north', '{{ macros.ds_add(ds, -7) }}'),"
            " (2, 11, 'south', '{{ macros.ds_add(ds, -7) }}')",
        ])
        checks = [
            SQLCheckOperator(task_id="check_ok", conn_id=C, sql="SELECT COUNT(*) FROM sales"),
            SQLCheckOperator(task_id="check_zero", conn_id=C, sql="SELECT COUNT(*) FROM sales WHERE amount > 100"),
            SQLValueCheckOperator(task_id="value_ok", conn_id=C, pass_value=58, tolerance=0.05,
                                  sql="SELECT SUM(amount) FROM sales WHERE ds = '{{ ds }}'"),
            SQLValueCheckOperator(task_id="value_bad", conn_id=C, sql="SELECT COUNT(*) FROM sales", pass_value=4),
            SQLIntervalCheckOperator(task_id="interval_ok", conn_id=C, table="sales", days_back=7,
                                     metrics_thresholds={"COUNT(*)": 2}),
            SQLIntervalCheckOperator(task_id="interval_bad", conn_id=C, table="sales", days_back=-7,
                                     metrics_thresholds={"COUNT(*)": 2, "SUM(amount)": 2}),
            SQLThresholdCheckOperator(task_id="threshold_ok", conn_id=C, sql="SELECT MAX(amount) FROM sales",
                                      min_threshold="SELECT MIN(amount) FROM sales", max_threshold=30),
            SQLThresholdCheckOperator(task_id="threshold_bad", conn_id=C, sql="SELECT MAX(amount) FROM sales",
                                      min_threshold=0, max_threshold=25),
            SQLTableCheckOperator(task_id="table_bad", conn_id=C, table="sales", partition_clause="ds = '{{ ds }}'",
                                  checks={"three_rows": {"check_statement": "COUNT(*) = 3"},
                                          "all_regions": {"check_statement": "COUNT(region) = COUNT(*)"}}),
            SQLColumnCheckOperator(task_id="columns_ok", conn_id=C, table="sales",
                                   column_mapping={
                                       "amount": {"min": {"geq_to": 10}, "max": {"less_than": 30, "tolerance": 0.1}},
                                       "region": {"distinct_check": {"equal_to": 2}},
                                   }),
        ]
        branch = BranchSQLOperator(task_id="branch", conn_id=C, sql="SELECT COUNT(*) > 4 FROM sales",
                                   follow_task_ids_if_true="many", follow_task_ids_if_false="few")
        load >> checks
        load >> branch >> [EmptyOperator(task_id="many"), EmptyOperator(task_id="few")]
""")

EXPECTED = {
    "load": "success",
    "check_ok": "success",
    "check_zero": "failed",
    "value_ok": "success",
    "value_bad": "failed",
    "interval_ok": "success",
    "interval_bad": "failed",
    "threshold_ok": "success",
    "threshold_bad": "failed",
    "table_bad": "failed",
    "columns_ok": "success",
    "branch": "success",
    "many": "success",
    "few": "skipped",
}


@pytest.fixture(params=["postgres", "sqlite"])
def warehouse_url(request: pytest.FixtureRequest, new_pg_url: Callable[[], str], tmp_path: Path) -> str:
    return new_pg_url() if request.param == "postgres" else f"sqlite:///{tmp_path / 'warehouse.db'}"


def test_check_operators_pass_and_fail_as_the_data_says(
    warehouse_url: str, new_pg_url: Callable[[], str], tmp_path: Path
):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "checks.py").write_text(DAG_FILE)
    cli = Cli(home=tmp_path, dags_folder=dags, database_url=new_pg_url()).with_env(
        TRADEWIND_CONN_WAREHOUSE=warehouse_url
    )
    cli("db", "migrate")

    result = cli("dags", "test", "checks", "2024-01-08")

    assert result.returncode == 1, result
    assert result.summary["state"] == "failed"
    assert {row["task_id"]: row["state"] for row in result.table()} == EXPECTED
    log = result.stdout + result.stderr
    assert "The following query returned zero rows" not in log
    assert "Test failed.\nQuery:\nSELECT COUNT(*) FROM sales WHERE amount > 100\nResults:\n(0,)" in log
    assert "Test failed.\nPass value:4.0" in log
    # A week before, 2 orders worth 21; on the day 3 worth 60: the count is within 2x, the total is not.
    assert "The following tests have failed:\n SUM(amount)\n" in log
    assert 'Threshold Check: "threshold_bad" failed.' in log
    assert "Result: 30.0 is not within thresholds 0.0 and 25.0" in log
    assert "Check: all_regions" in log and "Check: three_rows" not in log
