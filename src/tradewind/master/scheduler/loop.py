"""The scheduler loop: ``tick(now)`` runs every duty once and says how long until it must look again.

One tick: heartbeat the job (every ``scheduler_heartbeat_sec``); poll and, when due, scan the DAG
folder; create the scheduled runs that are due; move a batch of runs forward (those named by
events first); queue what the limits allow, commit, and only then send the messages; find zombies
and task instances stuck in queued. Each duty runs in its own transaction and a failing duty is
logged and retried on the next tick without stopping the others.

``run(stop)`` calls ``tick`` and then waits on the event bus for at most the time ``tick`` asked for,
so a task that ends on a worker wakes the scheduler at once; the timer is only the fallback.

With a PostgreSQL metastore (``gather_task_ended``) a tick woken by "task ended" events alone comes
no sooner than ``TASK_ENDED_TICK_INTERVAL_S`` after the tick before it began, and takes every event
that arrived meanwhile: there the worker that ended a task has almost always planned its run in the
same transaction (``worker/follow_up.py``), so the tick mostly confirms that, and one tick per
ended task would cost a busy cluster more CPU than its tasks. What a worker leaves to the scheduler
(two upstream tasks of one task ending at the same moment, a run a scheduler held, a DAG with a
DAG-level callback) waits that much longer. A ``state_changed`` event (a person's action, a
trigger firing, a run a task triggered) ends the wait at once; so does a time the tick asked for.
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

from tradewind.master.executor.base import Executor, QueueItem
from tradewind.master.scheduler.dag_callbacks import DagCallbackRunner
from tradewind.master.scheduler.dag_file_parser import DagFileParser
from tradewind.master.scheduler.duties.dag_files import DagFilesDuty
from tradewind.master.scheduler.duties.liveness import check_liveness
from tradewind.master.scheduler.duties.run_creation import create_scheduled_runs
from tradewind.metastore import jobs
from tradewind.metastore.engine import session_scope
from tradewind.queue.events import Event, EventBus, TimerOnlyBus
from tradewind.scheduling.dag_cache import DagCache
from tradewind.scheduling.queueing import queue_task_instances
from tradewind.scheduling.run_progress import RunKey, progress_runs
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

JOB_TYPE = "scheduler"
#: How soon to look again while DAG files are being imported in child processes.
PARSE_POLL_S = 0.1
#: Runs remembered as matched against their DAG's version (another scheduler may end them unseen).
MAX_CHECKED_RUNS = 10_000
#: At most one tick this often for "task ended" events alone (see the module's docstring).
TASK_ENDED_TICK_INTERVAL_S = 0.1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        executor: Executor,
        events: EventBus | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        parser: DagFileParser | None = None,
        gather_task_ended: bool = False,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.executor = executor
        self.events: EventBus = events if events is not None else TimerOnlyBus()
        self.clock = clock
        #: Whether ticks for "task ended" events alone are spaced out (see the module's docstring).
        self.gather_task_ended = gather_task_ended
        self.cache = DagCache()
        self.dag_files = DagFilesDuty(settings, parser or DagFileParser(settings))
        self.dag_callbacks = DagCallbackRunner(settings)
        self.job_id: int | None = None
        #: What this scheduler did since it started (the job's counters).
        self.counters: dict[str, float] = {
            "ticks": 0,
            "runs_created": 0,
            "tis_queued": 0,
            "tis_sent": 0,
            "send_failures": 0,
            "zombies": 0,
            "resent": 0,
            "restarted": 0,
            "empty_done": 0,
            "dag_files_parsed": 0,
            "duty_errors": 0,
            "last_tick_ms": 0.0,
        }
        self._next_heartbeat: datetime | None = None
        self._next_liveness: datetime | None = None
        #: Runs whose retry or reschedule time is known, to examine as soon as it comes.
        self._wakeups: dict[RunKey, datetime] = {}
        #: Per run, the DAG version its task instances were last matched against.
        self._checked: dict[RunKey, str | None] = {}

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, now: datetime | None = None) -> None:
        if self.job_id is not None:
            return
        with session_scope(self.factory) as session:
            job = jobs.start_job(
                session, JOB_TYPE, hostname=socket.gethostname(), pid=os.getpid(), now=now or self.clock()
            )
            self.job_id = job.id
        logger.info("scheduler job %s started", self.job_id)

    def close(self) -> None:
        """Stop importing DAG files and running DAG callbacks, and end the job (idempotent)."""
        self.dag_files.close()
        self.dag_callbacks.close()
        if self.job_id is not None:
            try:
                with session_scope(self.factory) as session:
                    jobs.heartbeat(session, self.job_id, counters=self.counters, now=self.clock())
                    jobs.end_job(session, self.job_id, now=self.clock())
            except Exception:  # noqa: BLE001 - the metastore is gone; the job's heartbeat just goes stale
                logger.exception("could not end scheduler job %s", self.job_id)
            logger.info("scheduler job %s ended", self.job_id)
            self.job_id = None

    @property
    def parsing(self) -> bool:
        """Whether DAG files are being imported (or wait to be)."""
        return self.dag_files.parser.busy

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, woken early by events; ends the job on the way out."""
        self.start()
        events: list[Event] = []
        try:
            while not stop.is_set():
                started = time.monotonic()
                delay = min(self.tick(self.clock(), events=events), self.settings.scheduler_idle_sleep)
                if stop.is_set():
                    break
                waited = time.monotonic()
                events = self.events.wait(delay)
                if self.gather_task_ended:
                    until = min(started + TASK_ENDED_TICK_INTERVAL_S, waited + delay)
                    events += self._gather_task_ended(events, until=until, stop=stop)
        finally:
            self.close()

    def _gather_task_ended(self, events: list[Event], *, until: float, stop: threading.Event) -> list[Event]:
        """When only "task ended" events woke the scheduler before ``until`` (monotonic), the events
        that arrive until then, so one tick takes them all; a ``state_changed`` event or ``stop``
        ends the wait at once."""
        if not events or not all(event.kind == "task_ended" for event in events):
            return []
        gathered: list[Event] = []
        while not stop.is_set() and (left := until - time.monotonic()) > 0:
            more = self.events.wait(left)
            gathered += more
            if any(event.kind != "task_ended" for event in more):
                break
        return gathered

    # --- one tick ----------------------------------------------------------------------------------

    def tick(self, now: datetime, *, events: Sequence[Event] = ()) -> float:
        """Do every duty once at ``now``; returns the seconds until the scheduler must look again."""
        started = time.monotonic()
        self.start(now)
        self.counters["ticks"] += 1
        deadlines: list[datetime] = [now + timedelta(seconds=self.settings.scheduler_idle_sleep)]
        deadlines += self._sync_dag_files(now)
        created, next_due, more_due = self._create_runs(now)
        deadlines += next_due
        hurry = self._progress(now, self._named_runs(now, events, created)) or more_due
        self._duty("dag callbacks", self.dag_callbacks.poll)
        if self.dag_callbacks.busy:
            deadlines.append(now + timedelta(seconds=PARSE_POLL_S))
        queued = self._in_session("queueing", lambda s: queue_task_instances(s, self.cache, self.settings, now))
        if queued is not None:
            self.counters["tis_queued"] += len(queued.messages)
            self._send(queued.messages)
        if self._next_liveness is None or now >= self._next_liveness:
            self._next_liveness = now + timedelta(seconds=self.settings.scheduler_heartbeat_sec)
            hurry = self._check_liveness(now) or hurry
        self.counters["last_tick_ms"] = round((time.monotonic() - started) * 1000, 3)
        if self._next_heartbeat is None or now >= self._next_heartbeat:
            self._next_heartbeat = now + timedelta(seconds=self.settings.scheduler_heartbeat_sec)
            self._duty("heartbeat", lambda: self._heartbeat(now))
        if hurry:
            return 0.0
        deadlines += [self._next_liveness, self._next_heartbeat, *self._wakeups.values()]
        return max(0.0, (min(deadlines) - now).total_seconds())

    def _sync_dag_files(self, now: datetime) -> list[datetime]:
        report = self._duty("dag files", lambda: self.dag_files(self.factory, now))
        if report is None:
            return []
        self.counters["dag_files_parsed"] += len(report.parsed)
        deadlines = [report.next_scan] if report.next_scan is not None else []
        if report.busy:
            deadlines.append(now + timedelta(seconds=PARSE_POLL_S))
        return deadlines

    def _create_runs(self, now: datetime) -> tuple[list[RunKey], list[datetime], bool]:
        """Runs created, when to look again, and whether more DAGs are due than one tick looks at
        (then the next tick comes at once, so a thousand new DAGs are not spread over many seconds)."""
        report = self._in_session("run creation", lambda s: create_scheduled_runs(s, self.cache, self.settings, now))
        if report is None:
            return [], [], False
        self.counters["runs_created"] += len(report.created)
        # A due time already past belongs to a DAG held back by max_active_runs: the timer covers it.
        due = [report.next_due] if report.next_due is not None and report.next_due > now else []
        return report.created, due, report.more_due

    def _progress(self, now: datetime, named: list[RunKey]) -> bool:
        """Move a batch of runs; True when more runs may be waiting for a decision."""
        report = self._in_session(
            "run progress",
            lambda s: progress_runs(s, self.cache, self.settings, now, named=named, checked=self._checked),
        )
        if report is None or len(self._checked) > MAX_CHECKED_RUNS:
            # A rolled-back batch may have remembered runs as matched that were not: match them again.
            self._checked.clear()
        if report is None:
            return False
        self.counters["empty_done"] += report.empty_done
        # The transaction that ended these runs has committed: their callbacks are owed, once.
        self._duty("dag callbacks", lambda: self.dag_callbacks.launch(report.ended))
        for key in report.finished:
            self._wakeups.pop(key, None)
        self._wakeups.update(report.wakeups)
        return report.full

    def _check_liveness(self, now: datetime) -> bool:
        """Zombies, stale queued and restarting task instances; True when a run has something to decide."""
        report = self._in_session("liveness", lambda s: check_liveness(s, self.cache, self.settings, now))
        if report is None:
            return False
        self.counters["zombies"] += len(report.zombies)
        self.counters["resent"] += len(report.resend)
        self.counters["restarted"] += len(report.restarted)
        self._send(report.resend)
        self._duty("dag callbacks", lambda: self.dag_callbacks.launch(report.callbacks))
        # A zombie's retry or a restart is decided by examining its run: next tick, first.
        touched = [*(key for key, _, _ in report.zombies), *report.restarted]
        for key in touched:
            self._wakeups[(key.dag_id, key.run_id)] = now
        return bool(touched)

    def _named_runs(self, now: datetime, events: Sequence[Event], created: list[RunKey]) -> list[RunKey]:
        """Runs to examine first: named by events, just created, or whose wake-up time came."""
        named: dict[RunKey, None] = {}
        for event in events:
            if event.run_id:
                named[(event.dag_id, event.run_id)] = None
        for key in created:
            named[key] = None
        for key, when in list(self._wakeups.items()):
            if when <= now:
                named[key] = None
                del self._wakeups[key]
        return list(named)

    def _send(self, items: list[QueueItem]) -> None:
        if not items:
            return
        failed = self._duty("send", lambda: self.executor.send(items))
        failed_count = len(items) if failed is None else len(failed)
        self.counters["tis_sent"] += len(items) - failed_count
        self.counters["send_failures"] += failed_count

    def _heartbeat(self, now: datetime) -> None:
        assert self.job_id is not None
        with session_scope(self.factory) as session:
            jobs.heartbeat(session, self.job_id, counters=self.counters, now=now)

    def _in_session(self, name: str, work: Callable[[Session], Any]) -> Any:
        def unit() -> Any:
            with session_scope(self.factory) as session:
                return work(session)

        return self._duty(name, unit)

    def _duty(self, name: str, work: Callable[[], Any]) -> Any:
        """Run one duty; a failure is logged with its traceback and the tick goes on."""
        try:
            return work()
        except Exception:  # noqa: BLE001 - the loop boundary: the next tick tries again
            self.counters["duty_errors"] += 1
            logger.exception("scheduler duty %r failed; retrying on the next tick", name)
            return None
