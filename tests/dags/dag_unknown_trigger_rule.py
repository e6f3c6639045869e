"""Broken on purpose: "all_sucess" (sic) is not a trigger rule."""

import pendulum

from tradewind import DAG, EmptyOperator

with DAG(
    dag_id="dag_unknown_trigger_rule",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    start = EmptyOperator(task_id="start")
    typo = EmptyOperator(task_id="typo", trigger_rule="all_sucess")
    start >> typo
