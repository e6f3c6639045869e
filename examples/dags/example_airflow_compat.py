"""An Airflow 2 DAG file, unchanged: every import comes from ``airflow.*``.

Tradewind serves these ``airflow`` modules itself (see ``tradewind info`` for the list), so a DAG
file written for Airflow 2 runs as it is. This one uses the ``with DAG(...)`` context manager,
``default_args``, Bash and Python operators passing a value through XCom, a TaskGroup,
``chain``, a TriggerRule, and a custom branch operator (a ``BaseBranchOperator`` subclass typed
with ``Context`` that reads the run's ``DagRunType``).

``transform`` adds up the numbers the two extract tasks echoed and raises unless it gets 5;
``report.render`` prints the total it returned. ``choose_load`` follows ``incremental_load`` in a
scheduled run and ``full_reload`` in any other (a manual trigger, ``dags test``), skipping the other.

Expected final states (the run: success):

    start               success
    extract_orders      success
    extract_refunds     success
    transform           success
    report.render       success
    report.publish      success
    choose_load         success
    full_reload         success   (incremental_load in a scheduled run)
    incremental_load    skipped   (full_reload in a scheduled run)
    end                 success
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.models.baseoperator import chain
from airflow.operators.bash import BashOperator
from airflow.operators.branch import BaseBranchOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator
from airflow.utils.context import Context
from airflow.utils.task_group import TaskGroup
from airflow.utils.trigger_rule import TriggerRule
from airflow.utils.types import DagRunType

default_args = {
    "owner": "airflow",
    "retries": 1,
    "retry_delay": timedelta(seconds=1),
}


def transform(ti):
    orders, refunds = ti.xcom_pull(task_ids=["extract_orders", "extract_refunds"])
    total = int(orders) + int(refunds)
    if total != 5:
        raise ValueError(f"expected 3 orders + 2 refunds = 5, got {orders} + {refunds}")
    return total


class LoadKindBranch(BaseBranchOperator):
    """Scheduled runs load incrementally; a run started by hand reloads everything."""

    def choose_branch(self, context: Context) -> str:
        if context["dag_run"].run_type == DagRunType.SCHEDULED:
            return "incremental_load"
        return "full_reload"


with DAG(
    dag_id="example_airflow_compat",
    description="An Airflow 2 DAG file that tradewind runs unchanged",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    default_args=default_args,
    tags=["example", "airflow-compat"],
) as dag:
    start = EmptyOperator(task_id="start")
    extract_orders = BashOperator(task_id="extract_orders", bash_command="echo 3")
    extract_refunds = BashOperator(task_id="extract_refunds", bash_command="echo 2")
    add_up = PythonOperator(task_id="transform", python_callable=transform)

    with TaskGroup("report") as report:
        render = BashOperator(
            task_id="render",
            bash_command="echo 'total for {{ ds }}: {{ ti.xcom_pull(task_ids=\"transform\") }}'",
        )
        publish = EmptyOperator(task_id="publish")
        render >> publish

    choose_load = LoadKindBranch(task_id="choose_load")
    loads = [EmptyOperator(task_id="full_reload"), EmptyOperator(task_id="incremental_load")]

    end = EmptyOperator(task_id="end", trigger_rule=TriggerRule.NONE_FAILED)

    chain(start, [extract_orders, extract_refunds], add_up, report, choose_load, loads, end)
