"""The supervisor of one running try, in the worker process: it reads the task process's log and
reports, hands them to the try's heartbeat thread, and decides when the try must be stopped.

The try ends when its guard says so — once the task process has ended *and* every process it
started is gone (a guardian process, ``guardian.py``, or a fork server's thread, ``thread_guard.py``)
— never on the pipes' end of file, which a background child that inherited the task's stdout could
hold open forever. Reasons to stop a running try:

- its heartbeat finds the task instance changed from outside (cleared, marked, its run timed out):
  SIGTERM, so ``on_kill`` runs, then SIGKILL after ``killed_task_cleanup_time``;
- it ran past ``execution_timeout`` plus a grace without stopping itself: the same, with a short grace;
- its heartbeat finds the try is no longer the live one, or no heartbeat has reached the metastore
  for ``fence_after`` seconds (half the zombie threshold): SIGKILL at once. This is self-fencing: a
  worker cut off from the metastore stops its own tries before the scheduler declares them zombies
  and retries them elsewhere, so the old try and the retry never run side by side;
- the worker is shut down cold (``shutdown.py``): SIGKILL at once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tradewind.worker import outcome as outcomes
from tradewind.worker import shutdown
from tradewind.worker.guardian import GuardedTry, wait_readable
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import PushedXCom, Reporter, Standing
from tradewind.worker.task_facts import TaskFacts
from tradewind.worker.task_process import TryRequest
from tradewind.worker.thread_guard import stop_what_a_lost_guard_left
from tradewind.worker.try_heartbeat import TryHeartbeat
from tradewind.worker.try_services import CallAnswering, TryServicesAnswerer

logger = logging.getLogger(__name__)

#: Extra time a task's process gets past its execution_timeout before it is stopped from outside.
KILL_GRACE_SECONDS = 10.0
#: How long the try's end waits for its heartbeat thread to finish a metastore call in flight.
HEARTBEAT_JOIN_S = 60.0
#: The number of a call in a report line that cannot be read whole.
_CALL_NUMBER = re.compile(rb'\{"call": \[(\d+),')
#: How long a supervisor that failed waits for the killed try's guard to say it is over.
GUARDIAN_EXIT_WAIT_S = 30.0


@dataclass
class SupervisorOptions:
    """The timings of supervision (``RunnerOptions`` builds them from the settings)."""

    heartbeat_interval: float
    log_flush_interval: float
    #: Seconds without a heartbeat reaching the metastore after which the worker kills the try itself.
    fence_after: float
    #: Seconds a try stopped from outside gets for its on_kill before everything is SIGKILLed.
    killed_task_cleanup_time: float
    echo: Any = None


@dataclass
class ChildResult:
    """What the task's process reported, for the worker to write in the try's final transaction."""

    outcome: Outcome
    log_text: str = ""
    rendered: dict[str, Any] | None = None
    pushed: list[PushedXCom] = field(default_factory=list)


@dataclass
class _Stop:
    """Why the try was stopped from outside, if it was."""

    reason: str | None = None
    #: Whether the task had reported how it ended before it was stopped (then that report stands).
    reported_before: bool = False


def supervise(
    guarded: GuardedTry,
    request: TryRequest,
    reporter: Reporter,
    options: SupervisorOptions,
    *,
    facts: TaskFacts,
    last_ok: float,
    answerer: TryServicesAnswerer | None = None,
) -> ChildResult:
    """Run the try to its end (see the module docstring) and return what it reported. ``facts``:
    the task's; ``last_ok`` is when a heartbeat last reached the metastore (the one just before the
    task process started); ``answerer`` answers what the task's process asks of the worker
    (``try_services.py``)."""
    beat = TryHeartbeat(
        reporter,
        heartbeat_interval=options.heartbeat_interval,
        flush_interval=options.log_flush_interval,
        last_ok=last_ok,
    )
    beat.start()
    reader = _PipeReader(guarded, options.echo, beat, answerer)
    stop = _Stop()
    try:
        try:
            _watch(guarded, reader, beat, facts, reporter, options, stop)
            _stop_what_a_lost_guard_left(guarded)
            reader.refuse_writes("the try's processes have ended")
            reader.drain()
        except Exception as exc:  # noqa: BLE001 - whatever broke here, the try ends killed and reported
            logger.exception("%s try %s: supervising the try failed; killing it", reporter.key, reporter.try_number)
            stop.reason = f"the worker failed while supervising the try ({type(exc).__name__}: {exc}); killed"
            stop.reported_before = False
            reader.refuse_writes(stop.reason)
            guarded.kill()
            _await_guardian(guarded, reader)
            _stop_what_a_lost_guard_left(guarded)
    finally:
        reader.close()
        # Also on the way out of a worker that is shutting down: the closed control pipe stops the try.
        guarded.close()
        text, rendered = beat.stop(HEARTBEAT_JOIN_S)
    return _result(reader, guarded, request, facts, options, stop, text, rendered)


def _watch(
    guarded: GuardedTry,
    reader: _PipeReader,
    beat: TryHeartbeat,
    facts: TaskFacts,
    reporter: Reporter,
    options: SupervisorOptions,
    stop: _Stop,
) -> None:
    """Read the pipes until the guard says the try is over, stopping it when one of the reasons comes."""
    timeout = facts.execution_timeout
    deadline = (time.monotonic() + timeout.total_seconds() + KILL_GRACE_SECONDS) if timeout else None
    while not reader.guardian_gone:
        reader.read(options.log_flush_interval)
        now = time.monotonic()
        reason = _fence_reason(beat, now, options.fence_after)
        if reason is not None and guarded.stopping != "kill":
            guarded.kill()
        elif stop.reason is None and beat.standing is Standing.CHANGED:
            reason = "the task instance was changed from outside (cleared, marked, or its run timed out); stopped"
            guarded.terminate(options.killed_task_cleanup_time)
        elif shutdown.COLD.is_set() and guarded.stopping != "kill":
            # Killed now, even a try already being stopped (which keeps its first reason).
            reason = stop.reason or shutdown.COLD_REASON
            guarded.kill()
        elif stop.reason is None and deadline is not None and now > deadline:
            reason = f"the task ran past its execution_timeout of {timeout} and did not stop; killed"
            guarded.terminate(min(options.killed_task_cleanup_time, KILL_GRACE_SECONDS))
        else:
            continue
        if stop.reason is None:
            stop.reported_before = reader.result.outcome is not None
        stop.reason = reason
        reader.refuse_writes(reason)  # its on_kill may still read (a connection to cancel a job)
        logger.warning("%s try %s: %s", reporter.key, reporter.try_number, reason)


def _stop_what_a_lost_guard_left(guarded: GuardedTry) -> None:
    """When the fork server that guarded the try died (its status pipe closed without the word that
    nothing of the try is left), what the try started is this worker's to stop, before the pipes
    are drained (a command left writing to them would never let a drain end) and the end written."""
    if guarded.own_child or guarded.report.all_gone:
        return
    lost_at = guarded.report.lost_at
    if lost_at is None:
        if not guarded.exited():
            return  # its fork server goes on guarding it (a supervisor that failed gave up waiting)
        lost_at = time.monotonic()
    left = stop_what_a_lost_guard_left(guarded.guard_pid, lost_at)
    guarded.report.leftovers = max(guarded.report.leftovers, left)


def _await_guardian(guarded: GuardedTry, reader: _PipeReader) -> None:
    """After a failure: wait (bounded) for the killed try's guard to say it is over."""
    deadline = time.monotonic() + GUARDIAN_EXIT_WAIT_S
    while not reader.guardian_gone and time.monotonic() < deadline:
        try:
            reader.read(0.1)
        except Exception:  # noqa: BLE001 - the pipes themselves may be what broke; poll the exit instead
            if guarded.exited():
                return
            time.sleep(0.1)


