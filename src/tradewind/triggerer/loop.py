"""The metastore side of a triggerer: heartbeat its job, take its share of the free triggers, keep
the trigger runner in step with what it holds, and write what the triggers did — each fired or
failed trigger resumes its task instances (``deferred → scheduled``, the event in ``next_kwargs``),
deferred task instances past their timeout resume with ``__fail__`` — then wake the schedulers.

Several triggerers share the work through the ``trigger`` table: a trigger whose triggerer's job
has not heartbeated within ``TRADEWIND_TRIGGERER_HEALTH_CHECK_THRESHOLD`` is free, and the next
triggerer to look takes it (``decisions/trigger_assignment.py``). A trigger run twice in that
hand-over resumes its task once: the resume is a compare-and-set (``metastore/triggers.py``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.decisions.trigger_assignment import triggers_to_take
from tradewind.metastore import jobs, triggers
from tradewind.metastore.engine import session_scope
from tradewind.metastore.health import TRIGGERER_JOB_TYPE
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.events import EventBus
from tradewind.settings import Settings
from tradewind.triggerer.runner import Failed, Fired, TriggerOutcome, TriggerRunner, TriggerSpec

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Triggerer:
    """One triggerer process: ``tick`` does one round of metastore work; ``run`` ticks until stopped."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        events: EventBus,
        *,
        runner: TriggerRunner | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.events = events
        self.runner = runner or TriggerRunner()
        self.clock = clock
        self.job_id: int | None = None
        #: Outcomes not written yet (the metastore did not answer): written at the next tick.
        self._pending: list[TriggerOutcome] = []
        self.counters: dict[str, Any] = {"fired": 0, "failed": 0, "timed_out": 0, "running": 0}

    def start(self) -> None:
        with session_scope(self.factory) as session:
            job = jobs.start_job(session, TRIGGERER_JOB_TYPE, hostname=socket.getfqdn(), pid=os.getpid())
            self.job_id = job.id
        self.runner.start()
        logger.info("triggerer job %s started; capacity %s triggers", self.job_id, self.settings.triggerer_capacity)

    def run(self, stop: threading.Event) -> None:
        """Write what the triggers did as soon as they did it; heartbeat, take triggers and time out
        waits every ``TRADEWIND_TRIGGERER_HEARTBEAT_INTERVAL`` seconds."""
        self.start()
        interval = self.settings.triggerer_heartbeat_interval
        next_round = 0.0
        try:
            while not stop.is_set():
                now_s = time.monotonic()
                try:
                    if now_s >= next_round:
                        next_round = now_s + interval
                        self.tick(self.clock())
                    else:
                        self.write_outcomes(self.clock())
                except Exception:  # noqa: BLE001 - the loop survives a metastore outage; next round retries
                    logger.exception("triggerer round failed; trying again")
                self.runner.outcome_ready.wait(max(0.0, min(next_round - time.monotonic(), interval)))
        finally:
            self.close()

    def close(self) -> None:
        self.runner.stop()
        if self.job_id is None:
            return
        try:
            with session_scope(self.factory) as session:
                # Hand the triggers back at once, rather than after the health-check threshold.
                triggers.release(session, self.job_id)
                jobs.end_job(session, self.job_id)
        except Exception:  # noqa: BLE001 - the job goes stale and the others take over anyway
            logger.exception("could not end triggerer job %s cleanly", self.job_id)

    def tick(self, now: datetime) -> None:
        """One full round: heartbeat, what the triggers did, timeouts, unused triggers, claims."""
        assert self.job_id is not None, "start() first"
        self._pending += self.runner.drain()
        with session_scope(self.factory) as session:
            jobs.heartbeat(session, self.job_id, counters=self.counters, now=now)
            resumed = self._write_outcomes(session, self._pending, now)
            resumed += self._time_out(session, now)
            triggers.delete_unused(session)
            held = self._claim(session, now)
        self._pending = []
        self.runner.update(TriggerSpec(t.trigger_id, t.classpath, t.kwargs) for t in held)
        self.counters["running"] = len(held)
        self._wake(resumed)

    def write_outcomes(self, now: datetime) -> None:
        """Between rounds: only resume the task instances whose triggers fired or failed."""
        self._pending += self.runner.drain()
        if not self._pending:
            return
        with session_scope(self.factory) as session:
            resumed = self._write_outcomes(session, self._pending, now)
        self._pending = []
        self._wake(resumed)

    def _write_outcomes(self, session: Session, outcomes: Sequence[TriggerOutcome], now: datetime) -> list[TIKey]:
        resumed: list[TIKey] = []
        for outcome in outcomes:
            if isinstance(outcome, Fired):
                resumed += triggers.fire(session, outcome.trigger_id, outcome.payload, now)
                self.counters["fired"] += 1
            elif isinstance(outcome, Failed):
                logger.warning("trigger %s failed: %s", outcome.trigger_id, outcome.error)
                resumed += triggers.fail(session, outcome.trigger_id, outcome.error, outcome.traceback, now)
                self.counters["failed"] += 1
        return resumed

    def _time_out(self, session: Session, now: datetime) -> list[TIKey]:
        timed_out = triggers.time_out(session, now)
        self.counters["timed_out"] += len(timed_out)
        return timed_out

    def _claim(self, session: Session, now: datetime) -> list[triggers.StoredTrigger]:
        assert self.job_id is not None
        within = timedelta(seconds=self.settings.triggerer_health_check_threshold)
        alive = {job.id for job in jobs.alive_jobs(session, TRIGGERER_JOB_TYPE, within=within, now=now)}
        wanted = triggers_to_take(
            triggers.holdings(session), self.job_id, alive, capacity=self.settings.triggerer_capacity
        )
        if wanted:
            taken = triggers.claim(session, wanted, self.job_id, alive)
            if taken:
                logger.info("took %s trigger(s)", len(taken))
        return triggers.held_by(session, self.job_id)

    def _wake(self, resumed: Sequence[TIKey]) -> None:
        for dag_id, run_id in sorted({(key.dag_id, key.run_id) for key in resumed}):
            try:
                self.events.publish_state_changed(dag_id, run_id)
            except Exception:  # noqa: BLE001 - waking is a speed-up; the scheduler's timer covers it
                logger.debug("could not wake the schedulers for %s", dag_id, exc_info=True)
