"""The DAG Dependencies view's edges, found in stored DAGs as Airflow's dependency detector finds them."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG
from tradewind.master.webserver.dag_dependencies import DagDependency, all_dependencies
from tradewind.sdk.operators.empty import EmptyOperator
from tradewind.sdk.operators.trigger_dagrun import TriggerDagRunOperator
from tradewind.sdk.sensors.external_task import ExternalTaskMarker, ExternalTaskSensor
from tradewind.sdk.serialization import serialize_dag

T0 = datetime(2024, 1, 1)


def test_sensors_and_triggers_make_edges_between_dags_and_markers_do_not() -> None:
    with DAG("orders", schedule=None, start_date=T0) as orders:
        TriggerDagRunOperator(task_id="kick_report", trigger_dag_id="report")
        ExternalTaskMarker(task_id="marker", external_dag_id="audit", external_task_id="t")
    with DAG("report", schedule=None, start_date=T0) as report:
        ExternalTaskSensor(task_id="wait_ingest", external_dag_id="ingest", external_task_id="load")
        EmptyOperator(task_id="done")
    with DAG("templated", schedule=None, start_date=T0) as templated:
        TriggerDagRunOperator(task_id="kick", trigger_dag_id="{{ params.target }}")
    edges = all_dependencies(serialize_dag(d) for d in (orders, report, templated))
    assert edges == [
        DagDependency("ingest", "report", "sensor", "report", "wait_ingest"),
        DagDependency("orders", "report", "trigger", "orders", "kick_report"),
        DagDependency("templated", "{{ params.target }}", "trigger", "templated", "kick"),
    ]
