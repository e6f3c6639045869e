"""HTTP: wait for a service to be up, post the day's report to it, read the report back.

The service is the connection ``http_default``: point it at your API, for instance
``TRADEWIND_CONN_HTTP_DEFAULT='{"conn_type": "http", "host": "api.internal", "port": 8000,
"login": "robot", "password": "...", "extra": {"X-Team": "data"}}'`` (the login and password
become basic auth, the extra's keys headers of every request). It needs these endpoints:
``GET health`` answering ``{"status": "ok"}`` (404 while starting), ``POST reports`` answering
``{"id": ...}``, ``GET reports/<id>`` answering the report. This example needs that service, so
the examples run by the test suite on a machine without network leave it out; the HTTP
integration test starts such a service on 127.0.0.1 and runs this DAG against it.

- ``wait_for_api`` (HttpSensor, reschedule mode) pokes ``health`` every second: a 404 means
  "not yet", and ``response_check`` waits for ``status`` to be ``ok``.
- ``post_report`` (HttpOperator) posts JSON templated with ``{{ ds }}``; ``response_filter`` keeps
  only the new report's id, which becomes its XCom.
- ``read_report`` (SimpleHttpOperator, the older name) gets ``reports/<that id>`` and checks that
  the report is the run's day; the response's text is its XCom.

Expected final states (the run: success):

    wait_for_api   success
    post_report    success
    read_report    success
"""

import json

import pendulum
from airflow import DAG
from airflow.providers.http.operators.http import HttpOperator, SimpleHttpOperator
from airflow.providers.http.sensors.http import HttpSensor

with DAG(
    dag_id="example_http",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example", "http"],
) as dag:
    wait_for_api = HttpSensor(
        task_id="wait_for_api",
        endpoint="health",
        response_check=lambda response: response.json()["status"] == "ok",
        mode="reschedule",
        poke_interval=1,
        timeout=60,
    )
    post_report = HttpOperator(
        task_id="post_report",
        endpoint="reports",
        method="POST",
        data=json.dumps({"day": "{{ ds }}", "orders": 42}),
        headers={"Content-Type": "application/json"},
        response_filter=lambda response: response.json()["id"],
        log_response=True,
    )
    read_report = SimpleHttpOperator(
        task_id="read_report",
        endpoint="reports/{{ ti.xcom_pull(task_ids='post_report') }}",
        method="GET",
        response_check=lambda response, ds: response.json()["day"] == ds,
    )

    wait_for_api >> post_report >> read_report
