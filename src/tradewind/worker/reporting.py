"""Every metastore write about a try: claim, heartbeat, log lines, XCom, rendered fields, its end.

Every state write is a compare-and-set on (state, try number), so a duplicate message finds
nothing to claim and a worker declared dead cannot overwrite the retry that replaced it. The claim
also records the try as the task instance's *live* one (``live_try``), and succeeds only when no
earlier try may still have a process alive; the try's end releases it once its guard has seen
every process of the try gone (``thread_guard.py``, ``guardian.py``).
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.decisions.retries import RetryPolicy, decide_failure
from tradewind.metastore import datasets, logs, task_instances, triggers, try_writes, xcoms
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.scheduling.failed_tries import fail_try
from tradewind.secrets import masker
from tradewind.states import TaskInstanceState as TI
from tradewind.worker.log_cap import DEFAULT_MAX_BYTES as DEFAULT_LOG_MAX_BYTES
from tradewind.worker.log_cap import LogCap, LogWrites
from tradewind.worker.outcome import Deferral, Outcome

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ClaimedTry:
    """What the claim read in the same transaction: what the task's process needs to start."""

    max_tries: int
    first_poke_at: datetime | None
    run_type: str
    logical_date: datetime
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    conf: dict[str, Any]
    run_start_date: datetime | None
    external_trigger: bool
    start_date: datetime
    fileloc: str | None = None
    #: Set when the try resumes after a deferral: the method to call and its kwargs (with ``event``).
    next_method: str | None = None
    next_kwargs: dict[str, Any] | None = None


@dataclass(frozen=True)
class PushedXCom:
    """An XCom the try pushed: its value, and what people are shown of it (None: the value itself)."""

    key: str
    value: Any
    shown: Any = None


class Standing(enum.Enum):
    """Where a running try stands, as its heartbeat finds out."""

    #: Still the task instance's running try.
    RUNNING = "running"
    #: Cleared, marked, declared a zombie or timed out from outside: stop it (its processes still
    #: count as live, so no other try starts meanwhile).
    CHANGED = "changed"
    #: Another try of the task instance was queued or claimed (this one's heartbeat went stale): kill it now.
    LOST = "lost"


#: Zombie threshold a ``Reporter`` assumes when it is not told one (the settings' default).
DEFAULT_ZOMBIE_THRESHOLD_S = 30.0