def _result(
    reader: _PipeReader,
    guarded: GuardedTry,
    request: TryRequest,
    facts: TaskFacts,
    options: SupervisorOptions,
    stop: _Stop,
    text: str,
    rendered: dict[str, Any] | None,
) -> ChildResult:
    result = reader.result
    if rendered is not None:
        result.rendered = rendered
    elif reader.rendered_sent:
        result.rendered = None  # written while the try ran
    lines = [text] if text else []
    report = guarded.report
    now_utc = datetime.now(UTC)
    if report.leftovers:
        lines.append(
            f"[{now_utc.isoformat()}] INFO - the task left {report.leftovers} process(es) running; "
            "they were stopped with it\n"
        )
    if result.outcome is None or (stop.reason is not None and not stop.reported_before):
        exit_code = report.exit_code if report.exit_code is not None else _guardian_exit(report.guardian_status)
        result.outcome = outcomes.from_crash(
            exit_code,
            retry=facts.retry,
            try_number=request.try_number,
            max_tries=request.max_tries,
            now=now_utc,
            reason=stop.reason,
        )
        lines.append(f"[{now_utc.isoformat()}] ERROR - {result.outcome.error}\n")
        if options.echo:
            options.echo(f"ERROR - {result.outcome.error}\n")
    result.log_text = "".join(lines)
    return result


