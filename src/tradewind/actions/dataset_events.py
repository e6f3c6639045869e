"""Sending a dataset event from outside any task (the REST API's ``POST /datasets/events``), as
Airflow 2.10 does: the URI must be valid and name a known dataset; the event's extra says it came
from the REST API; the DAGs scheduled on the dataset get it queued in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.errors import DatasetNotFound, InvalidInput
from tradewind.metastore import dataset_reads, datasets
from tradewind.sdk.datasets import check_uri


def send_dataset_event(
    session: Session, uri: str, extra: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> dataset_reads.EventInfo:
    """Record an event of the dataset ``uri`` and queue it for its consumers; returns the event.
    ``InvalidInput`` for a URI Airflow would refuse, ``DatasetNotFound`` for one no DAG names."""
    try:
        check_uri(uri)
    except ValueError as exc:
        raise InvalidInput(f"invalid dataset URI: {exc}") from None
    if dataset_reads.get_dataset(session, uri) is None:
        raise DatasetNotFound(f"Dataset with uri {uri!r} not found")
    stamped = {**dict(extra or {}), "from_rest_api": True}
    (event_id,) = datasets.record_events(
        session, [datasets.NewEvent(uri, stamped)], datasets.EventSource(), now or datetime.now(UTC)
    )
    event = dataset_reads.get_event(session, event_id)
    assert event is not None  # written just now, in this transaction
    return event


def consumers_of(session: Session, uri: str) -> list[str]:
    """The DAGs scheduled on the dataset (to wake the schedulers for)."""
    found = dataset_reads.get_dataset(session, uri)
    return [ref.dag_id for ref in found.consuming_dags] if found is not None else []
