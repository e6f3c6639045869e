"""``tradewind datasets list``: every dataset with the DAGs that produce and consume it, its event
count and the time of its latest event (Airflow 2.10 has no datasets command; the REST API's
``/datasets`` and the Datasets page show the same)."""

from __future__ import annotations

from typing import Any

import click

from tradewind.cli.metastore_access import metastore_session
from tradewind.cli.output import OUTPUT_OPTION, emit
from tradewind.settings import Settings

COLUMNS = ("uri", "producing_tasks", "consuming_dags", "events", "latest_event")


@click.group()
def datasets() -> None:
    """Inspect datasets: what updates each one and which DAGs are scheduled on it."""


@datasets.command("list")
@click.option("--uri-pattern", default=None, envvar="TRADEWIND_DATASETS_URI_PATTERN", help="Only URIs containing this.")
@OUTPUT_OPTION
@click.pass_obj
def list_datasets(settings: Settings, uri_pattern: str | None, output: str) -> None:
    """List the datasets, by URI."""
    from tradewind.metastore import dataset_reads

    rows: list[dict[str, Any]] = []
    with metastore_session(settings) as session:
        found, _ = dataset_reads.list_datasets(session, uri_pattern=uri_pattern, order_by="uri", limit=None)
        for dataset in found:
            latest = dataset_reads.list_events(session, dataset_id=dataset.id, order_by="-timestamp", limit=1)
            rows.append(
                {
                    "uri": dataset.uri,
                    "producing_tasks": ", ".join(f"{r.dag_id}.{r.task_id}" for r in dataset.producing_tasks),
                    "consuming_dags": ", ".join(r.dag_id for r in dataset.consuming_dags),
                    "events": dataset_reads.count_events(session, dataset_id=dataset.id),
                    "latest_event": latest[0].timestamp.isoformat() if latest else None,
                }
            )
    emit(rows, COLUMNS, output)
