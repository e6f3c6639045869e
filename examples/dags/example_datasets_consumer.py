"""Data-aware scheduling, the consuming side: ``schedule=[orders, customers]`` runs the DAG once
*both* datasets have been updated since its last dataset-triggered run (by ``example_datasets`` or
by ``POST /api/v1/datasets/events``). Several updates of one dataset meanwhile go into the same run.

The run's type is ``dataset_triggered``; its logical date is the time of the newest event and its
data interval spans the data intervals of the runs that sent the events. The Datasets page shows
each dataset's producers, consumers and events; the DAGs list shows "1 of 2 datasets updated"
while the DAG waits.

- ``report_inputs`` reads ``triggering_dataset_events`` (the events that made this run, by URI)
  and ``inlet_events`` (every event of an inlet dataset so far). Run by hand (or by ``dags test``)
  it finds no triggering events, as in Airflow.

Expected final states (the run: success):

    report_inputs   success
"""

from airflow import DAG
from airflow.datasets import Dataset
from airflow.decorators import task

ORDERS = Dataset("s3://example-bucket/orders.parquet")
CUSTOMERS = Dataset("s3://example-bucket/customers.parquet")

with DAG(dag_id="example_datasets_consumer", schedule=[ORDERS, CUSTOMERS], tags=["example", "datasets"]):

    @task(inlets=[ORDERS])
    def report_inputs(*, triggering_dataset_events=None, inlet_events=None, dag_run=None):
        for uri, events in triggering_dataset_events.items():
            for event in events:
                print(f"{uri} updated by {event.source_dag_id}.{event.source_task_id} with {dict(event.extra)}")
        known = inlet_events[ORDERS]
        print(f"{ORDERS.uri} has {len(known)} event(s) so far; this run is {dag_run.run_type}")

    report_inputs()
