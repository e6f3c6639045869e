"""Scheduler jobs: start, heartbeat, end, and which are alive (``tradewind jobs check``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewind.metastore.models import Job

RUNNING = "running"
ENDED = "success"


def start_job(session: Session, job_type: str, *, hostname: str, pid: int, now: datetime | None = None) -> Job:
    now = now or datetime.now(UTC)
    job = Job(
        job_type=job_type, state=RUNNING, hostname=hostname, pid=pid, start_date=now, latest_heartbeat=now, counters={}
    )
    session.add(job)
    session.flush()
    return job


def heartbeat(
    session: Session, job_id: int, *, counters: Mapping[str, Any] | None = None, now: datetime | None = None
) -> None:
    values: dict[str, Any] = {"latest_heartbeat": now or datetime.now(UTC)}
    if counters is not None:
        values["counters"] = dict(counters)
    session.execute(update(Job).where(Job.id == job_id).values(**values))


def end_job(session: Session, job_id: int, *, state: str = ENDED, now: datetime | None = None) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(state=state, end_date=now or datetime.now(UTC)))


def alive_jobs(session: Session, job_type: str, *, within: timedelta, now: datetime | None = None) -> list[Job]:
    """Running jobs of ``job_type`` whose heartbeat is younger than ``within``."""
    cutoff = (now or datetime.now(UTC)) - within
    return list(
        session.scalars(
            select(Job)
            .where(Job.job_type == job_type, Job.state == RUNNING, Job.latest_heartbeat >= cutoff)
            .order_by(Job.latest_heartbeat.desc())
        )
    )


def latest_job(session: Session, job_type: str) -> Job | None:
    return session.scalars(
        select(Job).where(Job.job_type == job_type).order_by(Job.latest_heartbeat.desc()).limit(1)
    ).first()
