"""LatestOnlyOperator: work that only makes sense for the newest interval.

``latest_only`` lets its direct downstream tasks run only in the run of the latest scheduled
interval; in older runs (a catchup, a backfill) it skips them, and the skip flows on through
their trigger rules. A run triggered by hand is never skipped, as in Airflow 2; a
``tradewind dags test`` run is not triggered by hand (as in Airflow), so an old date skips.

- ``notify_dashboard`` runs only for the latest interval; ``refresh_cache`` after it.
- ``archive_day`` does not depend on ``latest_only`` and runs in every run.

Expected final states for ``tradewind dags test example_latest_only 2024-01-01`` — long past the
latest interval (the run: success; triggered by hand, every task would succeed):

    latest_only        success
    notify_dashboard   skipped
    refresh_cache      skipped
    archive_day        success
"""

import pendulum

from tradewind import DAG, BashOperator, LatestOnlyOperator

with DAG(
    dag_id="example_latest_only",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    tags=["example"],
) as dag:
    latest_only = LatestOnlyOperator(task_id="latest_only")
    notify = BashOperator(task_id="notify_dashboard", bash_command="echo the dashboard shows {{ ds }}")
    refresh = BashOperator(task_id="refresh_cache", bash_command="echo cache refreshed")
    archive = BashOperator(task_id="archive_day", bash_command="echo archiving {{ ds }}")

    latest_only >> notify >> refresh
