"""The DAGs list as the web UI and the REST API show it, read in a fixed handful of queries.

One query finds the matching DAG ids (search, paused, tags), one loads the page's rows without
their serialized structure, and three aggregate the runs of the page's DAGs: the last run of each,
the task-instance states of those last runs, and the run states of all runs. The number of
queries does not grow with the number of DAGs on the page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, defer

from tradewind.metastore.models import DagModel, DagRun, TaskInstance


@dataclass(frozen=True)
class DagPage:
    """One page of DAGs (their ``serialized`` column is not loaded) and how many matched in all."""

    dags: list[DagModel]
    total: int


@dataclass(frozen=True)
class LastRun:
    run_id: str
    state: str
    logical_date: datetime
    start_date: datetime | None
    end_date: datetime | None


@dataclass(frozen=True)
class DagStats:
    last_run: LastRun | None = None
    #: state -> count, over the task instances of the last run.
    task_states: dict[str, int] = field(default_factory=dict)
    #: state -> count, over all the DAG's runs.
    run_states: dict[str, int] = field(default_factory=dict)


def list_dag_page(
    session: Session,
    *,
    search: str | None = None,
    tags: Iterable[str] = (),
    paused: bool | None = None,
    limit: int = 100,
    offset: int = 0,
    include_inactive: bool = False,
    descending: bool = False,
) -> DagPage:
    """Active DAGs by id (``descending``: z to a) whose id contains ``search`` (any case), carrying
    at least one of ``tags``."""
    order = DagModel.dag_id.desc() if descending else DagModel.dag_id
    query = select(DagModel.dag_id, DagModel.tags).order_by(order)
    if not include_inactive:
        query = query.where(DagModel.is_active.is_(True))
    if paused is not None:
        query = query.where(DagModel.is_paused.is_(paused))
    if search:
        query = query.where(DagModel.dag_id.ilike(f"%{_escape_like(search)}%", escape="\\"))
    wanted = {tag for tag in tags if tag}
    # Tags are a JSON list stored as text on both backends; matching them here keeps one spelling.
    ids = [dag_id for dag_id, dag_tags in session.execute(query) if not wanted or wanted.intersection(dag_tags or [])]
    page_ids = ids[offset : offset + limit] if limit > 0 else []
    if not page_ids:
        return DagPage([], len(ids))
    rows = session.scalars(
        select(DagModel).options(defer(DagModel.serialized)).where(DagModel.dag_id.in_(page_ids)).order_by(order)
    )
    return DagPage(list(rows), len(ids))


def get_dag_row(session: Session, dag_id: str) -> DagModel | None:
    """One DAG as the list shows it (without its serialized structure), active or not."""
    return session.scalars(
        select(DagModel).options(defer(DagModel.serialized)).where(DagModel.dag_id == dag_id)
    ).one_or_none()


def all_tags(session: Session) -> list[str]:
    """Every tag of an active DAG, sorted, for the tag filter."""
    found: set[str] = set()
    for tags in session.scalars(select(DagModel.tags).where(DagModel.is_active.is_(True))):
        found.update(tags or [])
    return sorted(found)


def dag_stats(session: Session, dag_ids: Sequence[str]) -> dict[str, DagStats]:
    """dag_id -> its last run, the task states of that run and the states of all its runs."""
    if not dag_ids:
        return {}
    last = _last_runs(list(dag_ids)).subquery()
    last_runs = {
        row.dag_id: LastRun(row.run_id, row.state, row.logical_date, row.start_date, row.end_date)
        for row in session.execute(select(last).where(last.c.rank == 1))
    }
    task_states: dict[str, dict[str, int]] = defaultdict(dict)
    for dag_id, state, count in session.execute(
        select(TaskInstance.dag_id, TaskInstance.state, func.count())
        .join(last, (last.c.dag_id == TaskInstance.dag_id) & (last.c.run_id == TaskInstance.run_id))
        .where(last.c.rank == 1)
        .group_by(TaskInstance.dag_id, TaskInstance.state)
    ):
        task_states[dag_id][state] = count
    run_states: dict[str, dict[str, int]] = defaultdict(dict)
    for dag_id, state, count in session.execute(
        select(DagRun.dag_id, DagRun.state, func.count())
        .where(DagRun.dag_id.in_(list(dag_ids)))
        .group_by(DagRun.dag_id, DagRun.state)
    ):
        run_states[dag_id][state] = count
    return {
        dag_id: DagStats(last_runs.get(dag_id), task_states.get(dag_id, {}), run_states.get(dag_id, {}))
        for dag_id in dag_ids
    }


def _last_runs(dag_ids: list[str]) -> Select:  # type: ignore[type-arg]
    rank = func.row_number().over(partition_by=DagRun.dag_id, order_by=(DagRun.logical_date.desc(), DagRun.id.desc()))
    return select(
        DagRun.dag_id,
        DagRun.run_id,
        DagRun.state,
        DagRun.logical_date,
        DagRun.start_date,
        DagRun.end_date,
        rank.label("rank"),
    ).where(DagRun.dag_id.in_(dag_ids))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
