"""Pools: named limits on how many task slots run at once; ``default_pool`` always exists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, case, func, select
from sqlalchemy.orm import Session

from tradewind.metastore.column_limits import check_fits
from tradewind.metastore.models import DEFAULT_POOL, SlotPool, TaskInstance
from tradewind.metastore.statements import upsert

__all__ = [
    "DEFAULT_POOL",
    "PoolUsage",
    "delete_pool",
    "ensure_default_pool",
    "get_pool",
    "list_pools",
    "pool_usage",
    "set_pool",
    "slot_limits",
]


def ensure_default_pool(session: Session, slots: int = 128) -> SlotPool:
    """Create ``default_pool`` with ``slots`` if it is missing; an existing one keeps its slots."""
    upsert(
        session,
        SlotPool,
        {"pool": DEFAULT_POOL, "slots": slots, "description": "Default pool", "include_deferred": False},
        conflict_on=["pool"],
        update=[],
    )
    pool = get_pool(session, DEFAULT_POOL)
    assert pool is not None
    return pool


def get_pool(session: Session, name: str) -> SlotPool | None:
    return session.scalars(
        select(SlotPool).where(SlotPool.pool == name).execution_options(populate_existing=True)
    ).one_or_none()


def list_pools(session: Session) -> list[SlotPool]:
    return list(session.scalars(select(SlotPool).order_by(SlotPool.pool)))


def set_pool(
    session: Session, name: str, slots: int, description: str | None = None, *, include_deferred: bool = False
) -> SlotPool:
    """Create the pool or change its slots (and description, when one is given)."""
    if not name or not name.strip():
        raise ValueError("a pool needs a name")
    if slots < 0:
        raise ValueError(f"pool {name!r}: slots must be 0 or more, not {slots}")
    check_fits(SlotPool, pool=name, slots=slots, description=description)
    values = {"pool": name, "slots": slots, "description": description, "include_deferred": include_deferred}
    update = ["slots", "include_deferred"] + (["description"] if description is not None else [])
    upsert(session, SlotPool, values, conflict_on=["pool"], update=update)
    pool = get_pool(session, name)
    assert pool is not None
    return pool


def delete_pool(session: Session, name: str) -> bool:
    """Delete a pool; returns whether it existed. ``default_pool`` cannot be deleted."""
    if name == DEFAULT_POOL:
        raise ValueError(f"{DEFAULT_POOL} cannot be deleted; change its slots instead")
    pool = get_pool(session, name)
    if pool is None:
        return False
    session.delete(pool)
    session.flush()
    return True


@dataclass(frozen=True)
class PoolUsage:
    """A pool with the slots its running and queued task instances take, those of its scheduled
    ones (which take none yet) and of its deferred ones (which take some only in a pool with
    ``include_deferred``, as in Airflow)."""

    pool: SlotPool
    running: int
    queued: int
    scheduled: int = 0
    deferred: int = 0

    @property
    def occupied(self) -> int:
        return self.running + self.queued + (self.deferred if self.pool.include_deferred else 0)

    @property
    def free(self) -> int:
        return max(0, self.pool.slots - self.occupied)


def pool_usage(session: Session) -> list[PoolUsage]:
    """Every pool with its used (running), queued, scheduled and deferred slots, by name (two queries)."""
    taken: dict[tuple[str, str], int] = {
        (pool, state): int(slots)
        for pool, state, slots in session.execute(
            select(TaskInstance.pool, TaskInstance.state, func.coalesce(func.sum(TaskInstance.pool_slots), 0))
            .where(TaskInstance.state.in_(["running", "queued", "scheduled", "deferred"]))
            .group_by(TaskInstance.pool, TaskInstance.state)
        )
    }
    return [
        PoolUsage(
            p,
            taken.get((p.pool, "running"), 0),
            taken.get((p.pool, "queued"), 0),
            taken.get((p.pool, "scheduled"), 0),
            taken.get((p.pool, "deferred"), 0),
        )
        for p in list_pools(session)
    ]


def slot_limits(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """Each pool's slots, and the slots deferred task instances take in the pools that count them
    (``include_deferred``); one statement, built once (``scheduling.slot_use_and_limits`` reads it
    with what the task instances take, for every queueing decision)."""
    return limits_of(session.execute(SLOT_LIMITS))


def limits_of(rows: Iterable[tuple[str, int, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """``slot_limits`` from the rows of ``SLOT_LIMITS``: (pool, its slots, the slots deferred task
    instances hold in it)."""
    slots: dict[str, int] = {}
    deferred: dict[str, int] = {}
    for pool, pool_slots, held in rows:
        slots[pool] = int(pool_slots)
        if held:
            deferred[pool] = int(held)
    return slots, deferred


def _slot_limits() -> Select[Any]:
    pools, tis = cast("Table", SlotPool.__table__), cast("Table", TaskInstance.__table__)
    held = (
        select(func.coalesce(func.sum(tis.c.pool_slots), 0))
        .where(tis.c.state == "deferred", tis.c.pool == pools.c.pool)
        .scalar_subquery()
    )
    return select(pools.c.pool, pools.c.slots, case((pools.c.include_deferred.is_(True), held), else_=0))


#: Each pool: its name, its slots, and the slots deferred task instances hold in it when it counts them.
SLOT_LIMITS = _slot_limits()
