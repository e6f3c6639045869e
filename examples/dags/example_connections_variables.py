"""Connections and variables, written as in Airflow 2 (``airflow.*`` imports).

- The connection ``example_api`` comes from the environment: ``AIRFLOW_CONN_EXAMPLE_API`` (or
  ``TRADEWIND_CONN_EXAMPLE_API``) holds it as a URI. This file sets a default so the example runs
  anywhere; in a deployment, set the variable in every worker's environment or store the connection
  with ``tradewind connections add example_api --conn-uri ...`` (encrypted with TRADEWIND_FERNET_KEY).
- ``record_run`` stores the run's date in the variable ``example_last_ds`` with ``Variable.set``;
  ``read_variables`` reads it back with ``Variable.get``, and reads ``example_batch_size``, which
  nobody set, with a ``default_var``.
- ``render_templates`` is a BashOperator whose command Jinja fills from ``{{ conn.example_api.host }}``,
  ``{{ var.value.example_last_ds }}``, ``{{ var.value.get(...) }}`` and ``{{ var.json.get(...) }}``;
  the command checks what it got and fails otherwise.
- ``call_api`` gets the connection with ``BaseHook.get_connection`` and prints its password and URI:
  the task's log shows ``***`` where the password would be.

Expected final states (the run: success):

    record_run          success
    read_variables      success
    render_templates    success
    call_api            success
"""

import os

import pendulum
from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.models import Variable
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator

os.environ.setdefault(
    "AIRFLOW_CONN_EXAMPLE_API", "https://reporter:example-s3cret-pw@api.example.com:8443/v2?timeout=30"
)


def record_run(ds):
    Variable.set("example_last_ds", ds, description="Logical date of the last run of example_connections_variables")


def read_variables(ds):
    last_ds = Variable.get("example_last_ds")
    batch_size = int(Variable.get("example_batch_size", default_var="100"))
    if last_ds != ds or batch_size <= 0:
        raise ValueError(f"unexpected variables: example_last_ds={last_ds!r}, example_batch_size={batch_size}")
    print(f"last run {last_ds}, batch size {batch_size}")


def call_api():
    conn = BaseHook.get_connection("example_api")
    timeout = int(conn.extra_dejson.get("timeout", 10))
    if (conn.conn_type, conn.host, conn.port, conn.schema) != ("https", "api.example.com", 8443, "v2"):
        raise ValueError(f"unexpected connection {conn!r}")
    print(f"calling https://{conn.host}:{conn.port}/{conn.schema} as {conn.login} with password {conn.password}")
    print(f"connection URI {conn.get_uri()}, timeout {timeout} s")


with DAG(
    dag_id="example_connections_variables",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    tags=["example", "airflow-compat"],
) as dag:
    record = PythonOperator(task_id="record_run", python_callable=record_run)
    read = PythonOperator(task_id="read_variables", python_callable=read_variables)
    render = BashOperator(
        task_id="render_templates",
        bash_command=(
            'host="{{ conn.example_api.host }}"; last="{{ var.value.example_last_ds }}"; '
            "mode=\"{{ var.value.get('example_mode', 'dry-run') }}\"; "
            "tables=\"{{ var.json.get('example_tables', ['orders', 'refunds']) | join(',') }}\"; "
            'echo "host=$host last=$last mode=$mode tables=$tables"; '
            'test "$host" = api.example.com && test "$last" = "{{ ds }}" && test "$mode" = dry-run '
            '&& test "$tables" = orders,refunds'
        ),
    )
    api = PythonOperator(task_id="call_api", python_callable=call_api)

    record >> read >> render >> api