class Reporter:
    """Writes what one try of one task instance does, in as few short transactions as it can:
    one to claim, one to finish, and while a long task runs, one per log flush and heartbeat."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        key: TIKey,
        try_number: int,
        *,
        zombie_threshold: float = DEFAULT_ZOMBIE_THRESHOLD_S,
        log_max_bytes: int = DEFAULT_LOG_MAX_BYTES,
    ) -> None:
        self.factory = factory
        self.key = key
        self.try_number = try_number
        #: An earlier try's processes count as gone once its heartbeat is this old (seconds).
        self.zombie_threshold = zombie_threshold
        self.started_at: datetime | None = None
        #: Monotonic time of the claim, which set the try's first heartbeat.
        self.claimed_at: float | None = None
        # This try's log has one writer, this reporter: it counts the chunks instead of asking
        # (from this seq on: past 0 for a rescheduled sensor; ``LogCap`` keeps the count).
        self._log_seq = 0
        self.log_max_bytes = log_max_bytes
        self._log_cap: LogCap | None = None
        # The try's log and rendered fields are written from the supervisor's heartbeat thread while
        # it runs, then by ``finish``: one writer at a time, and nothing after the end.
        self._write_lock = threading.Lock()
        self._finished = False

    def claim(self, *, hostname: str, pid: int) -> ClaimedTry | None:
        """queued → running for this try — only when no earlier try of the task instance may still
        have a process alive — then (same transaction) record the try, drop XCom left by earlier
        tries (a new try starts with none, as in Airflow) and read what the run needs. None when
        someone else already has it, or an earlier try is still being stopped."""
        with session_scope(self.factory) as session:
            return self.claim_in(session, hostname=hostname, pid=pid)

    def claim_in(self, session: Session, *, hostname: str, pid: int) -> ClaimedTry | None:
        """``claim`` inside the caller's transaction (a follow-up claims the next task in the
        transaction that ends the previous one)."""
        now = utcnow()
        claim = try_writes.claim_try(
            session,
            self.key,
            self.try_number,
            now=now,
            stale_before=now - timedelta(seconds=self.zombie_threshold),
            hostname=hostname,
            pid=pid,
        )
        if claim is None:
            return None
        row, run = claim.ti, claim.run
        resumed = row.next_method is not None
        self.started_at = row.start_date or now
        self.claimed_at = time.monotonic()
        # A sensor rescheduled, or a task resumed after a deferral, keeps its try number: its log
        # goes on after what the try wrote before.
        rescheduled = resumed or row.first_poke_at is not None or row.next_poke_at is not None
        self._log_seq = logs.next_seq(session, self.key, self.try_number) if rescheduled else 0
        return ClaimedTry(
            max_tries=row.max_tries,
            first_poke_at=row.first_poke_at,
            run_type=run.run_type,
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            conf=dict(run.conf or {}),
            run_start_date=run.start_date,
            external_trigger=bool(run.external_trigger),
            start_date=self.started_at,
            fileloc=run.fileloc,
            next_method=row.next_method,
            next_kwargs=dict(row.next_kwargs or {}) if resumed else None,
        )

    def why_not_claimed(self) -> str:
        """Why ``claim`` found nothing, in words for the worker's log (one read, on that path only)."""
        with session_scope(self.factory) as session:
            row = task_instances.get_ti(session, *self._key_args())
            if row is None:
                return "the task instance no longer exists"
            if (row.state, row.try_number) != (TI.QUEUED.value, self.try_number):
                return (
                    f"nothing to claim: the task instance is {row.state} at try {row.try_number} "
                    "(a duplicate, late or already claimed message)"
                )
            return (
                f"an earlier try ({row.live_try}) may still have processes alive on {row.hostname}; "
                "the scheduler sends it again after the queued timeout"
            )

    def heartbeat(self) -> Standing:
        """Refresh the heartbeat of this try, and say where it stands: still running, changed from
        outside (cleared, marked, its run timed out — stop it), or no longer the task instance's try."""
        with session_scope(self.factory) as session:
            found = task_instances.heartbeat_try(session, self.key, self.try_number, now=utcnow())
        if found is None or found[1] != self.try_number:
            return Standing.LOST
        return Standing.RUNNING if found[0] == TI.RUNNING.value else Standing.CHANGED

    def _write_log(self, session: Session, text: str) -> None:
        """Append ``text`` to the try's stored log, within its cap (``log_cap`` decides what stays)."""
        writes, self._log_cap = self._log_writes(session, text)
        self._apply(session, writes)

    def _log_writes(self, session: Session, text: str) -> tuple[LogWrites, LogCap]:
        """What appending ``text`` changes in the stored log, and the cap's count after it."""
        if self._log_cap is None:
            # A rescheduled sensor's try starts past seq 0 and goes on with what its pokes stored.
            stored = logs.chunk_summaries(session, self.key, self.try_number) if self._log_seq else []
            self._log_cap = LogCap.resume(self.log_max_bytes, stored, next_seq=self._log_seq)
        return self._log_cap.add(text)

    def _apply(self, session: Session, writes: LogWrites) -> None:
        if writes.marker is not None:
            logs.put_log_chunk(session, self.key, self.try_number, *writes.marker)
        if writes.delete_between is not None:
            low, high = writes.delete_between
            logs.delete_log_chunks(session, self.key, self.try_number, after_seq=low, before_seq=high)
        logs.append_log_chunks(session, self.key, self.try_number, writes.inserts)

    def flush(self, *, log_text: str = "", rendered: dict[str, Any] | None = None) -> bool:
        """While the task runs: its new log lines and, once, its rendered template fields. False (and
        nothing written) once the try's end is being written: the end carries what is left."""
        if not log_text and rendered is None:
            return True
        with self._write_lock:
            if self._finished:
                return False
            with session_scope(self.factory) as session:
                if log_text:
                    self._write_log(session, log_text)
                if rendered is not None:
                    task_instances.set_rendered_fields(session, self.key, self.try_number, rendered)
        return True

    def finish(
        self,
        outcome: Outcome,
        *,
        log_text: str = "",
        rendered: dict[str, Any] | None = None,
        pushed: list[PushedXCom] | None = None,
        then: Callable[[Session, Outcome], Any] | None = None,
    ) -> tuple[bool, Any]:
        """In one transaction: running → the outcome's state for this try, the XCom the try pushed,
        the rest of its log and rendered fields, the try's history row, and the skips a branch asked
        for; and the try is no longer live (call this once every process of the try is gone). Nothing
        of the try's XCom is written when it lost its claim; a try cleared while it ran goes back to
        ``none`` so it runs again.

        ``then(session, outcome)`` runs last in the same transaction. A failure there costs only its
        own work, never the try's end: the transaction is rolled back and the end written again
        without it (rarer, and cheaper on every try, than a savepoint around it). Returns (whether
        the end was written, what ``then`` returned)."""
        with self._write_lock:
            self._finished = True
            try:
                with self._log_kept_if_undone():
                    return self._finish(outcome, log_text, rendered, pushed, then)
            except _FollowUpFailed as failed:
                logger.error(
                    "%s try %s: following up in the try's final transaction failed; left to the scheduler",
                    self.key,
                    self.try_number,
                    exc_info=failed.__cause__,
                )
            with self._log_kept_if_undone():
                return self._finish(outcome, log_text, rendered, pushed, None)

    def _end(
        self,
        session: Session,
        outcome: Outcome,
        fields: dict[str, Any],
        history: dict[str, Any],
        log_text: str,
        now: datetime,
    ) -> bool:
        """running → the outcome's state, only while this try holds the task instance; and then the
        rest of its log and its history row, in one statement on PostgreSQL (``try_writes.end_try``)
        unless the log outgrew its cap. (A rescheduled or resumed try that stored no log since its
        claim first reads what its earlier parts stored.) Returns whether the end was written; when
        not, nothing was."""
        writes, cap = self._log_writes(session, log_text) if log_text else (LogWrites(), self._log_cap)
        # A log that outgrew its cap also puts its marker and drops chunks: written after the end.
        only_grows = writes.marker is None and writes.delete_between is None
        ended = try_writes.end_try(
            session,
            self.key,
            self.try_number,
            state=outcome.state,
            fields=fields,
            history=history,
            log_chunks=writes.inserts if only_grows else (),
            now=now,
        )
        if ended and not only_grows:
            self._apply(session, writes)
        if ended:
            self._log_cap = cap
        return ended

    @contextmanager
    def _log_kept_if_undone(self) -> Iterator[None]:
        """Around one transaction writing the log: when it fails, nothing of it was stored, so the
        log goes on from where it stood before it (for the next attempt, here or the caller's)."""
        log_state = (self._log_seq, self._log_cap)
        try:
            yield
        except BaseException:
            self._log_seq, self._log_cap = log_state
            raise

    def _finish(
        self,
        outcome: Outcome,
        log_text: str,
        rendered: dict[str, Any] | None,
        pushed: list[PushedXCom] | None,
        then: Callable[[Session, Outcome], Any] | None,
    ) -> tuple[bool, Any]:
        now = utcnow()
        with session_scope(self.factory) as session:
            started = self.started_at
            if started is None:
                row = task_instances.get_ti(session, *self._key_args())
                started = row.start_date if row is not None else None
            duration = (now - started).total_seconds() if started else None
            fields: dict[str, Any] = {
                "end_date": now,
                "duration": duration,
                "retry_at": outcome.retry_at,
                "next_poke_at": outcome.next_poke_at,
            }
            if outcome.first_poke_at is not None:
                fields["first_poke_at"] = outcome.first_poke_at
            if rendered is not None:
                fields["rendered_fields"] = rendered
            trigger_id = None
            if outcome.deferral is not None:
                trigger_id, deferred_fields = _deferral_fields(session, Deferral.from_json(outcome.deferral), now)
                fields.update(deferred_fields)
            else:
                fields.update(next_method=None, next_kwargs=None, trigger_id=None, trigger_timeout=None)
            history: dict[str, Any] = {
                "state": str(outcome.state),
                "end_date": now,
                "duration": duration,
                "error": outcome.error,
            }
            if rendered is not None:
                history["rendered_fields"] = rendered
            written = self._end(session, outcome, fields, history, log_text, now)
            if not written and trigger_id is not None:
                triggers.delete_triggers(session, [trigger_id])
            if not written:
                # Someone else may have written to the try's log meanwhile (the scheduler, saying it
                # is a zombie): go on after what is stored now.
                self._log_seq = logs.next_seq(session, self.key, self.try_number)
                self._log_cap = None
                if log_text:
                    self._write_log(session, log_text)
                self._release(session, now)
                logger.warning(
                    "%s try %s: result %s not written, the task instance moved on",
                    self.key,
                    self.try_number,
                    outcome.state,
                )
                return False, None
            for xcom in pushed or []:
                xcoms.set_xcom(session, self.key, xcom.key, xcom.value, shown=xcom.shown, now=now)
            if outcome.skip_task_ids:
                skip_downstream(session, self.key, outcome.skip_task_ids)
            if outcome.state == TI.SUCCESS and outcome.dataset_events:
                self._record_dataset_events(session, outcome.dataset_events, now)
            followed = _follow_up(session, then, outcome) if then is not None else None
        return True, followed

    def _record_dataset_events(self, session: Session, events: list[dict[str, Any]], now: datetime) -> None:
        """The try's outlet events, written with its success: both or neither."""
        key = self.key
        source = datasets.EventSource(key.dag_id, key.task_id, key.run_id, key.map_index)
        new = [datasets.NewEvent(e["uri"], e.get("extra") or {}, tuple(e.get("aliases") or ())) for e in events]
        datasets.record_events(session, new, source, now)

    def _release(self, session: Session, now: datetime) -> None:
        """The try lost its claim but its processes are gone now: no longer live, and when it was
        cleared while it ran, back to ``none`` so it runs again at once."""
        task_instances.release_try(session, self.key, self.try_number)
        if task_instances.transition(
            session, self.key, expected_state=TI.RESTARTING, target_state=TI.NONE, expected_try=self.try_number
        ):
            self._write_log(
                session,
                f"[{now.isoformat()}] INFO - cleared while running: try {self.try_number} "
                "was stopped and every process it started is gone; the task runs again\n",
            )

    def _key_args(self) -> tuple[str, str, str, int]:
        return self.key.dag_id, self.key.run_id, self.key.task_id, self.key.map_index


