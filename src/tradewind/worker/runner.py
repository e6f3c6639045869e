"""Runs one try of one task instance: claim it, start the task's process under a guard, supervise
it (log, heartbeat, time limit, stop from outside, self-fencing), and write the final state once
every process of the try is gone.

The worker never runs user code itself; a task process that crashes, leaks or hangs is killed and
its try ends as failed (or up for retry) with the reason in the log. ``thread_guard.py`` (a worker's
fork server) and ``guardian.py`` (a worker without one) say how the try's processes are kept
together, ``supervisor.py`` when a try is stopped.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tradewind.decisions.retries import RetryPolicy
from tradewind.metastore import dags
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.sdk import runtime_services
from tradewind.sdk.context import RunInfo
from tradewind.sdk.serialization import deserialize_dag
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI
from tradewind.worker import outcome as outcomes
from tradewind.worker import shutdown
from tradewind.worker.fork_server import ForkServer, ForkServerError, TaskNotLoadable, TrySpec
from tradewind.worker.guardian import GuardedTry, start_guarded
from tradewind.worker.log_cap import DEFAULT_MAX_BYTES as DEFAULT_LOG_MAX_BYTES
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import DEFAULT_ZOMBIE_THRESHOLD_S, ClaimedTry, MetastoreXComBackend, Reporter, Standing
from tradewind.worker.supervisor import ChildResult, SupervisorOptions, supervise
from tradewind.worker.task_facts import TaskFacts
from tradewind.worker.task_process import TryRequest, child_main
from tradewind.worker.try_services import TryServicesAnswerer

logger = logging.getLogger(__name__)

#: The share of the zombie threshold a try may go without a heartbeat reaching the metastore before
#: its worker kills it (self-fencing); the rest covers the kill itself and clocks that disagree.
FENCE_FRACTION = 0.5
#: The share of the zombie threshold a try's guard whose worker died gives the try to stop.
ORPHAN_GRACE_FRACTION = 0.25
#: Seconds what a task left running gets after a SIGTERM before it is SIGKILLed.
LEFTOVER_GRACE_S = 2.0
#: Seconds between attempts to write a try's end while the metastore does not answer.
FINISH_RETRY_S = 1.0


@dataclass
class RunnerOptions:
    hostname: str = ""
    heartbeat_interval: float = 5.0
    log_flush_interval: float = 0.2
    xcom_max_bytes: int = 1_048_576
    zombie_threshold: float = DEFAULT_ZOMBIE_THRESHOLD_S
    killed_task_cleanup_time: float = 60.0
    #: The cap on each try's stored log (TRADEWIND_TASK_LOG_MAX_BYTES).
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    #: Write each log line to this callable too (``dags test`` shows logs on the terminal).
    echo: Callable[[str], None] | None = None
    #: Where tries' processes are forked from (a worker's; None: forked from this process).
    fork_server: ForkServer | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RunnerOptions:
        return cls(
            **{
                "heartbeat_interval": settings.worker_heartbeat_interval,
                "xcom_max_bytes": settings.xcom_max_bytes,
                "zombie_threshold": settings.zombie_threshold,
                "killed_task_cleanup_time": settings.killed_task_cleanup_time,
                "log_max_bytes": settings.task_log_max_bytes,
                **overrides,
            }
        )

    def reporter(self, factory: sessionmaker[Session], key: TIKey, try_number: int) -> Reporter:
        """The writer of one try's metastore rows, with these options' zombie threshold and log cap."""
        return Reporter(
            factory, key, try_number, zombie_threshold=self.zombie_threshold, log_max_bytes=self.log_max_bytes
        )

    def supervision(self) -> SupervisorOptions:
        return SupervisorOptions(
            heartbeat_interval=self.heartbeat_interval,
            log_flush_interval=self.log_flush_interval,
            fence_after=self.zombie_threshold * FENCE_FRACTION,
            killed_task_cleanup_time=self.killed_task_cleanup_time,
            echo=self.echo,
        )


def default_hostname() -> str:
    return socket.getfqdn() or socket.gethostname()


def run_task_instance(
    factory: sessionmaker[Session],
    engine_reset: Callable[[], None],
    task: Any,
    key: TIKey,
    try_number: int,
    options: RunnerOptions,
) -> Outcome | None:
    """Run try ``try_number`` of ``key``; None when the try was not ours to run (already claimed)."""
    hostname = options.hostname or default_hostname()
    reporter = options.reporter(factory, key, try_number)
    claimed = reporter.claim(hostname=hostname, pid=os.getpid())
    if claimed is None:
        logger.info("%s try %s: already claimed or no longer queued; dropping", key, try_number)
        return None
    return run_claimed(factory, engine_reset, task, reporter, claimed, options)[0]


def run_claimed(
    factory: sessionmaker[Session],
    engine_reset: Callable[[], None],
    task: Any,
    reporter: Reporter,
    claimed: ClaimedTry,
    options: RunnerOptions,
    then: Callable[[Session, Outcome, TaskFacts | None], Any] | None = None,
    *,
    tried: str | None = None,
) -> tuple[Outcome, Any]:
    """Run a try this worker has already claimed, to its end; ``then`` runs in the final
    transaction (see ``Reporter.finish``), given the task's facts when they are known. Returns the
    outcome and what ``then`` returned.

    ``task``: the live task, when this process loaded it; None when the options' fork server loads
    it, which raises ``TaskNotLoadable`` here if it cannot (the try was not started: the caller
    ends it). ``tried``: the content hash of the DAG file's version this process tried in a child
    (``DagLoader.check``), which the fork server then imports without trying it again."""
    key = reporter.key
    hostname = options.hostname or default_hostname()
    request = _request(task, key, reporter.try_number, hostname, claimed, options)
    facts = None if task is None else TaskFacts.of(task)
    # Sending a follow-up's other messages may have taken a while since the claim (itself a
    # heartbeat): after that long, start the task only if a heartbeat says the try is still the
    # task instance's running one.
    standing, last_ok = _standing(reporter, reporter.claimed_at or 0.0, options)
    if standing is Standing.RUNNING:
        result, facts = _run_in_child(
            factory,
            engine_reset,
            request,
            reporter,
            key,
            options,
            facts,
            fileloc=claimed.fileloc,
            tried=tried,
            last_ok=last_ok,
        )
    else:
        result = _not_started(standing)

    def follow(session: Session, ended: Outcome) -> Any:
        assert then is not None
        return then(session, ended, facts)

    _, followed = _finish(reporter, result, None if then is None else follow, patience=options.zombie_threshold)
    return result.outcome, followed


def stored_retry_policy(factory: sessionmaker[Session], key: TIKey) -> RetryPolicy | None:
    """The retry settings of ``key``'s task as the metastore's serialized DAG records them (None
    when the DAG or the task is not there, or cannot be read): for a try whose task could not be
    loaded from its file."""
    with session_scope(factory) as session:
        serialized = dags.get_serialized(session, key.dag_id)
    if serialized is None:
        return None
    try:
        stored = deserialize_dag(dict(serialized)).get_task(key.task_id)
    except Exception:  # noqa: BLE001 - an unreadable or older picture just means "no retry settings"
        return None
    return RetryPolicy.from_task(stored)


def _standing(reporter: Reporter, last_ok: float, options: RunnerOptions) -> tuple[Standing, float]:
    """Where the try stands before its task process starts, and when a heartbeat last reached the
    metastore: taken as running if a heartbeat (or the claim) did within the heartbeat interval,
    else asked with a heartbeat now."""
    if time.monotonic() - last_ok > options.heartbeat_interval:
        return reporter.heartbeat(), time.monotonic()
    return Standing.RUNNING, last_ok


def _not_started(standing: Standing) -> ChildResult:
    why = (
        "was changed from outside"
        if standing is Standing.CHANGED
        else "was given to another try (its heartbeat had gone stale)"
    )
    error = f"the task instance {why} before this try's task process started; it did not start"
    logger.warning("%s", error)
    return ChildResult(
        outcome=Outcome(TI.FAILED, error=error), log_text=f"[{datetime.now(UTC).isoformat()}] WARNING - {error}\n"
    )


def _finish(
    reporter: Reporter, result: ChildResult, then: Callable[[Session, Outcome], Any] | None, *, patience: float
) -> tuple[bool, Any]:
    """Write the try's end; while the metastore does not answer, try again for ``patience`` seconds
    (past that, the scheduler has declared the try a zombie and the write could only be refused)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return reporter.finish(
                result.outcome, log_text=result.log_text, rendered=result.rendered, pushed=result.pushed, then=then
            )
        except DBAPIError as exc:
            if not exc.connection_invalidated and not isinstance(exc, OperationalError | InterfaceError):
                raise
            if time.monotonic() > deadline:
                raise
            logger.warning(
                "%s try %s: cannot write its end %s (%s); trying again",
                reporter.key,
                reporter.try_number,
                result.outcome.state,
                _first_line(exc.orig or exc),
            )
            time.sleep(FINISH_RETRY_S)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _request(
    task: Any, key: TIKey, try_number: int, hostname: str, claimed: ClaimedTry, options: RunnerOptions
) -> TryRequest:
    info = RunInfo(
        dag_id=key.dag_id,
        run_id=key.run_id,
        run_type=claimed.run_type,
        logical_date=claimed.logical_date,
        data_interval_start=claimed.data_interval_start,
        data_interval_end=claimed.data_interval_end,
        conf=claimed.conf,
        start_date=claimed.run_start_date,
        external_trigger=claimed.external_trigger,
    )
    return TryRequest(
        task=task,
        run=info,
        try_number=try_number,
        max_tries=claimed.max_tries,
        map_index=key.map_index,
        hostname=hostname,
        first_poke_at=claimed.first_poke_at,
        xcom_max_bytes=options.xcom_max_bytes,
        next_method=claimed.next_method,
        next_kwargs=claimed.next_kwargs,
    )


