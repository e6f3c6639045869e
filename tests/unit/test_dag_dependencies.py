"""The DAG Dependencies view's edges, found in stored DAGs as Airflow's dependency detector finds them."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG
from tradewind.master.webserver.dag_dependencies import DagDependency, all_dependencies, graph_json
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


def test_the_graph_has_a_node_per_dag_named_and_an_edge_per_dependency() -> None:
    edges = [
        DagDependency("billing", "report", "sensor", "report", "wait"),
        DagDependency("orders", "report", "trigger", "orders", "kick_a"),
        DagDependency("orders", "report", "trigger", "orders", "kick_b"),
    ]
    drawn = graph_json(edges, known=["orders", "report"], url_of=lambda dag_id: f"/dags/{dag_id}/grid")
    assert drawn["nodes"] == [
        {"id": "billing", "url": None, "loaded": False},
        {"id": "report", "url": "/dags/report/grid", "loaded": True},
        {"id": "orders", "url": "/dags/orders/grid", "loaded": True},
    ]
    assert drawn["edges"] == [
        {"source": "billing", "target": "report", "kind": "sensor"},
        {"source": "orders", "target": "report", "kind": "trigger"},
    ], "two triggering tasks draw one arrow"


def test_datasets_link_each_producer_to_each_consumer_through_the_dataset() -> None:
    from tradewind.master.webserver.dag_dependencies import around
    from tradewind.sdk.datasets import Dataset, DatasetAlias

    orders, exports = Dataset("s3://shop/orders"), DatasetAlias("exports")
    with DAG("load_orders", schedule=None, start_date=T0) as producer:
        EmptyOperator(task_id="write", outlets=[orders, exports])
    with DAG("report", schedule=orders | exports, start_date=T0) as consumer:
        EmptyOperator(task_id="done")
    with DAG("unrelated", schedule=None, start_date=T0) as unrelated:
        EmptyOperator(task_id="t")
    edges = all_dependencies(serialize_dag(d) for d in (producer, consumer, unrelated))
    assert edges == [
        DagDependency("alias:exports", "report", "dataset", "report", ""),
        DagDependency("dataset:s3://shop/orders", "report", "dataset", "report", ""),
        DagDependency("load_orders", "dataset:s3://shop/orders", "dataset", "load_orders", "write"),
    ]
    # Focusing on the producer shows who consumes what it writes.
    assert around(edges, "load_orders") == edges[1:]
    # In the drawing a dataset is always a node that links somewhere (its page), never "not loaded".
    drawn = graph_json(edges, known=["load_orders", "report"], url_of=lambda node: f"/to/{node}")
    assert {n["id"]: (n["url"], n["loaded"]) for n in drawn["nodes"]} == {
        "alias:exports": ("/to/alias:exports", True),
        "dataset:s3://shop/orders": ("/to/dataset:s3://shop/orders", True),
        "load_orders": ("/to/load_orders", True),
        "report": ("/to/report", True),
    }
