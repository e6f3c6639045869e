"""DAGs as the dag processor last parsed them: upsert, read, pause, and retire the vanished ones."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.errors import DagNotFound
from tradewind.metastore.column_limits import check_fits
from tradewind.metastore.models import DagModel
from tradewind.metastore.statements import rows_changed, upsert_many
from tradewind.sdk.serialization import SerializedDAG, deserialize_dag


@dataclass(frozen=True)
class DagRecord:
    """What the dag processor records of one parsed DAG."""

    dag_id: str
    fileloc: str
    serialized: dict[str, Any]
    dag_hash: str
    schedule_description: str | None
    description: str | None
    tags: list[str] | None
    owners: str | None
    max_active_runs: int | None
    max_active_tasks: int | None
    is_paused_upon_creation: bool
    dag_display_name: str | None = None


def check_record_fits(record: DagRecord) -> None:
    """Raise ``InvalidInput`` naming the first value of the record its column cannot hold (a
    timetable summary over 1,000 characters, owners over 2,000), before any statement fails on it."""
    check_fits(
        DagModel,
        dag_id=record.dag_id,
        fileloc=record.fileloc,
        dag_hash=record.dag_hash,
        schedule_description=record.schedule_description,
        description=record.description,
        owners=record.owners,
        max_active_runs=record.max_active_runs,
        max_active_tasks=record.max_active_tasks,
        dag_display_name=record.dag_display_name,
    )


def upsert_dag(
    session: Session,
    dag_id: str,
    fileloc: str,
    serialized: dict[str, Any],
    dag_hash: str,
    schedule_description: str | None,
    description: str | None,
    tags: list[str] | None,
    owners: str | None,
    max_active_runs: int | None,
    max_active_tasks: int | None,
    is_paused_upon_creation: bool,
    *,
    dag_display_name: str | None = None,
    now: datetime | None = None,
) -> DagModel:
    """Record a parsed DAG (``upsert_dags`` of one) and return it."""
    record = DagRecord(
        dag_id=dag_id,
        fileloc=fileloc,
        serialized=serialized,
        dag_hash=dag_hash,
        schedule_description=schedule_description,
        description=description,
        tags=tags,
        owners=owners,
        max_active_runs=max_active_runs,
        max_active_tasks=max_active_tasks,
        is_paused_upon_creation=is_paused_upon_creation,
        dag_display_name=dag_display_name,
    )
    upsert_dags(session, [record], now=now)
    dag = get_dag(session, dag_id)
    assert dag is not None
    return dag


def upsert_dags(session: Session, records: Sequence[DagRecord], *, now: datetime | None = None) -> None:
    """Record parsed DAGs (distinct ids). A new DAG starts paused or not as asked; an existing one
    keeps the paused flag a person set. Either way it is active again, and parsed ``now``."""
    now = now or datetime.now(UTC)
    rows = [
        {
            "dag_id": r.dag_id,
            "fileloc": r.fileloc,
            "serialized": r.serialized,
            "dag_hash": r.dag_hash,
            "schedule_description": r.schedule_description,
            "description": r.description,
            "tags": list(r.tags or []),
            "owners": r.owners,
            "max_active_runs": r.max_active_runs,
            "max_active_tasks": r.max_active_tasks,
            "is_active": True,
            "last_parsed": now,
            "has_import_errors": False,
            "dag_display_name": r.dag_display_name if r.dag_display_name != r.dag_id else None,
            "is_paused": r.is_paused_upon_creation,
        }
        for r in records
    ]
    if not rows:
        return
    # INSERT … ON CONFLICT, so two dag processors parsing the same new file cannot collide.
    updated = [name for name in rows[0] if name not in ("dag_id", "is_paused")]
    upsert_many(session, DagModel, rows, conflict_on=["dag_id"], update=updated)


def active_filelocs(session: Session, dag_ids: Collection[str]) -> dict[str, str]:
    """dag_id -> the file of each active DAG among ``dag_ids`` (one query)."""
    if not dag_ids:
        return {}
    query = select(DagModel.dag_id, DagModel.fileloc).where(
        DagModel.dag_id.in_(sorted(dag_ids)), DagModel.is_active.is_(True)
    )
    return {dag_id: fileloc for dag_id, fileloc in session.execute(query)}


def get_dag(session: Session, dag_id: str) -> DagModel | None:
    return session.scalars(
        select(DagModel).where(DagModel.dag_id == dag_id).execution_options(populate_existing=True)
    ).one_or_none()


def get_fileloc(session: Session, dag_id: str) -> str | None:
    """Only the DAG's file path: what a worker needs per task, without the serialized DAG."""
    return session.scalar(select(DagModel.fileloc).where(DagModel.dag_id == dag_id))


