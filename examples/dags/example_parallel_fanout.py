"""Thirty independent tasks that run side by side on whichever workers are free, then a join.

Each ``work_NN`` task sleeps ``params.seconds`` (1 by default; trigger with the conf
``{"seconds": 5}`` to make them longer) and prints the host it ran on. With several workers the
tasks spread over them; the grid's task-instance panel shows each one's host. Every task retries
twice, so a worker lost in the middle of a run costs a retry, not the run.

Expected final states (the run: success):

    work_00 … work_29   success
    all_done            success
"""

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator

WIDTH = 30

with DAG(
    dag_id="example_parallel_fanout",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    max_active_tasks=WIDTH,
    params={"seconds": 1},
    default_args={"retries": 2, "retry_delay": pendulum.duration(seconds=2)},
    tags=["example"],
) as dag:
    all_done = EmptyOperator(task_id="all_done")
    for index in range(WIDTH):
        (
            BashOperator(
                task_id=f"work_{index:02d}",
                bash_command='sleep "{{ params.seconds }}"; echo "ran on $(hostname)"',
            )
            >> all_done
        )
