"""Broken on purpose: two tasks share the task id "load"."""

import pendulum

from tradewind import DAG, EmptyOperator

with DAG(
    dag_id="dag_duplicate_task_id",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    first = EmptyOperator(task_id="load")
    second = EmptyOperator(task_id="load")
    first >> second
