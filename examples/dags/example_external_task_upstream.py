"""The DAG that example_external_task_sensor waits for: a daily extract-then-load.

Both DAGs run every day at midnight UTC with the same start date, so each day's run of
example_external_task_sensor finds this DAG's run at the same logical date and waits until its
``load`` task (and then the whole run) has succeeded. ``mark_sensor`` is an ExternalTaskMarker:
it records which task of which DAG waits for ``load`` (in Airflow, clearing ``load`` with
"downstream" also clears that sensor; here it documents the link and runs as an empty task).

Expected final states (the run: success):

    extract       success
    load          success
    mark_sensor   success
"""

import pendulum

from tradewind import DAG, BashOperator, ExternalTaskMarker, PythonOperator


def load(ds):
    print(f"loading the rows extracted for {ds}")
    return {"day": ds, "rows": 3}


with DAG(
    dag_id="example_external_task_upstream",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    tags=["example"],
) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo extracting the rows of {{ ds }}")
    load_rows = PythonOperator(task_id="load", python_callable=load)

    mark = ExternalTaskMarker(
        task_id="mark_sensor", external_dag_id="example_external_task_sensor", external_task_id="wait_for_load"
    )

    extract >> load_rows >> mark
