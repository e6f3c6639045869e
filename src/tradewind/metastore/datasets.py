"""Datasets in the metastore: which DAGs produce and consume each, its events, and the queue of
events each consumer has had no run for yet (Airflow's ``dataset_dag_run_queue``).

An event is written in the caller's transaction with one queue row per consumer that is active and
not paused; the run that takes it in deletes exactly those rows in its own transaction, so an
event is never lost nor counted twice, whichever scheduler takes it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import (
    DagModel,
    DagRun,
    DagRunDatasetEvent,
    DagScheduleAliasReference,
    DagScheduleDatasetReference,
    DatasetAliasMember,
    DatasetAliasModel,
    DatasetDagRunQueue,
    DatasetEvent,
    DatasetModel,
    TaskOutletDatasetReference,
)
from tradewind.metastore.statements import upsert
from tradewind.sdk.datasets import BaseDataset, Dataset


@dataclass(frozen=True)
class NewEvent:
    """An update of one dataset to record; ``aliases``: the aliases it was added through."""

    uri: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventSource:
    """The task instance whose success sent the events (all None: sent from outside, by the API)."""

    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None


@dataclass(frozen=True)
class QueuedEvent:
    event_id: int
    dataset_id: int
    uri: str
    created_at: datetime


# -- datasets and aliases -------------------------------------------------------------------------


def ensure_datasets(session: Session, uris: Iterable[str], now: datetime) -> dict[str, int]:
    """uri -> id of each dataset, created when it is new (one statement per new URI, race-free)."""
    wanted = sorted(set(uris))
    if not wanted:
        return {}
    known = dict(session.execute(select(DatasetModel.uri, DatasetModel.id).where(DatasetModel.uri.in_(wanted))).all())
    for uri in wanted:
        if uri not in known:
            values = {"uri": uri, "extra": {}, "created_at": now, "updated_at": now}
            upsert(session, DatasetModel, values, conflict_on=["uri"], update=[])
    if len(known) < len(wanted):
        known = dict(
            session.execute(select(DatasetModel.uri, DatasetModel.id).where(DatasetModel.uri.in_(wanted))).all()
        )
    return known


def ensure_aliases(session: Session, names: Iterable[str]) -> dict[str, int]:
    """name -> id of each alias, created when it is new."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    for name in wanted:
        upsert(session, DatasetAliasModel, {"name": name}, conflict_on=["name"], update=[])
    query = select(DatasetAliasModel.name, DatasetAliasModel.id).where(DatasetAliasModel.name.in_(wanted))
    return dict(session.execute(query).all())


def alias_members(session: Session, names: Collection[str]) -> dict[str, set[str]]:
    """alias name -> the URIs of the datasets events were attached to through it."""
    if not names:
        return {}
    query = (
        select(DatasetAliasModel.name, DatasetModel.uri)
        .join(DatasetAliasMember, DatasetAliasMember.alias_id == DatasetAliasModel.id)
        .join(DatasetModel, DatasetModel.id == DatasetAliasMember.dataset_id)
        .where(DatasetAliasModel.name.in_(sorted(names)))
    )
    members: dict[str, set[str]] = {name: set() for name in names}
    for name, uri in session.execute(query):
        members[name].add(uri)
    return members


class DagReferences(NamedTuple):
    """What one parsed DAG consumes (its schedule's condition) and produces (task id -> outlets)."""

    dag_id: str
    condition: BaseDataset | None
    outlets: Mapping[str, Iterable[BaseDataset]]


def sync_dag_references(
    session: Session,
    dag_id: str,
    condition: BaseDataset | None,
    outlets: Mapping[str, Iterable[BaseDataset]],
    now: datetime | None = None,
) -> None:
    """Record what a freshly parsed DAG consumes (its schedule's datasets and aliases) and produces
    (its tasks' outlet datasets), replacing what an earlier version of it named."""
    sync_many_dag_references(session, [DagReferences(dag_id, condition, outlets)], now)


