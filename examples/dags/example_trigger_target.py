"""The DAG example_trigger_dagrun triggers: it prints the conf its run was given.

Run by itself it has no conf and says so.

Expected final states (the run: success):

    show_conf   success
"""

import pendulum

from tradewind import DAG, PythonOperator


def show_conf(dag_run):
    message = (dag_run.conf or {}).get("message")
    print(f"triggered with message: {message}" if message else "run without a conf")


with DAG(
    dag_id="example_trigger_target",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    PythonOperator(task_id="show_conf", python_callable=show_conf)
