"""Deferrable tasks: tasks that wait in a triggerer instead of holding a worker slot.

- ``wait_then_report`` is a custom operator. Its ``execute`` records when it started and calls
  ``self.defer`` with a ``TimeDeltaTrigger`` of one second, naming ``resume`` as the method to go
  on with. The task instance is ``deferred`` meanwhile; once the trigger fires, a worker calls
  ``resume(context, event=...)`` in the same try, and what it returns is the task's XCom.
- ``wait_async`` is Airflow's ``TimeDeltaSensor`` with ``deferrable=True``: it waits one second
  past the end of the run's data interval, which has passed already for any run, so it finishes at
  once, without deferring; ``wait_for_second`` is a ``DateTimeSensor`` with ``deferrable=True``
  whose moment is two seconds after the task started, so it always defers.
- ``check`` pulls the custom operator's result and checks the task resumed in its first try.

Run it with a triggerer (`tradewind triggerer`, which `tradewind standalone` and the compose file
start); `tradewind dags test` runs the triggers itself, as Airflow's does.

Expected final states (the run: success):

    wait_then_report   success
    wait_async         success
    wait_for_second    success
    check              success
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.models.baseoperator import BaseOperator
from airflow.operators.python import PythonOperator
from airflow.sensors.date_time import DateTimeSensor
from airflow.sensors.time_delta import TimeDeltaSensor
from airflow.triggers.temporal import TimeDeltaTrigger


class WaitThenReport(BaseOperator):
    """Defers for ``seconds``, then returns how the resumed call was made."""

    def __init__(self, *, seconds: float, **kwargs):
        super().__init__(**kwargs)
        self.seconds = seconds

    def execute(self, context):
        started = pendulum.now("UTC").isoformat()
        self.log.info("deferring for %s s", self.seconds)
        self.defer(
            trigger=TimeDeltaTrigger(timedelta(seconds=self.seconds)),
            method_name="resume",
            kwargs={"started": started},
        )

    def resume(self, context, event=None, started=None):
        self.log.info("resumed with event %s; deferred at %s", event, started)
        return {"try_number": context["ti"].try_number, "event": event is not None, "started": started}


def check(ti):
    report = ti.xcom_pull(task_ids="wait_then_report")
    assert report["event"], report
    assert report["try_number"] == 1, report
    print(f"wait_then_report resumed in try {report['try_number']} after deferring at {report['started']}")


with DAG(
    dag_id="example_deferrable",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    report = WaitThenReport(task_id="wait_then_report", seconds=1)
    wait_async = TimeDeltaSensor(task_id="wait_async", delta=timedelta(seconds=1), deferrable=True)
    wait_for_second = DateTimeSensor(
        task_id="wait_for_second",
        target_time="{{ (ti.start_date + macros.timedelta(seconds=2)).isoformat() }}",
        deferrable=True,
    )
    [report, wait_async, wait_for_second] >> PythonOperator(task_id="check", python_callable=check)