def sync_many_dag_references(
    session: Session, references: Sequence[DagReferences], now: datetime | None = None
) -> None:
    """``sync_dag_references`` for many DAGs (distinct ids), in a fixed number of statements."""
    if not references:
        return
    now = now or datetime.now(UTC)
    consumed: dict[str, set[str]] = {}
    aliases: dict[str, set[str]] = {}
    produced: dict[str, set[tuple[str, str]]] = {}
    for ref in references:
        condition = ref.condition
        consumed[ref.dag_id] = {d.uri for d in condition.iter_datasets()} if condition is not None else set()
        aliases[ref.dag_id] = {a.name for a in condition.iter_aliases()} if condition is not None else set()
        produced[ref.dag_id] = {
            (task_id, d.uri) for task_id, items in ref.outlets.items() for d in items if isinstance(d, Dataset)
        }
    uris = set().union(*consumed.values(), *({uri for _, uri in p} for p in produced.values()))
    ids = ensure_datasets(session, uris, now)
    alias_ids = ensure_aliases(session, set().union(*aliases.values()))
    dag_ids = sorted(consumed)
    for model in (DagScheduleDatasetReference, DagScheduleAliasReference, TaskOutletDatasetReference):
        session.execute(delete(model).where(model.dag_id.in_(dag_ids)))
    stamps = {"created_at": now, "updated_at": now}
    for dag_id in dag_ids:
        session.add_all(
            DagScheduleDatasetReference(dataset_id=ids[uri], dag_id=dag_id, **stamps) for uri in consumed[dag_id]
        )
        session.add_all(
            DagScheduleAliasReference(alias_id=alias_ids[n], dag_id=dag_id, **stamps) for n in aliases[dag_id]
        )
        session.add_all(
            TaskOutletDatasetReference(dataset_id=ids[uri], dag_id=dag_id, task_id=task_id, **stamps)
            for task_id, uri in produced[dag_id]
        )
    session.flush()


# -- events and the queue -------------------------------------------------------------------------


def record_events(session: Session, events: Iterable[NewEvent], source: EventSource, now: datetime) -> list[int]:
    """Write each event, attach its dataset to the aliases it came through, and queue it for every
    active, unpaused DAG scheduled on the dataset or on one of those aliases. Returns the event ids."""
    events = list(events)
    ids = ensure_datasets(session, (e.uri for e in events), now)
    alias_ids = ensure_aliases(session, (a for e in events for a in e.aliases))
    recorded: list[int] = []
    queue: list[DatasetDagRunQueue] = []
    for event in events:
        dataset_id = ids[event.uri]
        for alias in event.aliases:
            values = {"alias_id": alias_ids[alias], "dataset_id": dataset_id}
            upsert(session, DatasetAliasMember, values, conflict_on=["alias_id", "dataset_id"], update=[])
        row = DatasetEvent(
            dataset_id=dataset_id,
            extra=dict(event.extra),
            source_dag_id=source.dag_id,
            source_task_id=source.task_id,
            source_run_id=source.run_id,
            source_map_index=source.map_index,
            timestamp=now,
        )
        session.add(row)
        session.flush()
        queue += (
            DatasetDagRunQueue(event_id=row.id, target_dag_id=dag_id, dataset_id=dataset_id, created_at=now)
            for dag_id in _consumers(session, dataset_id)
        )
        recorded.append(row.id)
    # Each queue row's foreign key share-locks its DAG's row; taking them in dag_id order, the order
    # in which a scheduler locks DAG rows (``scheduling.dag_id_lock_order``), means the two wait
    # for each other but never deadlock.
    queue.sort(key=lambda q: (q.target_dag_id, q.event_id))
    session.add_all(queue)
    session.flush()
    return recorded


def _consumers(session: Session, dataset_id: int) -> set[str]:
    """The active, unpaused DAGs scheduled on the dataset, directly or through an alias it belongs to."""
    direct = select(DagScheduleDatasetReference.dag_id).where(DagScheduleDatasetReference.dataset_id == dataset_id)
    through_alias = (
        select(DagScheduleAliasReference.dag_id)
        .join(DatasetAliasMember, DatasetAliasMember.alias_id == DagScheduleAliasReference.alias_id)
        .where(DatasetAliasMember.dataset_id == dataset_id)
    )
    dag_ids = set(session.scalars(direct)) | set(session.scalars(through_alias))
    if not dag_ids:
        return set()
    live = select(DagModel.dag_id).where(
        DagModel.dag_id.in_(sorted(dag_ids)), DagModel.is_active.is_(True), DagModel.is_paused.is_(False)
    )
    return set(session.scalars(live))


