"""Runs one try of one task instance: claim it, fork the task's process, stream its log,
heartbeat, enforce the time limit, and write the final state.

The parent never runs user code; a child that crashes, leaks or hangs is killed and its try
ends as failed (or up for retry) with the reason in the log.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore.task_instances import TIKey
from tradewind.sdk import task_metastore
from tradewind.sdk.context import RunInfo
from tradewind.worker import outcome as outcomes
from tradewind.worker.log_cap import DEFAULT_MAX_BYTES as DEFAULT_LOG_MAX_BYTES
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import ClaimedTry, MetastoreXComBackend, Reporter
from tradewind.worker.task_process import TryRequest, child_main

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>

#: Extra time a task's process gets past its execution_timeout before it is killed outright.
KILL_GRACE_SECONDS = 10.0


@dataclass
class RunnerOptions:
    hostname: str = ""
    heartbeat_interval: float = 5.0
    log_flush_interval: float = 0.2
    xcom_max_bytes: int = 1_048_576
    #: The cap on each try's stored log (TRADEWIND_TASK_LOG_MAX_BYTES); also the most log text
    #: held unwritten, so a task that prints fast cannot fill the worker's memory between flushes.
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    #: Write each log line to this callable too (``dags test`` shows logs on the terminal).
    echo: Callable[[str], None] | None = None


def default_hostname() -> str:
    return socket.getfqdn() or socket.gethostname()


def run_task_instance(
    factory: sessionmaker[Session], engine_reset: Callable[[], None], task: Any, key: TIKey,
    try_number: int, options: RunnerOptions,
) -> Outcome | None:
    """Run try ``try_number`` of ``key``; None when the try was not ours to run (already claimed)."""
    hostname = options.hostname or default_hostname()
    reporter = Reporter(factory, key, try_number, log_max_bytes=options.log_max_bytes)
    claimed = reporter.claim(hostname=hostname, pid=os.getpid())
    if claimed is None:
        logger.info("%s try %s: already claimed or no longer queued; dropping", key, try_number)
        return None
    return run_claimed(factory, engine_reset, task, reporter, claimed, options)[0]


def run_claimed(factory: sessionmaker[Session], engine_reset: Callable[[], None], task: Any, reporter: Reporter,
                claimed: ClaimedTry, options: RunnerOptions,
                then: Callable[[Session, Outcome], Any] | None = None) -> tuple[Outcome, Any]:
    """Run a try this worker has already claimed, to its end; ``then`` runs in the final
    transaction (see ``Reporter.finish``). Returns the outcome and what ``then`` returned."""
    key = reporter.key
    hostname = options.hostname or default_hostname()
    request = _request(task, key, reporter.try_number, hostname, claimed, options)
    result = _run_in_child(factory, engine_reset, request, reporter, key, options)
    _, followed = reporter.finish(result.outcome, log_text=result.log_text, rendered=result.rendered,
                                  pushed=result.pushed, then=then)
    return result.outcome, followed


def _request(task: Any, key: TIKey, try_number: int, hostname: str, claimed: ClaimedTry,
             options: RunnerOptions) -> TryRequest:
    info = RunInfo(
        dag_id=key.dag_id, run_id=key.run_id, run_type=claimed.run_type, logical_date=claimed.logical_date,
        data_interval_start=claimed.data_interval_start, data_interval_end=claimed.data_interval_end,
        conf=claimed.conf, start_date=claimed.run_start_date, external_trigger=claimed.external_trigger,
    )
    return TryRequest(
        task=task, run=info, try_number=try_number, max_tries=claimed.max_tries, map_index=key.map_index,
        hostname=hostname, first_poke_at=claimed.first_poke_at, xcom_max_bytes=options.xcom_max_bytes,
    )


@dataclass
class _ChildResult:
    """What the task's process reported, for the worker to write in the try's final transaction."""

    outcome: Outcome
    log_text: str = ""
    rendered: dict[str, Any] | None = None
    pushed: list[tuple[str, Any]] = field(default_factory=list)


def _run_in_child(factory: sessionmaker[Session], engine_reset: Callable[[], None], request: TryRequest,
                  reporter: Reporter, key: TIKey, options: RunnerOptions) -> _ChildResult:
    log_read, log_write = os.pipe()
    result_read, result_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(log_read)
        os.close(result_read)
        os.setpgid(0, 0)
        _die_with_parent(parent)
        # The parent's pooled connections stay the parent's; a pull opens the child's own, lazily.
        engine_reset()
        task_metastore.bind(factory)
        child_main(request, log_write, result_write, MetastoreXComBackend(factory, key))
    os.close(log_write)
    os.close(result_write)
    return _supervise(pid, log_read, result_read, request, reporter, options)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this child when the worker process that forked it dies.

    The child has its own process group (so killing it takes its subprocesses too), which also
    takes it out of reach of the signals that end its worker. Without this, a worker killed from
    outside would leave the try running unseen while the scheduler retries it.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(1)


def _supervise(pid: int, log_fd: int, result_fd: int, request: TryRequest, reporter: Reporter,
               options: RunnerOptions) -> _ChildResult:
    """Stream the child's log, heartbeat, enforce the hard time limit, and collect its reports.

    A short task's log, rendered fields and XCom all reach the metastore in the try's final
    transaction; a long one's log and rendered fields are flushed every ``log_flush_interval``.
    """
    timeout = request.task.execution_timeout
    deadline = (time.monotonic() + timeout.total_seconds() + KILL_GRACE_SECONDS) if timeout else None
    started = time.monotonic()
    next_heartbeat = started + options.heartbeat_interval
    next_flush = started + options.log_flush_interval
    pending = {log_fd: b"", result_fd: b""}
    open_fds = {log_fd, result_fd}
    kill_reason: str | None = None
    buffer: list[str] = []
    buffered = 0
    result = _ChildResult(outcome=None)  # type: ignore[arg-type]
    rendered_written = False

    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], options.log_flush_interval)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            *lines, pending[fd] = (pending[fd] + chunk).split(b"\n")
            for line in lines:
                if fd == result_fd:
                    _take_report(result, line)
                    continue
                text = line.decode("utf-8", "replace") + "\n"
                buffer.append(text)
                buffered += len(text)
                if options.echo:
                    options.echo(text)
        now = time.monotonic()
        if (now >= next_flush or buffered >= options.log_max_bytes) and open_fds:
            next_flush = now + options.log_flush_interval
            reporter.flush(log_text="".join(buffer), rendered=None if rendered_written else result.rendered)
            buffer.clear()
            buffered = 0
            rendered_written = rendered_written or result.rendered is not None
        if now >= next_heartbeat:
            next_heartbeat = now + options.heartbeat_interval
            if not reporter.heartbeat() and kill_reason is None:
                kill_reason = "the task instance was changed from outside (cleared or marked); stopped"
                _kill_group(pid)
        if deadline is not None and now > deadline and kill_reason is None:
            kill_reason = f"the task ran past its execution_timeout of {timeout} and did not stop; killed"
            _kill_group(pid)
    if pending[log_fd]:
        buffer.append(pending[log_fd].decode("utf-8", "replace") + "\n")
    if pending[result_fd]:
        _take_report(result, pending[result_fd])
    os.close(log_fd)
    os.close(result_fd)
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    if rendered_written:
        result.rendered = None
    if result.outcome is None or kill_reason is not None:
        now_utc = datetime.now(UTC)
        result.outcome = outcomes.from_crash(exit_code, task=request.task, try_number=request.try_number,
                                             max_tries=request.max_tries, now=now_utc, reason=kill_reason)
        buffer.append(f"[{now_utc.isoformat()}] ERROR - {result.outcome.error}\n")
        if options.echo:
            options.echo(f"ERROR - {result.outcome.error}\n")
    result.log_text = "".join(buffer)
    return result


def _take_report(result: _ChildResult, line: bytes) -> None:
    if not line.strip():
        return
    try:
        report = json.loads(line)
    except ValueError:
        logger.warning("unreadable report from a task process: %r", line[:200])
        return
    if "outcome" in report:
        result.outcome = Outcome.from_json(report["outcome"])
    elif "rendered" in report:
        result.rendered = report["rendered"]
    elif "xcom" in report:
        key, value = report["xcom"]
        result.pushed = [(k, v) for k, v in result.pushed if k != key] + [(key, value)]


def _kill_group(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            time.sleep(0.5)
