"""Broken on purpose: a DAG with a schedule needs a start_date (on the DAG or on every task)."""

from tradewind import DAG, EmptyOperator

with DAG(
    dag_id="dag_schedule_without_start_date",
    schedule="@daily",
    catchup=False,
) as dag:
    EmptyOperator(task_id="when")
