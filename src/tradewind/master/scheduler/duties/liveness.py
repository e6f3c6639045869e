"""The liveness duty: zombies, task instances stuck in queued, and cleared running ones.

- A running task instance whose heartbeat is older than ``zombie_threshold`` is a zombie: its
  process or worker is gone. It goes up_for_retry or failed by the task's retry rules
  (``decisions.retries.decide_failure``), by compare-and-set on its try, with the reason in its log
  (``scheduling.failed_tries``).
- A task instance queued longer than ``task_queued_timeout`` was lost on the way (Redis flushed,
  a publish failed, a scheduler died between commit and send): it is sent again with the same try.
  A duplicate message is harmless: the worker's claim is a compare-and-set on the try.
- A ``restarting`` task instance (cleared while it ran) goes to ``none``, and runs again, once its
  old try is gone: its worker normally does that itself when every process of the try has ended;
  here is the fallback for a worker that died, or fenced the try, and went silent for longer than
  ``zombie_threshold``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tradewind.decisions.retries import decide_failure
from tradewind.decisions.run_ends import ZombieEnd, zombie_end
from tradewind.master.executor.base import QueueItem
from tradewind.metastore import logs, scheduling, task_instances
from tradewind.metastore.models import TaskInstance
from tradewind.metastore.task_instances import TIKey
from tradewind.scheduling.dag_cache import DagCache
from tradewind.scheduling.failed_tries import fail_try
from tradewind.scheduling.queueing import message_for
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI

logger = logging.getLogger(__name__)

#: Task instances of each kind handled in one pass; the rest on the next.
BATCH = 200


@dataclass
class LivenessReport:
    #: (key, try, the state it went to)
    zombies: list[tuple[TIKey, int, str]] = field(default_factory=list)
    #: Messages to send again (same try).
    resend: list[QueueItem] = field(default_factory=list)
    restarted: list[TIKey] = field(default_factory=list)
    #: Zombies whose task has a failure / retry callback its dead process never called.
    callbacks: list[ZombieEnd] = field(default_factory=list)


def check_liveness(session: Session, cache: DagCache, settings: Settings, now: datetime) -> LivenessReport:
    report = LivenessReport()
    _zombies(session, cache, settings, now, report)
    _stale_queued(session, settings, now, report)
    _restarting(session, settings, now, report)
    return report


def _key(row: TaskInstance) -> TIKey:
    return TIKey(row.dag_id, row.run_id, row.task_id, row.map_index)


def _zombies(session: Session, cache: DagCache, settings: Settings, now: datetime, report: LivenessReport) -> None:
    threshold = settings.zombie_threshold
    for row in scheduling.stale_running(session, heartbeat_before=now - timedelta(seconds=threshold), limit=BATCH):
        cached = cache.get(session, row.dag_id)
        node = cached.nodes.get(row.task_id) if cached is not None else None
        if node is not None:
            state, retry_at = decide_failure(node.retry, row.try_number, row.max_tries, now, fail_fast=False)
        else:
            state, retry_at = TI.FAILED, None
        seen = row.last_heartbeat or row.start_date or row.updated_at
        silent = (now - seen).total_seconds() if seen is not None else threshold
        duration = (now - row.start_date).total_seconds() if row.start_date is not None else None
        key, try_number, host, pid = _key(row), row.try_number, row.hostname, row.pid
        reason = (
            f"zombie: no heartbeat from {host or 'its worker'} (pid {pid}) for {silent:.0f} s, more than "
            f"zombie_threshold ({threshold:g} s); the task's process or its worker is gone"
        )
        if not fail_try(
            session,
            key,
            try_number,
            reason,
            now,
            expected_state=TI.RUNNING,
            state=state,
            duration=duration,
            retry_at=retry_at,
        ):
            continue
        report.zombies.append((key, try_number, str(state)))
        task = cached.dag.task_dict.get(row.task_id) if cached is not None else None
        if (
            task is not None
            and (end := zombie_end(task, key.dag_id, key.run_id, key.map_index, try_number, str(state), reason))
            is not None
        ):
            report.callbacks.append(end)


def _stale_queued(session: Session, settings: Settings, now: datetime, report: LivenessReport) -> None:
    cutoff = now - timedelta(seconds=settings.task_queued_timeout)
    for row in scheduling.stale_queued(session, queued_before=cutoff, limit=BATCH):
        key, try_number, queue = _key(row), row.try_number, row.queue
        if scheduling.mark_sent_again(session, key, try_number, sent_before=cutoff, now=now):
            logger.warning(
                "%s.%s %s try %s: still queued after %g s (task_queued_timeout); sending it again",
                key.dag_id,
                key.task_id,
                key.run_id,
                try_number,
                settings.task_queued_timeout,
            )
            report.resend.append(message_for(key, try_number, queue))


def _restarting(session: Session, settings: Settings, now: datetime, report: LivenessReport) -> None:
    cutoff = now - timedelta(seconds=settings.zombie_threshold)
    for row in scheduling.stale_restarting(session, heartbeat_before=cutoff, limit=BATCH):
        key, try_number = _key(row), row.try_number
        if task_instances.transition(
            session, key, expected_state=TI.RESTARTING, target_state=TI.NONE, expected_try=try_number, live_try=None
        ):
            logs.append_log(
                session,
                key,
                try_number,
                f"[{now.isoformat()}] INFO - cleared while running: try {try_number} was stopped; "
                "the task runs again\n",
                now=now,
            )
            report.restarted.append(key)
