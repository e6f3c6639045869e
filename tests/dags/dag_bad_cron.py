"""Broken on purpose: minute 61 does not exist, so "61 * * * *" is not a valid cron schedule."""

import pendulum

from tradewind import DAG, EmptyOperator

with DAG(
    dag_id="dag_bad_cron",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="61 * * * *",
    catchup=False,
) as dag:
    EmptyOperator(task_id="never_scheduled")
