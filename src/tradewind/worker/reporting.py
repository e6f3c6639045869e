"""The worker's only metastore writes: claim, heartbeat, log lines, XCom, rendered fields, result.

Every state write is a compare-and-set on (state, try number), so a duplicate message finds
nothing to claim and a worker declared dead cannot overwrite the retry that replaced it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import logs, task_instances, xcoms
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.retries import RetryPolicy, decide_failure
from tradewind.states import TaskInstanceState as TI
from tradewind.worker.outcome import Outcome

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Reporter:
    """Writes what one try of one task instance does, each write in its own short transaction."""

    def __init__(self, factory: sessionmaker[Session], key: TIKey, try_number: int) -> None:
        self.factory = factory
        self.key = key
        self.try_number = try_number

    def claim(self, *, hostname: str, pid: int) -> bool:
        """queued → running for this try; False when someone else already has it."""
        now = utcnow()
        with session_scope(self.factory) as session:
            claimed = task_instances.transition(
                session, self.key, expected_state=TI.QUEUED, target_state=TI.RUNNING,
                expected_try=self.try_number, start_date=now, end_date=None, duration=None,
                hostname=hostname, pid=pid, last_heartbeat=now,
            )
            if claimed:
                row = task_instances.get_ti(session, *self._key_args())
                task_instances.record_try(session, row)
        return claimed

    def heartbeat(self) -> bool:
        """Refresh the heartbeat; False when the task instance is no longer this running try
        (cleared, marked from the UI, or declared a zombie) and the task must be stopped."""
        with session_scope(self.factory) as session:
            return task_instances.transition(
                session, self.key, expected_state=TI.RUNNING, target_state=TI.RUNNING,
                expected_try=self.try_number, last_heartbeat=utcnow(),
            )

    def append_log(self, text: str) -> None:
        if not text:
            return
        with session_scope(self.factory) as session:
            logs.append_log(session, self.key, self.try_number, text)

    def set_rendered_fields(self, rendered: dict[str, Any]) -> None:
        with session_scope(self.factory) as session:
            task_instances.set_rendered_fields(session, self.key, self.try_number, rendered)

    def finish(self, outcome: Outcome) -> bool:
        """Write the try's final state (running → outcome) and skip the tasks a branch pruned."""
        now = utcnow()
        with session_scope(self.factory) as session:
            row = task_instances.get_ti(session, *self._key_args())
            started = row.start_date if row is not None else None
            fields: dict[str, Any] = {
                "end_date": now,
                "duration": (now - started).total_seconds() if started else None,
                "retry_at": outcome.retry_at,
                "next_poke_at": outcome.next_poke_at,
            }
            if outcome.first_poke_at is not None:
                fields["first_poke_at"] = outcome.first_poke_at
            written = task_instances.transition(
                session, self.key, expected_state=TI.RUNNING, target_state=outcome.state,
                expected_try=self.try_number, **fields,
            )
            if not written:
                logger.warning("%s try %s: result %s not written, the task instance moved on",
                               self.key, self.try_number, outcome.state)
                return False
            row = task_instances.get_ti(session, *self._key_args())
            task_instances.record_try(session, row, error=outcome.error)
            if outcome.skip_task_ids:
                skip_downstream(session, self.key, outcome.skip_task_ids)
        return True

    def _key_args(self) -> tuple[str, str, str, int]:
        return self.key.dag_id, self.key.run_id, self.key.task_id, self.key.map_index


def end_unrunnable(
    factory: sessionmaker[Session], key: TIKey, try_number: int, reason: str, *, hostname: str, pid: int,
    policy: RetryPolicy | None,
) -> Outcome | None:
    """End a try that cannot start (its DAG file is gone or broken, its task removed) instead of
    leaving it queued forever: claim it like any try, write ``reason`` into its log, and end it
    up_for_retry while tries remain under ``policy``, else failed (failed at once without a policy).
    None when the try was not ours to claim."""
    reporter = Reporter(factory, key, try_number)
    if not reporter.claim(hostname=hostname, pid=pid):
        return None
    now = utcnow()
    with session_scope(factory) as session:
        row = task_instances.get_ti(session, key.dag_id, key.run_id, key.task_id, key.map_index)
        max_tries = row.max_tries if row is not None else 0
    if policy is None:
        state, retry_at = TI.FAILED, None
    else:
        state, retry_at = decide_failure(policy, try_number, max_tries, now, fail_fast=False)
    reporter.append_log(f"[{now.isoformat()}] ERROR - the task could not be loaded: {reason}\n"
                        f"[{now.isoformat()}] INFO - Marking task as {str(state).upper()}.\n")
    outcome = Outcome(state, error=reason, retry_at=retry_at)
    reporter.finish(outcome)
    return outcome


def skip_downstream(session: Session, key: TIKey, task_ids: list[str]) -> None:
    """Mark the named tasks of the same run skipped, where they have not started yet."""
    changes = []
    for ti in task_instances.get_tis(session, key.dag_id, key.run_id):
        if ti.task_id in task_ids and TI(ti.state) in (TI.NONE, TI.SCHEDULED):
            changes.append((ti.task_id, ti.map_index, TI(ti.state), TI.SKIPPED, {"end_date": utcnow()}))
    if changes:
        task_instances.transition_many(session, key.dag_id, key.run_id, changes)


class MetastoreXComBackend:
    """XCom of one running try, read from and written to the metastore."""

    def __init__(self, factory: sessionmaker[Session], key: TIKey) -> None:
        self.factory = factory
        self.key = key

    def push(self, key: str, value_json: str) -> None:
        with session_scope(self.factory) as session:
            xcoms.set_xcom(session, self.key, key, json.loads(value_json))

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        with session_scope(self.factory) as session:
            return xcoms.find_xcom(
                session, self.key.dag_id, self.key.run_id, task_id, key,
                map_index=-1 if map_index is None else map_index,
            )

    def clear_own(self) -> None:
        with session_scope(self.factory) as session:
            xcoms.clear_xcoms(session, self.key)
