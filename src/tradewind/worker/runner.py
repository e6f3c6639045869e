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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import runs, task_instances
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.sdk.context import RunInfo
from tradewind.worker import outcome as outcomes
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import MetastoreXComBackend, Reporter
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
    reporter = Reporter(factory, key, try_number)
    if not reporter.claim(hostname=hostname, pid=os.getpid()):
        logger.info("%s try %s: already claimed or no longer queued; dropping", key, try_number)
        return None
    request = _read_request(factory, task, key, try_number, hostname, options)
    outcome = _run_in_child(factory, engine_reset, request, reporter, key, options)
    reporter.finish(outcome)
    return outcome


def _read_request(factory: sessionmaker[Session], task: Any, key: TIKey, try_number: int, hostname: str,
                  options: RunnerOptions) -> TryRequest:
    with session_scope(factory) as session:
        run = runs.get_run(session, key.dag_id, key.run_id)
        ti = task_instances.get_ti(session, key.dag_id, key.run_id, key.task_id, key.map_index)
        assert ti is not None
        info = RunInfo(
            dag_id=run.dag_id, run_id=run.run_id, run_type=run.run_type, logical_date=run.logical_date,
            data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
            conf=dict(run.conf or {}), start_date=run.start_date, external_trigger=run.external_trigger,
        )
        return TryRequest(
            task=task, run=info, try_number=try_number, max_tries=ti.max_tries, map_index=key.map_index,
            hostname=hostname, first_poke_at=ti.first_poke_at, xcom_max_bytes=options.xcom_max_bytes,
        )


def _run_in_child(factory: sessionmaker[Session], engine_reset: Callable[[], None], request: TryRequest,
                  reporter: Reporter, key: TIKey, options: RunnerOptions) -> Outcome:
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
        engine_reset()

        def make_backend() -> tuple[Any, Any, Any]:
            xcom = MetastoreXComBackend(factory, key)
            return xcom, reporter.set_rendered_fields, xcom.clear_own

        child_main(request, log_write, result_write, make_backend)
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
               options: RunnerOptions) -> Outcome:
    """Stream the child's log, heartbeat, enforce the hard time limit, and collect its outcome."""
    timeout = request.task.execution_timeout
    deadline = (time.monotonic() + timeout.total_seconds() + KILL_GRACE_SECONDS) if timeout else None
    next_heartbeat = time.monotonic() + options.heartbeat_interval
    pending = b""
    result = b""
    open_fds = {log_fd, result_fd}
    last_flush = time.monotonic()
    kill_reason: str | None = None
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            text = "".join(buffer)
            buffer.clear()
            reporter.append_log(text)

    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], options.log_flush_interval)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            if fd == result_fd:
                result += chunk
                continue
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace") + "\n"
                buffer.append(text)
                if options.echo:
                    options.echo(text)
        now = time.monotonic()
        if now - last_flush >= options.log_flush_interval:
            flush()
            last_flush = now
        if now >= next_heartbeat:
            next_heartbeat = now + options.heartbeat_interval
            if not reporter.heartbeat() and kill_reason is None:
                kill_reason = "the task instance was changed from outside (cleared or marked); stopped"
                _kill_group(pid)
        if deadline is not None and now > deadline and kill_reason is None:
            kill_reason = f"the task ran past its execution_timeout of {timeout} and did not stop; killed"
            _kill_group(pid)
    if pending:
        buffer.append(pending.decode("utf-8", "replace") + "\n")
    flush()
    os.close(log_fd)
    os.close(result_fd)
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    if result and kill_reason is None:
        return Outcome.from_json(json.loads(result))
    reason = kill_reason
    now_utc = datetime.now(UTC)
    outcome = outcomes.from_crash(exit_code, task=request.task, try_number=request.try_number,
                                  max_tries=request.max_tries, now=now_utc, reason=reason)
    reporter.append_log(f"[{now_utc.isoformat()}] ERROR - {outcome.error}\n")
    if options.echo:
        options.echo(f"ERROR - {outcome.error}\n")
    return outcome


def _kill_group(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            time.sleep(0.5)
