"""Setup and teardown tasks: create a resource, use it, and always clean it up (Airflow 2.7+).

``create_cluster`` is a setup and ``delete_cluster`` its teardown (``as_teardown(setups=...)``);
``run_query`` and ``report`` are the work between them. A teardown runs once everything above it
has finished, whatever its work did, as long as one of its setups succeeded — and a run's state
ignores how a teardown ended (unless it was made with ``on_failure_fail_dagrun=True``).

The second pair shows that: ``close_tunnel`` fails on purpose, and THE RUN STILL SUCCEEDS,
because its work ``copy_files`` succeeded. Clearing ``report`` in the UI or with
``tradewind tasks clear`` clears ``create_cluster`` and ``delete_cluster`` with it, so the
work runs again on a fresh cluster. In the graph, setups are marked ▲ and teardowns ▼, joined by
a dashed line.

Expected final states (the run: success):

    create_cluster   success
    run_query        success
    report           success
    delete_cluster   success
    open_tunnel      success
    copy_files       success
    close_tunnel     failed
"""

import pendulum
from airflow.models.dag import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="example_setup_teardown",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    create_cluster = BashOperator(task_id="create_cluster", bash_command="echo cluster-{{ ds_nodash }}")
    run_query = BashOperator(task_id="run_query", bash_command="echo querying {{ ti.xcom_pull('create_cluster') }}")
    report = BashOperator(task_id="report", bash_command="echo 42 rows")
    delete_cluster = BashOperator(
        task_id="delete_cluster", bash_command="echo deleting {{ ti.xcom_pull('create_cluster') }}"
    )
    create_cluster >> run_query >> report >> delete_cluster.as_teardown(setups=create_cluster)

    open_tunnel = BashOperator(task_id="open_tunnel", bash_command="echo tunnel open").as_setup()
    copy_files = BashOperator(task_id="copy_files", bash_command="echo copied 3 files")
    close_tunnel = BashOperator(task_id="close_tunnel", bash_command="echo 'closing fails on purpose'; exit 1")
    open_tunnel >> copy_files >> close_tunnel.as_teardown(setups=open_tunnel)
