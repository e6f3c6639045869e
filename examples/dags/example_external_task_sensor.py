"""Cross-DAG dependencies: wait for another DAG's task, and its whole run, at the same logical date.

- ``wait_for_load`` is an ExternalTaskSensor on the ``load`` task of
  example_external_task_upstream. It looks at that DAG's run with this run's logical date (give
  ``execution_delta`` or ``execution_date_fn`` to look elsewhere), succeeds once ``load`` is in
  ``allowed_states`` and fails at once if it is in ``failed_states``. ``check_existence`` makes a
  misspelt DAG or task id fail the first poke instead of waiting for the timeout. It runs in
  ``reschedule`` mode, so it gives its worker slot back between pokes.
- ``wait_for_upstream_run`` names no task: it waits for the upstream DAG's whole run to succeed.
- ``report`` runs once both have.

The two DAGs share their schedule (daily, same start date), so the scheduler gives them runs at
the same logical dates. A run triggered by hand needs the upstream DAG triggered at the same
logical date: ``tradewind dags trigger example_external_task_upstream -e 2024-01-01`` then the same
for this DAG.

Expected final states (the run: success):

    wait_for_load           success
    wait_for_upstream_run   success
    report                  success
"""

import pendulum

from tradewind import DAG, BashOperator, ExternalTaskSensor

UPSTREAM = "example_external_task_upstream"

with DAG(
    dag_id="example_external_task_sensor",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    tags=["example"],
) as dag:
    wait_for_load = ExternalTaskSensor(
        task_id="wait_for_load",
        external_dag_id=UPSTREAM,
        external_task_id="load",
        allowed_states=["success"],
        failed_states=["failed", "upstream_failed"],
        check_existence=True,
        mode="reschedule",
        poke_interval=1,
        timeout=600,
    )
    wait_for_run = ExternalTaskSensor(
        task_id="wait_for_upstream_run",
        external_dag_id=UPSTREAM,
        external_task_id=None,
        failed_states=["failed"],
        mode="reschedule",
        poke_interval=1,
        timeout=600,
    )
    report = BashOperator(task_id="report", bash_command="echo the rows of {{ ds }} are loaded upstream")

    wait_for_load >> wait_for_run >> report
