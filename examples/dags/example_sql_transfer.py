"""SQL: create and fill a table, wait for its rows, copy a summary with GenericTransfer, read it back.

Every task uses the connection ``sqlite_default``, which needs no set-up: as in Airflow, when it
is not defined it is a SQLite file, ``sqlite_default.db`` in the tradewind home folder. Point it
anywhere else with ``TRADEWIND_CONN_SQLITE_DEFAULT`` or ``tradewind connections add``.

- ``create_orders`` (SQLExecuteQueryOperator) runs a list of statements in one transaction.
- ``fill_orders`` inserts 1,000 orders dated ``{{ ds }}`` with one templated statement.
- ``wait_for_orders`` (SqlSensor) pokes ``SELECT COUNT(*)`` until ``success`` says all 1,000 are there.
- ``copy_totals`` (GenericTransfer) recreates ``example_order_totals`` (its ``preoperator``) and
  fills it with one row per customer. Source and destination are the same database here, so the
  rows are copied inside it; with another ``destination_conn_id`` (a Postgres warehouse, say) they
  stream across in batches.
- ``report`` returns the totals as its XCom, rows as JSON lists; ``check_report`` pulls and checks them.

Expected final states (the run: success):

    create_orders     success
    fill_orders       success
    wait_for_orders   success
    copy_totals       success
    report            success
    check_report      success
"""

import pendulum
from airflow import DAG
from airflow.operators.generic_transfer import GenericTransfer
from airflow.operators.python import PythonOperator
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.common.sql.sensors.sql import SqlSensor

CONN_ID = "sqlite_default"
ORDERS = 1000
CUSTOMERS = 7


def check_report(ti):
    rows = ti.xcom_pull(task_ids="report")
    assert len(rows) == CUSTOMERS, rows
    assert sum(orders for _, orders, _ in rows) == ORDERS, rows
    total = round(sum(amount for _, _, amount in rows), 2)
    # 1.5 + 3.0 + ... + 1500.0
    assert total == 1.5 * ORDERS * (ORDERS + 1) / 2, total
    print(f"{len(rows)} customers, {ORDERS} orders, {total} in total")
    return total


with DAG(
    dag_id="example_sql_transfer",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["example", "sql"],
) as dag:
    create_orders = SQLExecuteQueryOperator(
        task_id="create_orders",
        conn_id=CONN_ID,
        sql=[
            "DROP TABLE IF EXISTS example_orders",
            "CREATE TABLE example_orders (id INTEGER PRIMARY KEY, customer TEXT, amount NUMERIC, placed TEXT)",
        ],
        do_xcom_push=False,
    )
    fill_orders = SQLExecuteQueryOperator(
        task_id="fill_orders",
        conn_id=CONN_ID,
        sql=f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ORDERS})
            INSERT INTO example_orders
            SELECT i, 'customer ' || (i % {CUSTOMERS}), i * 1.5, '{{{{ ds }}}}' FROM n
        """,
        do_xcom_push=False,
    )
    wait_for_orders = SqlSensor(
        task_id="wait_for_orders",
        conn_id=CONN_ID,
        sql="SELECT COUNT(*) FROM example_orders WHERE placed = '{{ ds }}'",
        success=lambda count: count >= ORDERS,
        poke_interval=0.2,
        timeout=60,
    )
    copy_totals = GenericTransfer(
        task_id="copy_totals",
        source_conn_id=CONN_ID,
        destination_conn_id=CONN_ID,
        sql="SELECT customer, COUNT(*), SUM(amount) FROM example_orders GROUP BY customer",
        destination_table="example_order_totals",
        preoperator=[
            "DROP TABLE IF EXISTS example_order_totals",
            "CREATE TABLE example_order_totals (customer TEXT PRIMARY KEY, orders INTEGER, amount NUMERIC)",
        ],
        insert_args={"target_fields": ["customer", "orders", "amount"]},
    )
    report = SQLExecuteQueryOperator(
        task_id="report",
        conn_id=CONN_ID,
        sql="SELECT customer, orders, amount FROM example_order_totals ORDER BY customer",
    )
    check = PythonOperator(task_id="check_report", python_callable=check_report)

    create_orders >> fill_orders >> wait_for_orders >> copy_totals >> report >> check
