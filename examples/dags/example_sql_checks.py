"""SQL data-quality checks: the check operators of ``common.sql`` on a small table of orders.

Every task uses the connection ``sqlite_default`` (a SQLite file in the tradewind home folder
unless ``TRADEWIND_CONN_SQLITE_DEFAULT`` points elsewhere, a Postgres database say: the SQL here
runs on both).

- ``load_orders`` writes 10 orders dated ``{{ ds }}`` and 9 dated a week before, one of them
  a duplicate id.
- ``orders_exist`` (SQLCheckOperator): every value of the first row is truthy.
- ``ten_orders_today`` (SQLValueCheckOperator): today's count is 10.
- ``week_over_week`` (SQLIntervalCheckOperator): today's count and total against a week before,
  each within its ratio.
- ``total_in_range`` (SQLThresholdCheckOperator): today's total between a number and a query.
- ``table_checks`` (SQLTableCheckOperator): row count and positive amounts.
- ``column_checks`` (SQLColumnCheckOperator): no NULL ids, amounts between 1 and 100.
- ``ids_unique_last_week`` (SQLColumnCheckOperator) fails: last week's data has a duplicate id, and
  its log names the check, the value and what was expected.
- ``big_day`` (BranchSQLOperator) asks whether today's total is above 500: it is not, so
  ``celebrate`` is skipped and ``business_as_usual`` runs.

Expected final states (the run: failed, because ids_unique_last_week failed):

    load_orders            success
    orders_exist           success
    ten_orders_today       success
    week_over_week         success
    total_in_range         success
    table_checks           success
    column_checks          success
    ids_unique_last_week   failed
    big_day                success
    celebrate              skipped
    business_as_usual      success
"""

import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.providers.common.sql.operators.sql import (
    BranchSQLOperator,
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLIntervalCheckOperator,
    SQLTableCheckOperator,
    SQLThresholdCheckOperator,
    SQLValueCheckOperator,
)

CONN_ID = "sqlite_default"
TODAY = "day = '{{ ds }}'"
WEEK_BEFORE = "day = '{{ macros.ds_add(ds, -7) }}'"

with DAG(
    dag_id="example_sql_checks",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example", "sql"],
) as dag:
    load_orders = SQLExecuteQueryOperator(
        task_id="load_orders",
        conn_id=CONN_ID,
        sql=[
            "DROP TABLE IF EXISTS example_checked_orders",
            "CREATE TABLE example_checked_orders (id INTEGER, amount NUMERIC, day TEXT)",
            # Today: ids 1..10, amounts 5, 10, ... 50 (total 275).
            "INSERT INTO example_checked_orders VALUES "
            + ", ".join(f"({i}, {i * 5}, '{{{{ ds }}}}')" for i in range(1, 11)),
            # A week before: 9 orders, amounts 5 ... 45 (total 225), id 3 twice.
            "INSERT INTO example_checked_orders VALUES "
            + ", ".join(f"({i if i != 4 else 3}, {i * 5}, '{{{{ macros.ds_add(ds, -7) }}}}')" for i in range(1, 10)),
        ],
        do_xcom_push=False,
    )
    orders_exist = SQLCheckOperator(
        task_id="orders_exist",
        conn_id=CONN_ID,
        sql=f"SELECT COUNT(*), SUM(amount) FROM example_checked_orders WHERE {TODAY}",
    )
    ten_orders_today = SQLValueCheckOperator(
        task_id="ten_orders_today",
        conn_id=CONN_ID,
        sql=f"SELECT COUNT(*) FROM example_checked_orders WHERE {TODAY}",
        pass_value=10,
    )
    week_over_week = SQLIntervalCheckOperator(
        task_id="week_over_week",
        conn_id=CONN_ID,
        table="example_checked_orders",
        date_filter_column="day",
        days_back=7,
        metrics_thresholds={"COUNT(*)": 1.5, "SUM(amount)": 1.5},
    )
    total_in_range = SQLThresholdCheckOperator(
        task_id="total_in_range",
        conn_id=CONN_ID,
        sql=f"SELECT SUM(amount) FROM example_checked_orders WHERE {TODAY}",
        min_threshold=100,
        max_threshold=f"SELECT 2 * SUM(amount) FROM example_checked_orders WHERE {WEEK_BEFORE}",
    )
    table_checks = SQLTableCheckOperator(
        task_id="table_checks",
        conn_id=CONN_ID,
        table="example_checked_orders",
        partition_clause=TODAY,
        checks={
            "row_count_check": {"check_statement": "COUNT(*) = 10"},
            "amounts_positive": {"check_statement": "MIN(amount) > 0"},
        },
    )
    column_checks = SQLColumnCheckOperator(
        task_id="column_checks",
        conn_id=CONN_ID,
        table="example_checked_orders",
        partition_clause=TODAY,
        column_mapping={
            "id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
            "amount": {"min": {"geq_to": 1}, "max": {"leq_to": 100}},
        },
    )
    ids_unique_last_week = SQLColumnCheckOperator(
        task_id="ids_unique_last_week",
        conn_id=CONN_ID,
        table="example_checked_orders",
        partition_clause=WEEK_BEFORE,
        column_mapping={"id": {"unique_check": {"equal_to": 0}}},
    )
    big_day = BranchSQLOperator(
        task_id="big_day",
        conn_id=CONN_ID,
        sql=f"SELECT SUM(amount) > 500 FROM example_checked_orders WHERE {TODAY}",
        follow_task_ids_if_true="celebrate",
        follow_task_ids_if_false="business_as_usual",
    )
    celebrate = EmptyOperator(task_id="celebrate")
    business_as_usual = EmptyOperator(task_id="business_as_usual")

    checks = [orders_exist, ten_orders_today, week_over_week, total_in_range, table_checks, column_checks]
    load_orders >> checks
    load_orders >> ids_unique_last_week
    load_orders >> big_day >> [celebrate, business_as_usual]
