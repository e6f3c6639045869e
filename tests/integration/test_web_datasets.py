"""Datasets through the web: the REST API sends events from outside (``POST /datasets/events``),
lists datasets, events and each consumer's queued events, and refuses a bad URI with a 400; the
scheduler's run-creation duty then gives the consumer a dataset-triggered run once both of its
datasets were updated; the Datasets pages and the DAGs list show the same."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from web_helpers import T0, basic_auth, store_dag

from tradewind import DAG, BashOperator
from tradewind.master.scheduler.duties.run_creation import create_scheduled_runs
from tradewind.metastore import datasets, runs
from tradewind.scheduling.dag_cache import DagCache
from tradewind.sdk.datasets import Dataset
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

pytest_plugins = ["web_fixtures"]

ORDERS = Dataset("s3://shop/orders.parquet")
CUSTOMERS = Dataset("s3://shop/customers.parquet")


@pytest.fixture
def dataset_dags(web_db: Session) -> None:
    with DAG("shop_export", schedule="@daily", start_date=T0) as producer:
        BashOperator(task_id="write_orders", bash_command="true", outlets=[ORDERS])
        BashOperator(task_id="write_customers", bash_command="true", outlets=[CUSTOMERS])
    with DAG("daily_report", schedule=[ORDERS, CUSTOMERS], start_date=T0) as consumer:
        BashOperator(task_id="report", bash_command="true")
    for dag in (producer, consumer):
        store_dag(web_db, dag)
        datasets.sync_parsed_dag(web_db, dag)
    web_db.commit()


def _post(client: FlaskClient, uri: str, role: str = "Op", **extra: object):  # noqa: ANN202 - a test response
    return client.post("/api/v1/datasets/events", json={"dataset_uri": uri, "extra": extra}, auth=basic_auth(role))


def _schedule(web_db: Session, settings: Settings) -> list[tuple[str, str]]:
    report = create_scheduled_runs(web_db, DagCache(), settings, datetime.now(UTC))
    web_db.commit()
    return [key for key in report.created if key[0] == "daily_report"]


def test_events_sent_through_the_api_trigger_the_consumer_once_both_datasets_are_updated(
    web_app: Flask, web_db: Session, web_settings: Settings, dataset_dags: None, client_as
) -> None:
    client, viewer = web_app.test_client(), basic_auth("Viewer")
    sent = _post(client, ORDERS.uri, source="backfill-script")
    assert sent.status_code == 200, sent.text
    assert sent.get_json()["extra"] == {"source": "backfill-script", "from_rest_api": True}
    assert sent.get_json()["source_dag_id"] is None

    queued = client.get("/api/v1/dags/daily_report/datasets/queuedEvent", auth=viewer).get_json()
    assert [q["uri"] for q in queued["datasets"]] == [ORDERS.uri]
    assert "1 of 2 datasets updated" in client_as("Viewer").get("/").text
    assert _schedule(web_db, web_settings) == []

    assert _post(client, CUSTOMERS.uri).status_code == 200
    (created,) = _schedule(web_db, web_settings)
    run = runs.get_run(web_db, "daily_report", created[1])
    assert run.run_type == "dataset_triggered"
    assert run.run_id.startswith("dataset_triggered__")

    upstream = client.get(f"/api/v1/dags/daily_report/dagRuns/{quote(run.run_id)}/upstreamDatasetEvents", auth=viewer)
    assert sorted(e["dataset_uri"] for e in upstream.get_json()["dataset_events"]) == [CUSTOMERS.uri, ORDERS.uri]
    events = client.get("/api/v1/datasets/events", auth=viewer).get_json()
    assert events["total_entries"] == 2
    assert all([r["run_id"] for r in e["created_dagruns"]] == [run.run_id] for e in events["dataset_events"])
    # Both events went into that run: nothing is queued, and another tick makes no second run.
    assert client.get("/api/v1/dags/daily_report/datasets/queuedEvent", auth=viewer).status_code == 404
    assert _schedule(web_db, web_settings) == []


@pytest.mark.parametrize(
    ("uri", "status", "says"),
    [
        ("airflow://shop/orders", 400, "the scheme 'airflow' is reserved"),
        ("", 400, "cannot be empty"),
        ("   ", 400, "just whitespace"),
        ("s3://shop/never-named.parquet", 404, "not found"),
    ],
)
def test_an_event_of_a_bad_or_unknown_uri_is_refused_and_records_nothing(
    web_app: Flask, dataset_dags: None, uri: str, status: int, says: str
) -> None:
    client = web_app.test_client()
    answer = _post(client, uri)
    assert answer.status_code == status, answer.text
    assert says in answer.get_json()["detail"]
    events = client.get("/api/v1/datasets/events", auth=basic_auth("Viewer")).get_json()
    assert events["total_entries"] == 0


def test_a_viewer_may_read_datasets_but_not_send_events(web_app: Flask, dataset_dags: None) -> None:
    client = web_app.test_client()
    assert _post(client, ORDERS.uri, role="Viewer").status_code == 403
    listed = client.get("/api/v1/datasets", auth=basic_auth("Viewer")).get_json()
    assert listed["total_entries"] == 2
    by_uri = {d["uri"]: d for d in listed["datasets"]}
    assert [c["dag_id"] for c in by_uri[ORDERS.uri]["consuming_dags"]] == ["daily_report"]
    assert [(p["dag_id"], p["task_id"]) for p in by_uri[ORDERS.uri]["producing_tasks"]] == [
        ("shop_export", "write_orders")
    ]
    one = client.get(f"/api/v1/datasets/{quote(ORDERS.uri, safe='')}", auth=basic_auth("Viewer"))
    assert one.status_code == 200, one.text
    assert one.get_json()["uri"] == ORDERS.uri
    missing = client.get(f"/api/v1/datasets/{quote('s3://shop/nope', safe='')}", auth=basic_auth("Viewer"))
    assert missing.status_code == 404
    details = client.get("/api/v1/dags/daily_report/details", auth=basic_auth("Viewer")).get_json()
    assert details["dataset_expression"] == {"all": [ORDERS.uri, CUSTOMERS.uri]}


def test_deleting_a_dags_queued_events_means_they_make_no_run(
    web_app: Flask, web_db: Session, web_settings: Settings, dataset_dags: None
) -> None:
    client, op = web_app.test_client(), basic_auth("Op")
    _post(client, ORDERS.uri)
    assert client.delete("/api/v1/dags/daily_report/datasets/queuedEvent", auth=op).status_code == 204
    assert client.get("/api/v1/dags/daily_report/datasets/queuedEvent", auth=op).status_code == 404
    _post(client, CUSTOMERS.uri)
    assert _schedule(web_db, web_settings) == []
    waiting = client.get("/api/v1/dags/daily_report/datasets/queuedEvent", auth=op).get_json()
    assert [q["uri"] for q in waiting["datasets"]] == [CUSTOMERS.uri]


def test_the_datasets_pages_show_producers_consumers_and_events(client_as, dataset_dags: None, web_app: Flask) -> None:
    _post(web_app.test_client(), ORDERS.uri, note="by hand")
    viewer = client_as("Viewer")
    listed = viewer.get("/datasets").text
    assert ORDERS.uri in listed and CUSTOMERS.uri in listed
    assert "shop_export</a>.write_orders" in listed and "daily_report</a>" in listed
    detail = viewer.get("/datasets/detail", query_string={"uri": ORDERS.uri})
    assert detail.status_code == 200
    assert "sent from outside (REST API)" in detail.text and "by hand" in detail.text
    assert "daily_report · since" in detail.text
    assert viewer.get("/datasets/detail", query_string={"uri": "s3://nope"}).status_code == 404
    assert "Datasets" in viewer.get("/").text


def test_dag_dependencies_show_the_producer_to_consumer_path_through_each_dataset(
    client_as, dataset_dags: None
) -> None:
    page = client_as("Viewer").get("/dag-dependencies", query_string={"dag_id": "shop_export"}).text
    rows = [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr class=\"dependency\".*?</tr>", page, re.S)
    ]
    assert rows == [
        f"dataset:{CUSTOMERS.uri} → daily_report dataset: daily_report's schedule",
        f"dataset:{ORDERS.uri} → daily_report dataset: daily_report's schedule",
        f"shop_export → dataset:{CUSTOMERS.uri} dataset: shop_export.write_customers",
        f"shop_export → dataset:{ORDERS.uri} dataset: shop_export.write_orders",
    ]
