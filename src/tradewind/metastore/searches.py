"""Filtered, ordered, paged reads of DAG runs and task instances across DAGs (the REST API's lists
and its ``~/dagRuns/list`` / ``~/taskInstances/list`` batch queries): one query for the page, one
for the count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tradewind.metastore.models import DagRun, TaskInstance

Row = TypeVar("Row", DagRun, TaskInstance)


@dataclass(frozen=True)
class Span:
    """``[low, high]``, either end open when None."""

    low: Any = None
    high: Any = None


@dataclass(frozen=True)
class Search:
    """What to find: every field that is not None narrows the rows.

    ``spans`` maps a column name to its range; ``any_of`` a column name to the values it may hold
    (an empty list matches nothing); ``order`` is a column name, ``-`` before it for descending.
    """

    spans: Mapping[str, Span] = field(default_factory=dict)
    any_of: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    order: str | None = None
    limit: int = 100
    offset: int = 0


#: The columns a run search may filter and order on (the API's names are mapped by the caller).
RUN_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": DagRun.id,
    "dag_id": DagRun.dag_id,
    "run_id": DagRun.run_id,
    "state": DagRun.state,
    "run_type": DagRun.run_type,
    "logical_date": DagRun.logical_date,
    "start_date": DagRun.start_date,
    "end_date": DagRun.end_date,
    "updated_at": DagRun.updated_at,
    "external_trigger": DagRun.external_trigger,
}

TI_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "dag_id": TaskInstance.dag_id,
    "run_id": TaskInstance.run_id,
    "task_id": TaskInstance.task_id,
    "map_index": TaskInstance.map_index,
    "state": TaskInstance.state,
    "start_date": TaskInstance.start_date,
    "end_date": TaskInstance.end_date,
    "updated_at": TaskInstance.updated_at,
    "duration": TaskInstance.duration,
    "pool": TaskInstance.pool,
    "queue": TaskInstance.queue,
    "try_number": TaskInstance.try_number,
    "priority_weight": TaskInstance.priority_weight,
    "logical_date": DagRun.logical_date,
}


def search_runs(session: Session, search: Search) -> tuple[list[DagRun], int]:
    """(one page of runs, how many matched); ties in the order are broken by the run's id."""
    query = _filtered(select(DagRun), RUN_COLUMNS, search)
    return _page(session, query, RUN_COLUMNS, search, (DagRun.id,))


def search_task_instances(session: Session, search: Search) -> tuple[list[tuple[TaskInstance, datetime]], int]:
    """(one page of (task instance, its run's logical date), how many matched)."""
    base = select(TaskInstance, DagRun.logical_date).join(
        DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id)
    )
    query = _filtered(base, TI_COLUMNS, search)
    ties = (TaskInstance.dag_id, DagRun.logical_date, TaskInstance.task_id, TaskInstance.map_index)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    ordered = query.order_by(*_order(TI_COLUMNS, search.order), *ties)
    rows = session.execute(ordered.limit(search.limit).offset(search.offset)).all()
    return [(row[0], row[1]) for row in rows], total


def _filtered(query: Any, columns: dict[str, InstrumentedAttribute[Any]], search: Search) -> Any:
    for name, span in search.spans.items():
        column = columns[name]
        if span.low is not None:
            query = query.where(column >= span.low)
        if span.high is not None:
            query = query.where(column <= span.high)
    for name, values in search.any_of.items():
        query = query.where(columns[name].in_(list(values)))
    return query


def _order(columns: dict[str, InstrumentedAttribute[Any]], order: str | None) -> list[Any]:
    if not order:
        return []
    column = columns[order.lstrip("-")]
    return [column.desc() if order.startswith("-") else column.asc()]


def _page(
    session: Session,
    query: Select[Any],
    columns: dict[str, InstrumentedAttribute[Any]],
    search: Search,
    ties: tuple[Any, ...],
) -> tuple[list[Row], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    ordered = query.order_by(*_order(columns, search.order), *ties)
    rows = session.scalars(ordered.limit(search.limit).offset(search.offset).execution_options(populate_existing=True))
    return list(rows), total
