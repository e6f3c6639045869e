"""Broken on purpose: a >> b >> c >> a is a cycle, so the file is an import error."""

import pendulum

from tradewind import DAG, EmptyOperator

with DAG(
    dag_id="dag_with_cycle",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    c = EmptyOperator(task_id="c")
    a >> b >> c >> a
