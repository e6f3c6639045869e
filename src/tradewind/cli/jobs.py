"""``tradewind jobs check``: is a scheduler (or a triggerer) alive, for health checks and container probes?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from tradewind.cli.output import fail
from tradewind.settings import Settings

DEFAULT_THRESHOLD_S = 30.0
#: Airflow's job type names, as scripts written for Airflow pass them.
AIRFLOW_JOB_TYPES = {"SchedulerJob": "scheduler", "TriggererJob": "triggerer"}


@click.group()
def jobs() -> None:
    """Long-running jobs (schedulers, triggerers) and their heartbeats."""


@jobs.command("check")
@click.option(
    "--job-type",
    default="scheduler",
    show_default=True,
    help="The kind of job to look for: scheduler or triggerer (Airflow's SchedulerJob, TriggererJob work too).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds a heartbeat may be old.  [default: TRADEWIND_HEALTH_CHECK_THRESHOLD or 30]",
)
@click.pass_obj
def check(settings: Settings, job_type: str, threshold: float | None) -> None:
    """Exit 0 when a job of that type heartbeat recently, else exit 1 saying how long ago it last did."""
    from tradewind.metastore import jobs as job_rows
    from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
    from tradewind.metastore.schema_version import ensure_migrated

    job_type = AIRFLOW_JOB_TYPES.get(job_type, job_type)
    limit = (
        threshold if threshold is not None else float(getattr(settings, "health_check_threshold", DEFAULT_THRESHOLD_S))
    )
    now = datetime.now(UTC)
    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
        with session_scope(make_session_factory(engine)) as session:
            alive = job_rows.alive_jobs(session, job_type, within=timedelta(seconds=limit), now=now)
            last = alive[0] if alive else job_rows.latest_job(session, job_type)
    finally:
        engine.dispose()
    if last is None:
        fail(f"no {job_type} has ever run on this metastore")
    age = (now - last.latest_heartbeat).total_seconds()
    where = f"job {last.id}, pid {last.pid} on {last.hostname}"
    if alive:
        click.echo(f"{job_type} alive: last heartbeat {age:.1f} s ago ({where})")
        return
    ended = " (it stopped cleanly)" if last.state != job_rows.RUNNING else ""
    fail(f"no {job_type} heartbeat for {age:.0f} s (threshold {limit:g} s); last from {where}{ended}")
