"""What people and tasks read about datasets: each dataset with its producers and consumers, its
events (and the runs they triggered) and the events queued for a DAG. Also deleting queued events,
as the REST API does. (The DAG Dependencies view finds producer → dataset → consumer edges in the
serialized DAGs: ``master/webserver/dag_dependencies.py``.)"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import (
    DagModel,
    DagRun,
    DagRunDatasetEvent,
    DagScheduleDatasetReference,
    DatasetDagRunQueue,
    DatasetEvent,
    DatasetModel,
    TaskOutletDatasetReference,
)

AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Reference:
    dag_id: str
    task_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DatasetInfo:
    id: int
    uri: str
    extra: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    consuming_dags: list[Reference] = field(default_factory=list)
    producing_tasks: list[Reference] = field(default_factory=list)

    @property
    def orphaned(self) -> bool:
        """Named by no DAG now (Airflow marks such a dataset orphaned)."""
        return not self.consuming_dags and not self.producing_tasks


@dataclass(frozen=True)
class EventInfo:
    id: int
    dataset_id: int
    dataset_uri: str
    extra: dict[str, Any]
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None
    timestamp: datetime
    #: (dag_id, run_id) of the runs the event went into
    created_dagruns: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset_id": self.dataset_id,
            "dataset_uri": self.dataset_uri,
            "extra": self.extra,
            "source_dag_id": self.source_dag_id,
            "source_task_id": self.source_task_id,
            "source_run_id": self.source_run_id,
            "source_map_index": self.source_map_index,
            "timestamp": self.timestamp.isoformat(),
        }


@dataclass(frozen=True)
class QueuedInfo:
    uri: str
    dag_id: str
    created_at: datetime


# -- datasets -----------------------------------------------------------------------------------


def _datasets_query(uri_pattern: str | None, dag_ids: Collection[str] | None) -> AnySelect:
    query = select(DatasetModel)
    if uri_pattern:
        query = query.where(DatasetModel.uri.contains(uri_pattern, autoescape=True))
    if dag_ids:
        wanted = sorted(dag_ids)
        consumed = select(DagScheduleDatasetReference.dataset_id).where(DagScheduleDatasetReference.dag_id.in_(wanted))
        produced = select(TaskOutletDatasetReference.dataset_id).where(TaskOutletDatasetReference.dag_id.in_(wanted))
        query = query.where(DatasetModel.id.in_(consumed) | DatasetModel.id.in_(produced))
    return query


def list_datasets(
    session: Session,
    *,
    uri_pattern: str | None = None,
    dag_ids: Collection[str] | None = None,
    order_by: str = "id",
    limit: int | None = 100,
    offset: int = 0,
) -> tuple[list[DatasetInfo], int]:
    """A page of datasets (with their producers and consumers) and how many match in all."""
    query = _datasets_query(uri_pattern, dag_ids)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = DatasetModel.uri if order_by.lstrip("-") == "uri" else DatasetModel.id
    query = query.order_by(column.desc() if order_by.startswith("-") else column).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = list(session.scalars(query))
    return _with_references(session, rows), total


def get_dataset(session: Session, uri: str) -> DatasetInfo | None:
    row = session.scalar(select(DatasetModel).where(DatasetModel.uri == uri))
    return _with_references(session, [row])[0] if row is not None else None


def _with_references(session: Session, rows: list[DatasetModel]) -> list[DatasetInfo]:
    ids = [row.id for row in rows]
    active = select(DagModel.dag_id).where(DagModel.is_active.is_(True))
    consumers: dict[int, list[Reference]] = {}
    producers: dict[int, list[Reference]] = {}
    if ids:
        query = (
            select(DagScheduleDatasetReference)
            .where(DagScheduleDatasetReference.dataset_id.in_(ids), DagScheduleDatasetReference.dag_id.in_(active))
            .order_by(DagScheduleDatasetReference.dag_id)
        )
        for ref in session.scalars(query):
            consumers.setdefault(ref.dataset_id, []).append(Reference(ref.dag_id, None, ref.created_at, ref.updated_at))
        outlet_query = (
            select(TaskOutletDatasetReference)
            .where(TaskOutletDatasetReference.dataset_id.in_(ids), TaskOutletDatasetReference.dag_id.in_(active))
            .order_by(TaskOutletDatasetReference.dag_id, TaskOutletDatasetReference.task_id)
        )
        for out in session.scalars(outlet_query):
            producers.setdefault(out.dataset_id, []).append(
                Reference(out.dag_id, out.task_id, out.created_at, out.updated_at)
            )
    return [
        DatasetInfo(
            id=row.id,
            uri=row.uri,
            extra=dict(row.extra or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
            consuming_dags=consumers.get(row.id, []),
            producing_tasks=producers.get(row.id, []),
        )
        for row in rows
    ]


# -- events -------------------------------------------------------------------------------------

_EVENT_COLUMNS = (DatasetEvent, DatasetModel.uri)


def list_events(
    session: Session,
    *,
    uri: str | None = None,
    dataset_id: int | None = None,
    source_dag_id: str | None = None,
    source_task_id: str | None = None,
    source_run_id: str | None = None,
    source_map_index: int | None = None,
    order_by: str = "timestamp",
    limit: int | None = 100,
    offset: int = 0,
) -> list[EventInfo]:
    """Dataset events matching every filter given, oldest first unless ``order_by`` says ``-``."""
    query = _events_query(uri, dataset_id, source_dag_id, source_task_id, source_run_id, source_map_index)
    column = DatasetEvent.dataset_id if order_by.lstrip("-") == "dataset_id" else DatasetEvent.timestamp
    ordered = (column.desc(), DatasetEvent.id.desc()) if order_by.startswith("-") else (column, DatasetEvent.id)
    query = query.order_by(*ordered).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return _events(session, query)


def count_events(session: Session, **filters: Any) -> int:
    query = _events_query(
        filters.get("uri"),
        filters.get("dataset_id"),
        filters.get("source_dag_id"),
        filters.get("source_task_id"),
        filters.get("source_run_id"),
        filters.get("source_map_index"),
    )
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _events_query(
    uri: str | None,
    dataset_id: int | None,
    source_dag_id: str | None,
    source_task_id: str | None,
    source_run_id: str | None,
    source_map_index: int | None,
) -> AnySelect:
    query = select(*_EVENT_COLUMNS).join(DatasetModel, DatasetModel.id == DatasetEvent.dataset_id)
    if uri is not None:
        query = query.where(DatasetModel.uri == uri)
    for column, value in (
        (DatasetEvent.dataset_id, dataset_id),
        (DatasetEvent.source_dag_id, source_dag_id),
        (DatasetEvent.source_task_id, source_task_id),
        (DatasetEvent.source_run_id, source_run_id),
        (DatasetEvent.source_map_index, source_map_index),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def get_event(session: Session, event_id: int) -> EventInfo | None:
    query = select(*_EVENT_COLUMNS).join(DatasetModel, DatasetModel.id == DatasetEvent.dataset_id)
    found = _events(session, query.where(DatasetEvent.id == event_id))
    return found[0] if found else None


def events_of_run(session: Session, dag_id: str, run_id: str) -> list[EventInfo]:
    """The events that went into a dataset-triggered run, oldest first."""
    query = (
        select(*_EVENT_COLUMNS)
        .join(DatasetModel, DatasetModel.id == DatasetEvent.dataset_id)
        .join(DagRunDatasetEvent, DagRunDatasetEvent.event_id == DatasetEvent.id)
        .join(DagRun, DagRun.id == DagRunDatasetEvent.dag_run_id)
        .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        .order_by(DatasetEvent.timestamp, DatasetEvent.id)
    )
    return _events(session, query)


def _events(session: Session, query: AnySelect) -> list[EventInfo]:
    rows = session.execute(query).all()
    runs: dict[int, list[tuple[str, str]]] = {}
    ids = [event.id for event, _ in rows]
    if ids:
        made = (
            select(DagRunDatasetEvent.event_id, DagRun.dag_id, DagRun.run_id)
            .join(DagRun, DagRun.id == DagRunDatasetEvent.dag_run_id)
            .where(DagRunDatasetEvent.event_id.in_(ids))
            .order_by(DagRun.dag_id, DagRun.run_id)
        )
        for event_id, dag_id, run_id in session.execute(made):
            runs.setdefault(event_id, []).append((dag_id, run_id))
    return [
        EventInfo(
            id=event.id,
            dataset_id=event.dataset_id,
            dataset_uri=uri,
            extra=dict(event.extra or {}),
            source_dag_id=event.source_dag_id,
            source_task_id=event.source_task_id,
            source_run_id=event.source_run_id,
            source_map_index=event.source_map_index,
            timestamp=event.timestamp,
            created_dagruns=runs.get(event.id, []),
        )
        for event, uri in rows
    ]


# -- queued events ------------------------------------------------------------------------------


def queued(
    session: Session, *, dag_id: str | None = None, uri: str | None = None, before: datetime | None = None
) -> list[QueuedInfo]:
    """Per (dataset, DAG): the time its first still-queued event was queued."""
    query = (
        select(DatasetModel.uri, DatasetDagRunQueue.target_dag_id, func.min(DatasetDagRunQueue.created_at))
        .join(DatasetModel, DatasetModel.id == DatasetDagRunQueue.dataset_id)
        .group_by(DatasetModel.uri, DatasetDagRunQueue.target_dag_id)
        .order_by(DatasetDagRunQueue.target_dag_id, DatasetModel.uri)
    )
    query = _queue_filters(query, dag_id, uri, before)
    return [QueuedInfo(*row) for row in session.execute(query)]


def delete_queued(
    session: Session, *, dag_id: str | None = None, uri: str | None = None, before: datetime | None = None
) -> int:
    """Drop the queued events matching the filters; returns how many (event, DAG) rows went."""
    query = _queue_filters(select(DatasetDagRunQueue.event_id, DatasetDagRunQueue.target_dag_id), dag_id, uri, before)
    keys = session.execute(query).all()
    for event_id, target in keys:
        session.execute(
            delete(DatasetDagRunQueue).where(
                DatasetDagRunQueue.event_id == event_id, DatasetDagRunQueue.target_dag_id == target
            )
        )
    return len(keys)


def _queue_filters(query: AnySelect, dag_id: str | None, uri: str | None, before: datetime | None) -> AnySelect:
    if dag_id is not None:
        query = query.where(DatasetDagRunQueue.target_dag_id == dag_id)
    if uri is not None:
        ids = select(DatasetModel.id).where(DatasetModel.uri == uri)
        query = query.where(DatasetDagRunQueue.dataset_id.in_(ids))
    if before is not None:
        query = query.where(DatasetDagRunQueue.created_at < before)
    return query


def waiting_summary(session: Session, dag_ids: Collection[str]) -> dict[str, tuple[int, int]]:
    """dag_id -> (datasets with queued events, datasets its schedule names), for each DAG of
    ``dag_ids`` scheduled on datasets (the DAGs list's "1 of 2 datasets updated")."""
    if not dag_ids:
        return {}
    named: dict[str, set[int]] = {}
    refs = select(DagScheduleDatasetReference.dag_id, DagScheduleDatasetReference.dataset_id).where(
        DagScheduleDatasetReference.dag_id.in_(sorted(dag_ids))
    )
    for dag_id, dataset_id in session.execute(refs):
        named.setdefault(dag_id, set()).add(dataset_id)
    updated: dict[str, set[int]] = {}
    queue = select(DatasetDagRunQueue.target_dag_id, DatasetDagRunQueue.dataset_id).where(
        DatasetDagRunQueue.target_dag_id.in_(sorted(named))
    )
    for dag_id, dataset_id in session.execute(queue):
        updated.setdefault(dag_id, set()).add(dataset_id)
    return {dag_id: (len(ids & updated.get(dag_id, set())), len(ids)) for dag_id, ids in named.items()}
