"""Retries: a task that fails on its first try and succeeds on its second.

``flaky`` has ``retries=2`` and ``retry_delay=1 s``. On try 1 it raises; the task instance goes to
``up_for_retry``, waits one second, and runs again. On try 2 it succeeds, so it ends ``success``
with ``try_number`` 2 and one retry left unused. ``after_flaky`` runs once it has succeeded.

``flaky`` decides by ``ti.try_number``, which the metastore keeps, rather than by a file on
disk, so it behaves the same when its two tries run on different workers.

Expected final states (the run: success):

    flaky         success   (on try 2)
    after_flaky   success
"""

from datetime import timedelta

import pendulum

from tradewind import DAG, EmptyOperator, PythonOperator


def flaky(ti):
    if ti.try_number == 1:
        raise RuntimeError("failing on the first try on purpose; the retry will succeed")
    print(f"succeeded on try {ti.try_number}")


with DAG(
    dag_id="example_retries",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=1)},
    tags=["example"],
) as dag:
    flaky_task = PythonOperator(task_id="flaky", python_callable=flaky)
    after = EmptyOperator(task_id="after_flaky")

    flaky_task >> after
