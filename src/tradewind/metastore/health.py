"""What ``/health`` reports: does the metastore answer, how old are the scheduler's and the
triggerer's heartbeats, and which workers are alive with how many task instances running on each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tradewind.metastore import jobs, workers
from tradewind.metastore.models import TaskInstance

#: The ``job.job_type`` a scheduler records its heartbeat under.
SCHEDULER_JOB_TYPE = "scheduler"
#: The ``job.job_type`` a triggerer records its heartbeat under.
TRIGGERER_JOB_TYPE = "triggerer"


@dataclass(frozen=True)
class WorkerHealth:
    hostname: str
    queues: list[str]
    last_heartbeat: datetime
    running: int
    #: Why it cannot work (None: healthy), as the worker judged itself at its last heartbeat.
    problem: str | None = None
    broker_reconnects: int = 0


def ping(session: Session) -> None:
    """Raise the driver's error when the metastore does not answer."""
    session.execute(text("SELECT 1"))


def scheduler_heartbeat(session: Session) -> datetime | None:
    """The latest heartbeat of any scheduler, or None when none ever ran."""
    job = jobs.latest_job(session, SCHEDULER_JOB_TYPE)
    return job.latest_heartbeat if job is not None else None


def triggerer_heartbeat(session: Session) -> datetime | None:
    """The latest heartbeat of any triggerer, or None when none ever ran."""
    job = jobs.latest_job(session, TRIGGERER_JOB_TYPE)
    return job.latest_heartbeat if job is not None else None


def live_workers(session: Session, *, within: timedelta, now: datetime | None = None) -> list[WorkerHealth]:
    """Workers whose heartbeat is younger than ``within``, with their running task-instance counts."""
    alive = workers.list_workers(session, alive_within=within, now=now or datetime.now(UTC))
    if not alive:
        return []
    hostnames = [w.hostname for w in alive]
    running: dict[str | None, int] = {
        hostname: count
        for hostname, count in session.execute(
            select(TaskInstance.hostname, func.count())
            .where(TaskInstance.state == "running", TaskInstance.hostname.in_(hostnames))
            .group_by(TaskInstance.hostname)
        )
    }
    return [
        WorkerHealth(
            w.hostname,
            list(w.queues or []),
            w.last_heartbeat,
            running.get(w.hostname, 0),
            w.problem,
            w.broker_reconnects or 0,
        )
        for w in alive
    ]
