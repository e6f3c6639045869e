"""depends_on_past and wait_for_downstream: a task waits for itself in the previous run.

- ``load_increment`` has ``depends_on_past=True``: in each run it is scheduled only once the same
  task succeeded (or was skipped) in the DAG's previous run. A DAG's first run has no previous
  run, so it goes ahead.
- ``compact_table`` has ``wait_for_downstream=True`` (which implies ``depends_on_past``): it also
  waits until the previous run's direct downstream of it, ``publish``, is done, so two runs never
  compact and publish the same table at once.
- ``publish`` depends only on this run.

With ``catchup=True`` the previous run is the previous scheduled one; runs triggered by hand
then do not count as anyone's previous run.

Expected final states (the run: success):

    load_increment   success
    compact_table    success
    publish          success
"""

import pendulum

from tradewind import DAG, BashOperator

with DAG(
    dag_id="example_depends_on_past",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    max_active_runs=3,
    tags=["example"],
) as dag:
    load = BashOperator(task_id="load_increment", bash_command="echo loading {{ ds }}", depends_on_past=True)
    compact = BashOperator(task_id="compact_table", bash_command="echo compacting", wait_for_downstream=True)
    publish = BashOperator(task_id="publish", bash_command="echo publishing {{ ds }}")

    load >> compact >> publish
