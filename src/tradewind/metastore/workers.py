"""Registered workers: each heartbeats its row; a fresh heartbeat means alive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.metastore.models import TaskInstance, Worker
from tradewind.metastore.statements import upsert

ONLINE = "online"
OFFLINE = "offline"


def register(
    session: Session,
    hostname: str,
    *,
    queues: Sequence[str],
    concurrency: int,
    pid: int,
    version: str,
    now: datetime | None = None,
) -> None:
    now = now or datetime.now(UTC)
    values = {
        "hostname": hostname,
        "state": ONLINE,
        "queues": list(queues),
        "concurrency": concurrency,
        "pid": pid,
        "version": version,
        "started_at": now,
        "last_heartbeat": now,
        "problem": None,
        "broker_reconnects": 0,
    }
    upsert(session, Worker, values, conflict_on=["hostname"], update=[k for k in values if k != "hostname"])


def heartbeat(
    session: Session,
    hostname: str,
    *,
    now: datetime | None = None,
    problem: str | None = None,
    broker_reconnects: int | None = None,
) -> None:
    """The worker is alive; ``problem`` says why it cannot work (None: healthy)."""
    values: dict[str, object] = {"last_heartbeat": now or datetime.now(UTC), "state": ONLINE, "problem": problem}
    if broker_reconnects is not None:
        values["broker_reconnects"] = broker_reconnects
    session.execute(update(Worker).where(Worker.hostname == hostname).values(**values))


def unregister(session: Session, hostname: str) -> None:
    session.execute(update(Worker).where(Worker.hostname == hostname).values(state=OFFLINE))


def list_workers(
    session: Session, *, alive_within: timedelta | None = None, now: datetime | None = None
) -> list[Worker]:
    """Every registered worker, or only those alive (online, heartbeat younger than ``alive_within``)."""
    query = select(Worker).order_by(Worker.hostname)
    if alive_within is not None:
        cutoff = (now or datetime.now(UTC)) - alive_within
        query = query.where(Worker.state == ONLINE, Worker.last_heartbeat >= cutoff)
    return list(session.scalars(query))


def running_on(session: Session, hostnames: Sequence[str]) -> dict[str, list[TaskInstance]]:
    """hostname -> task instances running there now."""
    rows = session.scalars(
        select(TaskInstance).where(TaskInstance.state == "running", TaskInstance.hostname.in_(list(hostnames)))
    )
    found: dict[str, list[TaskInstance]] = {h: [] for h in hostnames}
    for row in rows:
        found.setdefault(row.hostname or "", []).append(row)
    return found
