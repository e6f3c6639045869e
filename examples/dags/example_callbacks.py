"""Callbacks: functions called when a task or a whole run reaches a state.

Task callbacks run on the worker, in the task's process, and write to the task's log:
``on_execute_callback`` just before ``execute``, ``on_success_callback`` after a success,
``on_retry_callback`` when a failed try will be retried, ``on_failure_callback`` once the last try
has failed. DAG callbacks (``on_success_callback`` / ``on_failure_callback`` of the DAG) run once
per end of a run, on the scheduler's side in a child process with a time limit; their context
has ``dag_run`` and ``reason`` (``success``, ``task_failure``, ``timed_out``). An exception in any
callback is logged and changes no state.

- ``flaky`` fails its first try (``on_retry_callback``) and succeeds on the second
  (``on_success_callback``).
- ``summarize`` runs after it.

Expected final states (the run: success):

    flaky       success   (on try 2)
    summarize   success
"""

import logging
from datetime import timedelta

import pendulum

from tradewind import DAG, PythonOperator

log = logging.getLogger("example_callbacks")


def task_started(context):
    log.info("task %s starts try %s", context["ti"].task_id, context["ti"].try_number)


def task_succeeded(context):
    log.info("task %s succeeded", context["ti"].task_id)


def task_will_retry(context):
    log.info("task %s failed with %r and will be retried", context["ti"].task_id, context.get("exception"))


def task_failed(context):
    log.error("task %s failed for good", context["ti"].task_id)


def run_succeeded(context):
    log.info("run %s of %s succeeded (%s)", context["dag_run"].run_id, context["dag"].dag_id, context["reason"])


def run_failed(context):
    log.error("run %s of %s failed (%s)", context["dag_run"].run_id, context["dag"].dag_id, context["reason"])


def flaky(ti):
    if ti.try_number == 1:
        raise RuntimeError("failing the first try on purpose")
    return "done"


with DAG(
    dag_id="example_callbacks",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    on_success_callback=run_succeeded,
    on_failure_callback=run_failed,
    default_args={
        "on_execute_callback": task_started,
        "on_success_callback": task_succeeded,
        "on_retry_callback": task_will_retry,
        "on_failure_callback": task_failed,
    },
    tags=["example"],
) as dag:
    flaky_task = PythonOperator(task_id="flaky", python_callable=flaky, retries=1, retry_delay=timedelta(seconds=1))
    summarize = PythonOperator(task_id="summarize", python_callable=lambda: "summary written")

    flaky_task >> summarize
