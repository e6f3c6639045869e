"""A good DAG file written the Airflow 2 way, with the imports and idioms of that era.

It must import without error and give the DAG "airflow2_style" with the tasks
start, extract, transform, quality.row_count, quality.null_check, load and notify.
"""

from datetime import timedelta

from airflow import DAG
from airflow.exceptions import AirflowSkipException
from airflow.models.baseoperator import chain
from airflow.operators.bash import BashOperator
from airflow.operators.dummy import DummyOperator
from airflow.operators.python import PythonOperator
from airflow.utils.dates import days_ago
from airflow.utils.task_group import TaskGroup
from airflow.utils.trigger_rule import TriggerRule

default_args = {
    "owner": "data-eng",
    "depends_on_past": False,
    "email_on_failure": False,
    "email_on_retry": False,
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}


def transform(**context):
    rows = context["ti"].xcom_pull(task_ids="extract")
    if not rows:
        raise AirflowSkipException("nothing was extracted")
    return int(rows) * 2


dag = DAG(
    "airflow2_style",
    default_args=default_args,
    description="An Airflow 2-era DAG file",
    schedule_interval="@daily",
    start_date=days_ago(2),
    catchup=False,
    tags=["airflow2"],
)

start = DummyOperator(task_id="start", dag=dag)
extract = BashOperator(task_id="extract", bash_command="echo 21", dag=dag)
transform_task = PythonOperator(task_id="transform", python_callable=transform, dag=dag)

with TaskGroup("quality", dag=dag) as quality:
    row_count = BashOperator(task_id="row_count", bash_command="echo checking {{ ds }}", dag=dag)
    null_check = BashOperator(task_id="null_check", bash_command="echo no nulls", dag=dag)

load = BashOperator(task_id="load", bash_command="echo loading", dag=dag)
notify = DummyOperator(task_id="notify", trigger_rule=TriggerRule.ALL_DONE, dag=dag)

chain(start, extract, transform_task, quality, load, notify)