def list_dags(session: Session, *, include_inactive: bool = False, tags: Iterable[str] | None = None) -> list[DagModel]:
    """DAGs by id; with ``tags``, only those carrying at least one of them."""
    query = select(DagModel).order_by(DagModel.dag_id)
    if not include_inactive:
        query = query.where(DagModel.is_active.is_(True))
    dags = list(session.scalars(query))
    if tags:
        # Tags are a JSON list stored as text; there are few DAGs, so filter here, the same on both backends.
        wanted = set(tags)
        dags = [dag for dag in dags if wanted.intersection(dag.tags or [])]
    return dags


def active_dag_ids(session: Session) -> list[str]:
    """The ids of the DAGs whose files are present, sorted (for a DAG filter's choices)."""
    return list(session.scalars(select(DagModel.dag_id).where(DagModel.is_active.is_(True)).order_by(DagModel.dag_id)))


def set_paused(session: Session, dag_id: str, paused: bool) -> DagModel:
    dag = get_dag(session, dag_id)
    if dag is None:
        raise DagNotFound(f"no DAG with id {dag_id!r}")
    dag.is_paused = paused
    session.flush()
    return dag


def deactivate_missing(session: Session, active_filelocs: Collection[str]) -> int:
    """Mark inactive every DAG whose file is not in ``active_filelocs``; returns how many changed.

    The missing files are found here rather than by ``NOT IN`` thousands of names: a scan of an
    unchanged folder then sends one small query and no update."""
    active = set(session.scalars(select(DagModel.fileloc).where(DagModel.is_active.is_(True))))
    missing = sorted(active - set(active_filelocs))
    if not missing:
        return 0
    statement = update(DagModel).where(DagModel.is_active.is_(True), DagModel.fileloc.in_(missing))
    return rows_changed(session, statement.values(is_active=False).execution_options(synchronize_session="fetch"))


def deactivate_many(session: Session, dag_ids: Collection[str]) -> int:
    """Mark the DAGs inactive (their files no longer define them); returns how many were active."""
    if not dag_ids:
        return 0
    statement = update(DagModel).where(DagModel.dag_id.in_(sorted(dag_ids)), DagModel.is_active.is_(True))
    return rows_changed(session, statement.values(is_active=False).execution_options(synchronize_session="fetch"))


def deactivate(session: Session, dag_id: str) -> bool:
    """Mark one DAG inactive (its file no longer defines it); returns whether it was active."""
    statement = update(DagModel).where(DagModel.dag_id == dag_id, DagModel.is_active.is_(True))
    return rows_changed(session, statement.values(is_active=False).execution_options(synchronize_session="fetch")) == 1


def get_serialized(session: Session, dag_id: str) -> dict[str, Any] | None:
    return session.scalar(select(DagModel.serialized).where(DagModel.dag_id == dag_id))


def serialized_of(session: Session, dag_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """dag_id -> its stored serialized form, for the DAGs of ``dag_ids`` that have one (one query)."""
    if not dag_ids:
        return {}
    query = select(DagModel.dag_id, DagModel.serialized).where(DagModel.dag_id.in_(list(dag_ids)))
    return {dag_id: data for dag_id, data in session.execute(query) if data is not None}


def load_dag(session: Session, dag_id: str) -> SerializedDAG:
    """The DAG as last parsed, for whoever shows or acts on it (the web UI, the API, the CLI, a
    person's actions). ``DagNotFound`` when it is unknown, its file is gone (inactive) or its stored
    form is one this version cannot read."""
    row = get_dag(session, dag_id)
    if row is None or not row.is_active or row.serialized is None:
        raise DagNotFound(
            f"DAG {dag_id!r} not found. There is no DAG of that id, or its file is gone; see `tradewind dags list`"
        )
    try:
        return deserialize_dag(row.serialized)
    except (KeyError, ValueError):
        raise DagNotFound(f"DAG {dag_id!r} has not been parsed into a form this version of tradewind reads") from None
