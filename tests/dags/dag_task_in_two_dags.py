"""Broken on purpose: a task made in one DAG is added to a second DAG."""

import pendulum

from tradewind import DAG, EmptyOperator

START = pendulum.datetime(2024, 1, 1, tz="UTC")

with DAG(dag_id="dag_task_in_two_dags_first", start_date=START, schedule=None, catchup=False) as first:
    shared = EmptyOperator(task_id="shared")

with DAG(dag_id="dag_task_in_two_dags_second", start_date=START, schedule=None, catchup=False) as second:
    second.add_tasks([shared])