def queued_dag_ids(session: Session) -> list[str]:
    """DAGs with queued events, the longest-waiting first (all of them: a DAG still waiting for the
    rest of its condition must not keep one whose condition holds from being looked at)."""
    query = (
        select(DatasetDagRunQueue.target_dag_id)
        .group_by(DatasetDagRunQueue.target_dag_id)
        .order_by(func.min(DatasetDagRunQueue.created_at))
    )
    return list(session.scalars(query))


def queued_events(session: Session, dag_id: str) -> list[QueuedEvent]:
    """The events queued for ``dag_id``, oldest first."""
    query = (
        select(
            DatasetDagRunQueue.event_id, DatasetDagRunQueue.dataset_id, DatasetModel.uri, DatasetDagRunQueue.created_at
        )
        .join(DatasetModel, DatasetModel.id == DatasetDagRunQueue.dataset_id)
        .where(DatasetDagRunQueue.target_dag_id == dag_id)
        .order_by(DatasetDagRunQueue.event_id)
    )
    return [QueuedEvent(*row) for row in session.execute(query)]


def take_queued(session: Session, dag_id: str, event_ids: Collection[int], run_pk: int | None) -> None:
    """The events went into run ``run_pk`` (None: into no run, dropped): record them on it and
    take them off the queue."""
    if run_pk is not None:
        session.add_all(DagRunDatasetEvent(dag_run_id=run_pk, event_id=event_id) for event_id in sorted(event_ids))
    session.execute(
        delete(DatasetDagRunQueue).where(
            DatasetDagRunQueue.target_dag_id == dag_id, DatasetDagRunQueue.event_id.in_(sorted(event_ids))
        )
    )
    session.flush()


def source_intervals(session: Session, event_ids: Collection[int]) -> list[tuple[datetime | None, datetime | None]]:
    """The data intervals of the runs that sent the events (events sent from outside have none)."""
    if not event_ids:
        return []
    query = (
        select(DagRun.data_interval_start, DagRun.data_interval_end)
        .join(
            DatasetEvent, (DatasetEvent.source_dag_id == DagRun.dag_id) & (DatasetEvent.source_run_id == DagRun.run_id)
        )
        .where(DatasetEvent.id.in_(sorted(event_ids)))
    )
    return [(start, end) for start, end in session.execute(query)]


def queued_summary(session: Session, dag_ids: Collection[str]) -> dict[str, set[str]]:
    """dag_id -> URIs of the datasets with events queued for it (the DAGs list's "x of y updated")."""
    if not dag_ids:
        return {}
    query = (
        select(DatasetDagRunQueue.target_dag_id, DatasetModel.uri)
        .join(DatasetModel, DatasetModel.id == DatasetDagRunQueue.dataset_id)
        .where(DatasetDagRunQueue.target_dag_id.in_(sorted(dag_ids)))
        .distinct()
    )
    summary: dict[str, set[str]] = {}
    for dag_id, uri in session.execute(query):
        summary.setdefault(dag_id, set()).add(uri)
    return summary


def sync_parsed_dag(session: Session, dag: Any, now: datetime | None = None) -> None:
    """``sync_dag_references`` for a parsed DAG (live or serialized): its timetable's condition and
    its tasks' outlets."""
    sync_parsed_dags(session, [dag], now)


def sync_parsed_dags(session: Session, dags: Sequence[Any], now: datetime | None = None) -> None:
    """``sync_parsed_dag`` for many DAGs (distinct ids) at once."""
    references = []
    for dag in dags:
        condition = getattr(dag.timetable, "dataset_condition", None)
        outlets = {task.task_id: list(getattr(task, "outlets", None) or []) for task in dag.tasks}
        references.append(DagReferences(dag.dag_id, condition if isinstance(condition, BaseDataset) else None, outlets))
    sync_many_dag_references(session, references, now)
