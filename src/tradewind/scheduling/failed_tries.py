"""Ending a try that cannot go on, and saying why — the one way every role does it: the scheduler
for a zombie, a task instance whose pool does not exist and a mapped task that cannot be expanded;
a worker for a claimed try whose task cannot be loaded.

The end is a compare-and-set on the task instance's state and try, so a try that moved on meanwhile
is left alone. The reason goes where a person looks for it: the try's log (with Airflow's
"Marking task as …" line), the try's row in the task's history, and this process's log.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.metastore import logs, task_instances
from tradewind.metastore.task_instances import TIKey
from tradewind.states import TaskInstanceState as TI

logger = logging.getLogger(__name__)


def fail_try(
    session: Session,
    key: TIKey,
    try_number: int,
    reason: str,
    now: datetime,
    *,
    expected_state: TI,
    state: TI = TI.FAILED,
    **fields: Any,
) -> bool:
    """Move try ``try_number`` of ``key`` from ``expected_state`` to ``state`` — failed, or
    up_for_retry when the task's retry policy says so (``decisions.retries.decide_failure``; pass its
    ``retry_at`` in ``fields``) — ending it at ``now`` with ``fields`` set, and record ``reason``.
    False, with nothing written, when the task instance is no longer in ``expected_state`` at that try.
    """
    if not task_instances.transition(
        session,
        key,
        expected_state=expected_state,
        target_state=state,
        expected_try=try_number,
        now=now,
        end_date=now,
        **fields,
    ):
        return False
    logs.append_log(
        session,
        key,
        try_number,
        f"[{now.isoformat()}] ERROR - {reason}\n[{now.isoformat()}] INFO - Marking task as {str(state).upper()}.\n",
        now=now,
    )
    row = task_instances.get_ti(session, key.dag_id, key.run_id, key.task_id, key.map_index)
    if row is not None and row.try_number >= 1:
        task_instances.record_try(session, row, error=reason)
    level = logging.ERROR if state is TI.FAILED else logging.WARNING
    logger.log(level, "%s.%s %s try %s: %s; marked %s", key.dag_id, key.task_id, key.run_id, try_number, reason, state)
    return True
