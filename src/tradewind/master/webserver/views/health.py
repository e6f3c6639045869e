"""``/health`` (no login): is the metastore answering, is a scheduler heartbeating, which workers
are alive and whether each can work (a worker that cannot reach its broker, or stopped consuming
while messages wait for it, is listed as unhealthy with its problem). 200 whenever the metastore
answers, even with no scheduler running; 503 when it does not, so a load balancer takes a
webserver with a dead database out of rotation.

The document is Airflow's (``metadatabase``, ``scheduler``, ``triggerer``, ``dag_processor``) plus
tradewind's own ``workers`` and the scheduler's ``age_seconds``. The triggerer's status is null
while no triggerer ever ran (as Airflow reports it then); tradewind parses DAG files inside the
scheduler, so ``dag_processor`` always reports a null status, as Airflow does for a role it does
not run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from tradewind.master.webserver.auth import public
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.metastore import health as health_queries

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
#: The roles tradewind does not run on their own, as Airflow reports a role it does not run.
_NOT_RUN: dict[str, Any] = {
    "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
}


@bp.get("/health")
@public
def health() -> ResponseReturnValue:
    report, status = health_report()
    return jsonify(report), status


def health_report(now: datetime | None = None) -> tuple[dict[str, Any], int]:
    """The health document and its HTTP status (shared by /health and /api/v1/health)."""
    now = now or datetime.now(UTC)
    threshold = timedelta(seconds=get_settings().health_check_threshold)
    session = get_session()
    try:
        health_queries.ping(session)
        heartbeat = health_queries.scheduler_heartbeat(session)
        triggerer_beat = health_queries.triggerer_heartbeat(session)
        workers = health_queries.live_workers(session, within=threshold, now=now)
    except SQLAlchemyError as exc:
        # The reason is logged, not shown: /health is public and should not describe the network.
        logger.warning("health check: the metastore does not answer: %s", exc)
        return {
            "metadatabase": {"status": UNHEALTHY},
            "scheduler": {"status": UNHEALTHY, "latest_scheduler_heartbeat": None, "age_seconds": None},
            "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
            **_NOT_RUN,
            "workers": [],
        }, 503
    age = (now - heartbeat).total_seconds() if heartbeat is not None else None
    return {
        "metadatabase": {"status": HEALTHY},
        "scheduler": {
            "status": HEALTHY if age is not None and age <= threshold.total_seconds() else UNHEALTHY,
            "latest_scheduler_heartbeat": heartbeat.isoformat() if heartbeat is not None else None,
            "age_seconds": round(age, 3) if age is not None else None,
        },
        "triggerer": _triggerer_section(triggerer_beat, now, get_settings().triggerer_health_check_threshold),
        **_NOT_RUN,
        "workers": [
            {
                "hostname": w.hostname,
                "status": UNHEALTHY if w.problem else HEALTHY,
                "problem": w.problem,
                "queues": w.queues,
                "last_heartbeat": w.last_heartbeat.isoformat(),
                "running": w.running,
                "broker_reconnects": w.broker_reconnects,
            }
            for w in workers
        ],
    }, 200


def _triggerer_section(heartbeat: datetime | None, now: datetime, threshold: float) -> dict[str, Any]:
    """Airflow's: null status while no triggerer ever ran, else healthy while its heartbeat is fresh."""
    if heartbeat is None:
        return {"status": None, "latest_triggerer_heartbeat": None}
    fresh = (now - heartbeat).total_seconds() <= threshold
    return {"status": HEALTHY if fresh else UNHEALTHY, "latest_triggerer_heartbeat": heartbeat.isoformat()}
