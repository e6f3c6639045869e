"""What a person does to a whole DAG from the UI or the API, each action written to the audit log.

The pages and the REST API call these same functions, so an action means the same thing (and is
recorded the same way) wherever it was taken.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from tradewind.metastore import audit, dags
from tradewind.metastore.models import DagModel


def set_paused(
    session: Session, dag_id: str, paused: bool, *, owner: str, source: str, now: datetime | None = None
) -> DagModel:
    """Pause or unpause the DAG and record who did it (``source``: "ui", "api" or "cli").

    Raises ``DagNotFound`` for an unknown DAG id.
    """
    dag = dags.set_paused(session, dag_id, paused)
    audit.record(
        session, "pause" if paused else "unpause", owner=owner, dag_id=dag_id, extra={"source": source}, now=now
    )
    return dag