def _run_in_child(
    factory: sessionmaker[Session],
    engine_reset: Callable[[], None],
    request: TryRequest,
    reporter: Reporter,
    key: TIKey,
    options: RunnerOptions,
    facts: TaskFacts | None,
    *,
    fileloc: str | None,
    tried: str | None,
    last_ok: float,
) -> tuple[ChildResult, TaskFacts | None]:
    """The try run to its end in processes of its own, and the task's facts (those the fork server
    sent back, when it loaded the task; None when the try could not be started without them)."""
    orphan_grace = min(options.killed_task_cleanup_time, options.zombie_threshold * ORPHAN_GRACE_FRACTION)
    guarded: GuardedTry
    answerer: TryServicesAnswerer | None
    if options.fork_server is not None and fileloc:
        spec = TrySpec(fileloc, key, replace(request, task=None), orphan_grace, LEFTOVER_GRACE_S, tried)
        try:
            guarded, facts = options.fork_server.start_try(spec)
        except TaskNotLoadable:
            raise
        except ForkServerError as exc:
            return _start_failed(request, str(exc), _retry_when_not_started(factory, key)), facts
        # The answer may have taken a while (a DAG file imported, a fork server replaced): the task
        # process runs the try only if it is still this worker's to run. Whatever stops it here
        # (the metastore not answering included), closing the try's pipes has its guard stop the
        # task process before it ran anything of the try.
        try:
            standing, last_ok = _standing(reporter, last_ok, options)
            if standing is not Standing.RUNNING:
                guarded.close()
                return _not_started(standing), facts
            if shutdown.COLD.is_set():
                guarded.close()
                why = "the worker was shut down cold before the try's task process started; it did not start"
                return _start_failed(request, why, facts.retry), facts
            answerer = TryServicesAnswerer(runtime_services.current(), lambda: MetastoreXComBackend(factory, key))
        except BaseException:
            guarded.close()
            raise
        guarded.go()
    else:
        sys.stdout.flush()
        sys.stderr.flush()

        def task_main(log_fd: int, result_fd: int) -> None:
            # The worker's pooled connections stay the worker's; a pull opens the task's own, lazily.
            engine_reset()
            child_main(request, log_fd, result_fd, lambda channel: MetastoreXComBackend(factory, key))

        guarded = start_guarded(task_main, orphan_grace=orphan_grace, leftover_grace=LEFTOVER_GRACE_S)
        answerer = None
        if facts is None:
            facts = TaskFacts.of(request.task)
    result = supervise(
        guarded, request, reporter, options.supervision(), facts=facts, last_ok=last_ok, answerer=answerer
    )
    return result, facts


def _retry_when_not_started(factory: sessionmaker[Session], key: TIKey) -> RetryPolicy:
    """The retry settings of a try whose processes could not be started, when the fork server could
    not say them: as the metastore records them, else retries at once. Unlike a task that cannot be
    loaded (failed at once without its settings), such a try may well start next time."""
    try:
        stored = stored_retry_policy(factory, key)
    except Exception:  # noqa: BLE001 - the metastore not answering must not keep the try from ending
        logger.warning("%s: could not read the task's retry settings", key, exc_info=True)
        stored = None
    return stored if stored is not None else RetryPolicy()


def _start_failed(request: TryRequest, why: str, retry: RetryPolicy) -> ChildResult:
    """The try's processes could not be started: it ends as a crash would, retried by its retries."""
    now = datetime.now(UTC)
    outcome = outcomes.from_crash(
        None, retry=retry, try_number=request.try_number, max_tries=request.max_tries, now=now, reason=why
    )
    logger.error("%s try %s: %s", request.run.dag_id, request.try_number, why)
    return ChildResult(outcome=outcome, log_text=f"[{now.isoformat()}] ERROR - {why}\n")
