"""Branching: a BranchPythonOperator picks which path runs; the other path is skipped.

``choose_path`` returns the task id to follow: ``small_batch`` when the ``batch_size`` param is at
most 100 (the default is 10), else ``large_batch``. The direct downstream task it did not pick is
skipped, and the skip flows on to ``large_batch_report``. ``join`` waits for both paths with the
trigger rule ``none_failed_min_one_success``: it runs because one path succeeded and none failed
(under the default ``all_success`` it would have been skipped too).

Trigger it with the conf ``{"batch_size": 500}`` to take the other path.

Expected final states with the default params (the run: success):

    start                success
    choose_path          success
    small_batch          success
    large_batch          skipped
    large_batch_report   skipped
    join                 success
"""

import pendulum

from tradewind import DAG, BashOperator, BranchPythonOperator, EmptyOperator, TriggerRule


def choose_path(params):
    return "small_batch" if params["batch_size"] <= 100 else "large_batch"


with DAG(
    dag_id="example_branching",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    params={"batch_size": 10},
    tags=["example"],
) as dag:
    start = EmptyOperator(task_id="start")
    choose = BranchPythonOperator(task_id="choose_path", python_callable=choose_path)
    small = BashOperator(task_id="small_batch", bash_command="echo 'loading {{ params.batch_size }} rows at once'")
    large = BashOperator(task_id="large_batch", bash_command="echo 'loading {{ params.batch_size }} rows in chunks'")
    large_report = EmptyOperator(task_id="large_batch_report")
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)

    start >> choose >> [small, large]
    large >> large_report
    [small, large_report] >> join
