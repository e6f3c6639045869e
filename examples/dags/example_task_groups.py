"""Task groups: boxes of tasks that nest, prefix their tasks' ids and carry default_args.

- ``ingest`` holds a nested group ``sources`` and the task ``merge``; the ids become
  ``ingest.sources.from_api`` and ``ingest.merge``.
- ``ingest`` gives its tasks ``retries=2`` through the group's ``default_args`` (the DAG's own
  default is ``retries=0``); ``merge`` checks that it and the nested ``sources`` tasks got it, and
  raises if not.
- ``>>`` works on whole groups: ``start >> ingest`` makes every first task of ``ingest`` wait
  for ``start``; ``ingest >> publish`` links the last tasks of one to the first tasks of the other.

Expected final states (the run: success):

    start                      success
    ingest.sources.from_api    success
    ingest.sources.from_files  success
    ingest.merge               success
    publish.to_warehouse       success
    publish.notify             success
    end                        success
"""

from datetime import timedelta

import pendulum

from tradewind import DAG, BashOperator, EmptyOperator, PythonOperator, TaskGroup


def merge(task):
    for checked in (task, task.dag.get_task("ingest.sources.from_api")):
        if checked.retries != 2:
            raise ValueError(f"{checked.task_id} has retries={checked.retries}; the group default is 2")
    print("the ingest group's default_args reached its tasks, nested ones included")


with DAG(
    dag_id="example_task_groups",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={"retries": 0},
    tags=["example"],
) as dag:
    start = EmptyOperator(task_id="start")

    with TaskGroup("ingest", default_args={"retries": 2, "retry_delay": timedelta(seconds=1)}) as ingest:
        with TaskGroup("sources") as sources:
            BashOperator(task_id="from_api", bash_command="echo 'fetched 3 rows from the API'")
            BashOperator(task_id="from_files", bash_command="echo 'read 2 files'")
        merged = PythonOperator(task_id="merge", python_callable=merge)
        sources >> merged

    with TaskGroup("publish", tooltip="Make the data visible") as publish:
        to_warehouse = EmptyOperator(task_id="to_warehouse")
        notify = EmptyOperator(task_id="notify")
        to_warehouse >> notify

    end = EmptyOperator(task_id="end")

    start >> ingest >> publish >> end
