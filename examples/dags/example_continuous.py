"""``schedule="@continuous"``: a new run as soon as the last one ended, one at a time.

Airflow requires ``max_active_runs=1`` for it (a DAG without it is an import error that says so).
Each scheduled run covers the time since the previous one. The DAG is created paused: unpause it
to watch it loop.

- ``check_point_in_time`` finds a data interval that does not run backwards.

Expected final states (the run: success):

    check_point_in_time   success
"""

import pendulum
from airflow import DAG
from airflow.decorators import task

with DAG(
    dag_id="example_continuous",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@continuous",
    max_active_runs=1,
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
):

    @task
    def check_point_in_time(data_interval_start=None, data_interval_end=None):
        # A run triggered by hand covers the moment it was triggered; a scheduled one the time since the last.
        assert data_interval_start <= data_interval_end

    check_point_in_time()