def _fence_reason(beat: TryHeartbeat, now: float, fence_after: float) -> str | None:
    if beat.standing is Standing.LOST:
        return (
            "another try of the task instance was queued or started (this one's heartbeat had gone stale); "
            "the worker killed this one at once"
        )
    silent = beat.silent_for(now)
    if silent > fence_after:
        return (
            f"no heartbeat reached the metastore for {silent:.0f} s (the worker fences its tries after "
            f"{fence_after:g} s, half the zombie threshold); the worker killed the try so that a retry "
            "elsewhere cannot run beside it"
        )
    return None


def _guardian_exit(status: int | None) -> int:
    """The exit code to blame when the guardian died without reporting the task process's."""
    return os.waitstatus_to_exitcode(status) if status is not None else -9


class _PipeReader:
    """Reads the task process's log and result pipes and the guardian's reports, and answers what
    the task's process asks."""

    def __init__(
        self, guarded: GuardedTry, echo: Any, beat: TryHeartbeat, answerer: TryServicesAnswerer | None
    ) -> None:
        self.guarded = guarded
        self.answerer = answerer
        #: Answers the task's calls, made at its first (most tries ask nothing).
        self.calls: CallAnswering | None = None
        #: Why what the task asks to change is refused (it is being stopped), once it is.
        self._refusing: str | None = None
        self.echo = echo
        self.beat = beat
        self.result = ChildResult(outcome=None)  # type: ignore[arg-type]
        self.rendered_sent = False
        self.guardian_gone = False
        self._pending = {guarded.log_fd: b"", guarded.result_fd: b""}
        self._open = {guarded.log_fd, guarded.result_fd}

    def read(self, timeout: float) -> None:
        ready = wait_readable([*self._open, self.guarded.status_fd], timeout)
        for fd in ready:
            if fd == self.guarded.status_fd:
                stuck = list(self.guarded.report.stuck)
                self.guardian_gone = self.guarded.read_status() or self.guardian_gone
                if self.guarded.report.stuck and self.guarded.report.stuck != stuck:
                    self.beat.add_log(
                        f"[{datetime.now(UTC).isoformat()}] WARNING - processes {self.guarded.report.stuck} of this "
                        "try did not end on SIGKILL (another user's, or stuck in the kernel); the try counts as "
                        "running until they do, so no other try of it starts\n"
                    )
            else:
                self._read(fd)

    def drain(self) -> None:
        """After the guardian's exit no writer is left; read what is still in the pipes."""
        while self._open:
            ready = wait_readable(list(self._open), 0)
            if not ready:
                break  # a writer escaped the guardian (another PID namespace): do not wait for it
            for fd in ready:
                self._read(fd)
        for fd, rest in self._pending.items():
            if rest:
                self._lines(fd, [rest])

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            self._open.discard(fd)
            return
        *lines, self._pending[fd] = (self._pending[fd] + chunk).split(b"\n")
        self._lines(fd, lines)

    def _lines(self, fd: int, lines: list[bytes]) -> None:
        if fd == self.guarded.result_fd:
            for line in lines:
                self._take_report(line)
            return
        text = "".join(line.decode("utf-8", "replace") + "\n" for line in lines)
        if text:
            self.beat.add_log(text)
            if self.echo:
                self.echo(text)

    def _take_report(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            report = json.loads(line)
        except ValueError:
            logger.warning("unreadable report from a task process: %r", line[:200])
            if (call := _CALL_NUMBER.search(line)) is not None:
                # The task waits for an answer to that call: it gets an error, not silence.
                self._answer([int(call.group(1)), None])
            return
        result = self.result
        if "outcome" in report:
            result.outcome = Outcome.from_json(report["outcome"])
        elif "rendered" in report:
            self.beat.set_rendered(report["rendered"])
            self.rendered_sent = True
        elif "call" in report:
            self._answer(report["call"])
        elif "xcom" in report:
            key, value, *shown = report["xcom"]
            pushed = PushedXCom(key, value, shown[0] if shown else None)
            result.pushed = [p for p in result.pushed if p.key != key] + [pushed]

    def _answer(self, call: Any) -> None:
        if self.calls is None:
            self.calls = CallAnswering(self.answerer, self.guarded.result_fd, refuse_writes=self._refusing)
        self.calls.take(call)

    def refuse_writes(self, why: str) -> None:
        """The try is being stopped: what it asks to change from now on is refused, not done."""
        self._refusing = self._refusing or why
        if self.calls is not None:
            self.calls.refuse_writes(why)

    def close(self) -> None:
        """The try is over: the thread answering its calls ends, once the call it may be in is done
        (bounded: the end is written after at most ``HEARTBEAT_JOIN_S``, as for the heartbeat)."""
        if self.calls is not None and not self.calls.close(HEARTBEAT_JOIN_S):
            logger.warning("a call of the try's task process was still being answered when its end was written")
