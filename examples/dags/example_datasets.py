"""Data-aware scheduling, the producing side: a task's ``outlets`` are the datasets it updates.

When a task with outlets succeeds, each outlet dataset gets one event (a failed or skipped task
sends none). The DAGs scheduled on those datasets run when their condition is met:
``example_datasets_consumer`` once both datasets below were updated, and
``example_datasets_conditions`` when the orders or an export through the alias were.

- ``write_orders`` updates ``s3://example-bucket/orders.parquet`` and puts the row count in its
  event's extra (``outlet_events[dataset].extra``).
- ``write_customers`` updates ``s3://example-bucket/customers.parquet``.
- ``export_report`` names a ``DatasetAlias`` as its outlet and decides at run time which dataset
  it updated: ``outlet_events[alias].add(Dataset(...), extra=...)``. DAGs scheduled on the alias
  run on that dataset's events.

Expected final states (the run: success):

    write_orders      success
    write_customers   success
    export_report     success
"""

import pendulum
from airflow import DAG
from airflow.datasets import Dataset, DatasetAlias
from airflow.decorators import task

ORDERS = Dataset("s3://example-bucket/orders.parquet")
CUSTOMERS = Dataset("s3://example-bucket/customers.parquet")
EXPORTS = DatasetAlias("example-exports")

with DAG(
    dag_id="example_datasets",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    tags=["example", "datasets"],
):

    @task(outlets=[ORDERS])
    def write_orders(*, outlet_events=None):
        rows = 42
        print(f"wrote {rows} orders to {ORDERS.uri}")
        outlet_events[ORDERS].extra["rows"] = rows

    @task(outlets=[CUSTOMERS])
    def write_customers():
        print(f"wrote the customers to {CUSTOMERS.uri}")

    @task(outlets=[EXPORTS])
    def export_report(*, ds=None, outlet_events=None):
        target = Dataset("file:///tmp/example-exports/report.csv")
        print(f"exported the report of {ds} to {target.uri}")
        outlet_events[EXPORTS].add(target, extra={"day": ds})

    [write_orders(), write_customers()] >> export_report()