def _deferral_fields(session: Session, deferral: Deferral, now: datetime) -> tuple[int, dict[str, Any]]:
    """Store the deferred try's trigger; the task instance's columns that point at it."""
    trigger_id = triggers.add_trigger(session, deferral.classpath, deferral.trigger_kwargs, now=now)
    return trigger_id, {
        "trigger_id": trigger_id,
        "trigger_timeout": deferral.timeout_at,
        "next_method": deferral.next_method,
        "next_kwargs": deferral.next_kwargs,
    }


class _FollowUpFailed(Exception):
    """The follow-up run in a try's final transaction, after the try's end was written there,
    failed (its cause says how)."""


def _follow_up(session: Session, then: Callable[[Session, Outcome], Any], outcome: Outcome) -> Any:
    try:
        followed = then(session, outcome)
        session.flush()  # what it left for the commit fails here, as its own failure
        return followed
    except Exception as exc:  # noqa: BLE001 - only the follow-up is lost; the scheduler does it instead
        raise _FollowUpFailed() from exc


def end_claimed(reporter: Reporter, claimed: ClaimedTry, reason: str, policy: RetryPolicy | None) -> Outcome:
    """End a claimed try that cannot start (its DAG file is gone or broken, its task removed) instead
    of leaving it queued forever: write ``reason`` into its log, and end it up_for_retry while tries
    remain under ``policy``, else failed (failed at once without a policy)."""
    now = utcnow()
    try_number = reporter.try_number
    if policy is None:
        state, retry_at = TI.FAILED, None
    else:
        state, retry_at = decide_failure(policy, try_number, claimed.max_tries, now, fail_fast=False)
    outcome = Outcome(state, error=reason, retry_at=retry_at)
    why = f"the task could not be loaded: {reason}"
    with session_scope(reporter.factory) as session:
        ended = fail_try(
            session,
            reporter.key,
            try_number,
            why,
            now,
            expected_state=TI.RUNNING,
            state=state,
            retry_at=retry_at,
            next_poke_at=None,
            duration=(now - claimed.start_date).total_seconds(),
            live_try=None,
        )
    if not ended:
        # Cleared or marked since the claim: the reporter releases the try as it does any lost end.
        reporter.finish(outcome, log_text=f"[{now.isoformat()}] ERROR - {why}\n")
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
        value = json.loads(value_json)
        with session_scope(self.factory) as session:
            xcoms.set_xcom(session, self.key, key, value, shown=masker.display_copy(value, key))

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        with session_scope(self.factory) as session:
            return xcoms.find_xcom(
                session,
                self.key.dag_id,
                self.key.run_id,
                task_id,
                key,
                map_index=-1 if map_index is None else map_index,
            )

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        with session_scope(self.factory) as session:
            value = xcoms.get_xcoms_for_tasks(session, self.key.dag_id, self.key.run_id, [task_id], key).get(task_id)
        return value if isinstance(value, list) else []

    def clear_own(self) -> None:
        with session_scope(self.factory) as session:
            xcoms.clear_xcoms(session, self.key)
