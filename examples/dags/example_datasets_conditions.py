"""Conditions on datasets and ``DatasetOrTimeSchedule``: run at 06:00 on weekdays *and* whenever
the orders are updated or a dataset is exported through the ``example-exports`` alias.

``ORDERS | EXPORTS`` holds when either side has a new event; ``&`` would need both, and the two
nest as written (``(a | b) & c``). A ``DatasetAlias`` stands for the datasets producers attached
to it at run time (see ``example_datasets``'s ``export_report``). The time-based runs are the
timetable's as usual; a dataset-triggered run comes in between, as in Airflow 2.9+.

- ``summarize`` prints which datasets triggered the run (none for a scheduled or manual one).

Expected final states (the run: success):

    summarize   success
"""

import pendulum
from airflow import DAG
from airflow.datasets import Dataset, DatasetAlias
from airflow.decorators import task
from airflow.timetables.datasets import DatasetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

ORDERS = Dataset("s3://example-bucket/orders.parquet")
EXPORTS = DatasetAlias("example-exports")

with DAG(
    dag_id="example_datasets_conditions",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=DatasetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * 1-5", timezone="UTC"), datasets=ORDERS | EXPORTS
    ),
    catchup=False,
    tags=["example", "datasets"],
):

    @task
    def summarize(*, triggering_dataset_events=None, dag_run=None):
        print(f"{dag_run.run_type} run; triggered by {sorted(triggering_dataset_events) or 'no dataset'}")

    summarize()
