"""Triggering another DAG: TriggerDagRunOperator creates a run of example_trigger_target.

- ``trigger_target`` creates the run with a templated run id and conf (the target DAG's
  ``show_conf`` prints the message). It pushes the new run's id (XCom key ``trigger_run_id``) and
  logical date (``trigger_logical_date_iso``), as Airflow does. Set ``wait_for_completion=True``
  to wait for the triggered run to end (its ``allowed_states`` / ``failed_states`` decide the
  task's outcome). With ``reset_dag_run=True``, running this DAG again for the same run id
  clears the target's existing run (so it runs again) instead of failing.
- ``check_trigger`` reads those XComs back.

Expected final states (the run: success):

    trigger_target   success
    check_trigger    success
"""

import pendulum

from tradewind import DAG, PythonOperator, TriggerDagRunOperator


def check_trigger(ti, run_id):
    triggered = ti.xcom_pull(task_ids="trigger_target", key="trigger_run_id")
    when = ti.xcom_pull(task_ids="trigger_target", key="trigger_logical_date_iso")
    assert triggered == f"triggered_by__{run_id}", triggered
    print(f"example_trigger_target run {triggered} at {when} was created")


with DAG(
    dag_id="example_trigger_dagrun",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    trigger = TriggerDagRunOperator(
        task_id="trigger_target",
        trigger_dag_id="example_trigger_target",
        trigger_run_id="triggered_by__{{ run_id }}",
        conf={"message": "hello from {{ dag.dag_id }}, run {{ run_id }}"},
        reset_dag_run=True,
    )
    check = PythonOperator(task_id="check_trigger", python_callable=check_trigger)

    trigger >> check
