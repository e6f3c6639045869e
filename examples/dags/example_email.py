"""Email: a task that fails once mails its owner about the retry; the day's report is mailed at the end.

Mail goes through the SMTP server of ``TRADEWIND_SMTP_HOST`` / ``TRADEWIND_SMTP_PORT`` (and the
other ``TRADEWIND_SMTP_*`` settings, Airflow's ``[smtp]`` section), or of the connection
``smtp_default`` when it is defined. This example needs that server, so the examples run by the
test suite on a machine without network leave it out; the email integration test starts an SMTP
server on 127.0.0.1 and runs this DAG against it.

- ``load`` fails on its first try and succeeds on its second. ``default_args`` give every task
  ``email`` and ``email_on_retry`` / ``email_on_failure`` (both on by default): the first try's
  failure sends "Airflow alert: <TaskInstance: example_email.load ... [up_for_retry]>" with the
  error; a task that failed for good would send one ending in ``[failed]``.
- ``send_report`` (EmailOperator) mails a templated HTML report to the team, copying the owner.

Expected final states (the run: success):

    load          success
    send_report   success
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.operators.email import EmailOperator
from airflow.operators.python import PythonOperator


def load(ti):
    if ti.try_number == 1:
        raise RuntimeError("the warehouse was not ready")
    return 42


with DAG(
    dag_id="example_email",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={"email": ["owner@example.com"], "retries": 1, "retry_delay": timedelta(seconds=0)},
    tags=["example", "email"],
) as dag:
    load_task = PythonOperator(task_id="load", python_callable=load)
    send_report = EmailOperator(
        task_id="send_report",
        to="team@example.com",
        cc="owner@example.com",
        subject="Daily report for {{ ds }}",
        html_content="<h1>{{ ds }}</h1><p>{{ ti.xcom_pull(task_ids='load') }} rows loaded.</p>",
    )

    load_task >> send_report
