"""Broken on purpose: an Airflow provider module, which tradewind does not provide.

The import error must name the module: airflow.providers.amazon.aws.operators.s3.
"""

import pendulum
from airflow import DAG
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator

with DAG(
    dag_id="dag_unsupported_airflow_import",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    S3CreateBucketOperator(task_id="create_bucket", bucket_name="example-bucket")
