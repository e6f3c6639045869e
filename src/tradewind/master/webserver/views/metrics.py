"""``/metrics``: the cluster's state in Prometheus text format, built in a fresh registry per scrape.

It needs a login like every page; a Prometheus scraper sends an API token
(``Authorization: Bearer …``) or basic auth, which ``auth.py`` accepts on this path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.db import get_session, get_settings
from tradewind.metastore import health, metrics
from tradewind.states import DagRunState, TaskInstanceState

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sqlalchemy.orm import Session

bp = Blueprint("metrics", __name__)

HANDOFF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


@bp.get("/metrics")
def prometheus_metrics() -> ResponseReturnValue:
    # Imported on the first scrape: a webserver nobody scrapes does not hold the client library.
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest

    session = get_session()
    registry = CollectorRegistry()
    tis = Gauge("tradewind_task_instances", "Task instances by state.", ["state"], registry=registry)
    ti_counts = metrics.task_instance_counts(session)
    for state in TaskInstanceState:
        tis.labels(state=state.value).set(ti_counts.get(state.value, 0))
    dag_runs = Gauge("tradewind_dag_runs", "DAG runs by state.", ["state"], registry=registry)
    run_counts = metrics.run_counts(session)
    for run_state in DagRunState:
        dag_runs.labels(state=run_state.value).set(run_counts.get(run_state.value, 0))
    Gauge("tradewind_queue_depth", "Task instances queued and not yet running.", registry=registry).set(
        ti_counts.get(TaskInstanceState.QUEUED.value, 0)
    )
    loop = Gauge("tradewind_scheduler_loop_seconds", "The latest scheduler's last loop time.", registry=registry)
    loop_ms = metrics.scheduler_loop_ms(session)
    loop.set(loop_ms / 1000 if loop_ms is not None else float("nan"))
    handoff = Histogram(
        "tradewind_handoff_latency_seconds",
        "Start of a try minus the latest end before it in its run, over the latest tries.",
        buckets=HANDOFF_BUCKETS,
        registry=registry,
    )
    for seconds in metrics.handoff_latencies(session):
        handoff.observe(max(seconds, 0.0))
    _worker_health(session, registry)
    return Response(
        generate_latest(registry),
        mimetype=CONTENT_TYPE_LATEST.split(";")[0],
        headers={"Content-Type": CONTENT_TYPE_LATEST},
    )


def _worker_health(session: Session, registry: CollectorRegistry) -> None:
    from prometheus_client import Counter, Gauge

    healthy = Gauge(
        "tradewind_worker_healthy",
        "1 for a live worker that can work, 0 for one that cannot reach its broker or stopped consuming.",
        ["worker"],
        registry=registry,
    )
    reconnects = Counter(
        "tradewind_worker_broker_reconnects",
        "Times a live worker's consumer reconnected to the broker since the worker started.",
        ["worker"],
        registry=registry,
    )
    within = timedelta(seconds=get_settings().health_check_threshold)
    for worker in health.live_workers(session, within=within):
        healthy.labels(worker=worker.hostname).set(0 if worker.problem else 1)
        reconnects.labels(worker=worker.hostname).inc(worker.broker_reconnects)
