"""A try's guardian: the process between the worker and the task's process that makes sure every
process the try starts dies with the try, before the worker reports the try's end.

    worker (a pool thread) ── guardian (own session, child subreaper) ── task process ── commands …

- The guardian starts a session of its own, so a signal to the worker's session or process group
  (``kill -9 -<pgid>``, Ctrl-C, a cold shutdown) does not reach it, and becomes a child subreaper,
  so every orphan of the try — a command BashOperator started in its own session, a daemon that
  double-forked — becomes its child instead of init's.
- The task process dies with the guardian (``PR_SET_PDEATHSIG``).
- When the task process ends, however it ends (it returned, crashed, was SIGKILLed by the OOM
  killer), the guardian reports its exit status, gives what it left behind ``leftover_grace``
  seconds after a SIGTERM, SIGKILLs the rest, and exits only when it has no child left — which,
  for a subreaper, means no process of the try is left. The worker waits for that exit before it
  writes the try's end, so no other try of the task instance can start beside a survivor.
- The worker asks it to stop the try (``terminate``: SIGTERM to the task process's group, whose
  ``on_kill`` runs, then SIGKILL to everything after the grace; ``kill``: SIGKILL at once).
- When the worker process dies (SIGKILL, OOM), the guardian sees its control pipe close and stops
  the try by itself within ``orphan_grace`` seconds, long before the scheduler declares the try a
  zombie and retries it elsewhere.

A worker's slots are threads of one process, so the worker holds the pipes of every running
try. Every process forked from the worker (a guardian, a child trying a DAG file, whatever a DAG
file forks) closes the pipes of the running tries straight after the fork (``os.register_at_fork``;
a lock keeps the set of them exact), so only a try's own guardian holds its control pipe: when the
worker dies, every guardian sees its pipe close at once, not when some later try's processes end.
A worker forks its guardians from its fork server (``fork_server.py``), which sends the worker's
ends of the pipes back; they join the same set as they arrive. The fork server starts them early
(``start_guarded_early``), before the try is asked for: the guardian forks the task process at
once, and the task process runs nothing of a try until the worker's ``go`` reaches it, on a pipe
of its own (the guardian hears it on its control pipe, at the same moment). If the control pipe
closes first, the guardian SIGKILLs the task process and exits without a word; if the task process
ends first, the guardian reports its end as after any try.

What no process can survive: a SIGKILL of the guardian itself takes the task process with it, but
a command that started its own session would then live on (the README says where which guarantee
holds). The guardian is tiny and idle, so the OOM killer picks the task process first.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tradewind.worker.process_tree import (
    become_subreaper,
    die_with_parent,
    kill_descendants,
    name_process,
    reap_children,
)

#: How often the guardian reaps orphans that ended while the task runs.
_REAP_INTERVAL_S = 1.0

#: Held while a guardian or a child trying a DAG file is forked, and while a DAG file is imported
#: in a process that forks tries from several threads (a worker without a fork server): a process
#: forked while another thread imports would find the import's locks (a module imported for the
#: first time) held for ever. So an import holds back the start of tries (not their end); imports
#: happen once per file version.
FORK_LOCK = threading.RLock()
#: Guards ``_TRY_PIPES``: taken to fork a guardian and to close a try's pipes, never for long.
_PIPES_LOCK = threading.Lock()
#: The worker's ends of the pipes of every running try, and any other descriptor no process forked
#: from this one may hold (``close_in_children``).
_TRY_PIPES: set[int] = set()


def wait_readable(fds: list[int], timeout: float) -> list[int]:
    """Those of ``fds`` that are readable (data, or end of file) within ``timeout`` seconds. With
    ``poll``, not ``select``: a worker with many slots holds descriptors numbered past 1024."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    try:
        events = poller.poll(max(0.0, timeout) * 1000)
    except InterruptedError:
        return []
    return [fd for fd, _ in events]


def close_other_tries_pipes() -> None:
    """In a process just forked from the worker: close the pipes of the worker's running tries, so
    a try's guardian alone holds its control pipe and the worker alone reads its reports. Runs
    after every fork of the worker (``os.register_at_fork``). The locks are made anew: the fork was
    made holding them, and a child that forks in turn (the fork server) needs them free."""
    global FORK_LOCK, _PIPES_LOCK
    FORK_LOCK = threading.RLock()
    _PIPES_LOCK = threading.Lock()
    for fd in list(_TRY_PIPES):
        try:
            os.close(fd)
        except OSError:
            pass
    _TRY_PIPES.clear()


os.register_at_fork(after_in_child=close_other_tries_pipes)


def close_in_children(fd: int) -> None:
    """Have every process forked from this one from now on close ``fd`` straight after the fork."""
    with _PIPES_LOCK:
        _TRY_PIPES.add(fd)


def duplicate_privately(fd: int) -> int:
    """A duplicate of ``fd`` that no process forked from this one will hold (made and registered
    with ``close_in_children`` with no fork in between)."""
    with _PIPES_LOCK:
        copy = os.dup(fd)
        _TRY_PIPES.add(copy)
        return copy


def close_now(fd: int, close: Callable[[], None] | None = None) -> None:
    """Close ``fd`` (with ``close``, for a descriptor an object owns) and stop closing it in
    children, with no fork in between (its number may be reused at once)."""
    with _PIPES_LOCK:
        _TRY_PIPES.discard(fd)
        try:
            if close is not None:
                close()
            else:
                os.close(fd)
        except OSError:
            pass


def fork_keeping(private: int, close_in_parent: int) -> int:
    """Fork (see ``forking``); in the parent, ``close_in_parent`` is closed and ``private`` joins
    the descriptors every later child closes, before any other fork can happen."""
    with forking():
        pid = os.fork()
        if pid != 0:
            os.close(close_in_parent)
            _TRY_PIPES.add(private)
        return pid


def receive_try_pipes(sock: socket.socket, bufsize: int, maxfds: int) -> tuple[bytes, list[int]]:
    """Receive a message and the pipes it carries (``SCM_RIGHTS``) from ``sock``, with no fork in
    between: the pipes join the set every forked child closes before any child can inherit them,
    and are close-on-exec, so no program this process runs holds them either."""
    with _PIPES_LOCK:
        data, fds, flags, _ = socket.recv_fds(sock, bufsize, maxfds)
        for fd in fds:
            os.set_inheritable(fd, False)
        _TRY_PIPES.update(fds)
    if flags & socket.MSG_CTRUNC:
        for fd in fds:
            close_now(fd)
        raise OSError("the pipes sent with the answer were cut short")
    return data, list(fds)


@contextmanager
def forking() -> Iterator[None]:
    """Hold while forking from the worker: no DAG file is being imported in it and the set of the
    tries' pipes is exact (none made or closed half-way) until the parent is done with the fork."""
    with FORK_LOCK, _PIPES_LOCK:
        yield


@contextmanager
def importing() -> Iterator[None]:
    """Hold while importing a DAG file: no process is forked meanwhile (see ``FORK_LOCK``)."""
    with FORK_LOCK:
        yield


@dataclass
class GuardianReport:
    """What the guardian said about the try's processes."""

    #: The task process's exit code (negative: killed by that signal); None if the guardian never said.
    exit_code: int | None = None
    #: Processes the task left behind that the guardian had to stop.
    leftovers: int = 0
    #: Processes SIGKILL did not end in seconds (another user's, or stuck in the kernel).
    stuck: list[int] = field(default_factory=list)
    #: How the guardian itself ended (its wait status), once it has.
    guardian_status: int | None = None
    #: The guardian said every process of the try is gone (its last word before it exits).
    all_gone: bool = False
    _pending: bytes = field(default=b"", repr=False)

    def take(self, chunk: bytes) -> None:
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            word, _, value = line.decode("ascii", "replace").partition(" ")
            if word == "exit" and value.lstrip("-").isdigit():
                self.exit_code = int(value)
            elif word == "leftovers" and value.isdigit():
                self.leftovers = int(value)
                self.all_gone = True
            elif word == "stuck":
                self.stuck = [int(pid) for pid in value.split() if pid.isdigit()]


@dataclass
class GuardedTry:
    """The worker's side of one try's guardian."""

    pid: int
    #: Readable end of the task process's log pipe, and the worker's end of its result socket.
    log_fd: int
    result_fd: int
    #: Readable end of the guardian's own reports; EOF once it has exited.
    status_fd: int
    control_fd: int
    #: The worker's end of the pipe a task process started early waits on for its go (-1: none).
    go_fd: int = -1
    report: GuardianReport = field(default_factory=GuardianReport)
    stopping: str | None = None
    #: Whether the guardian is this process's child (False: the fork server's, which reaps it).
    own_child: bool = True

    def go(self) -> None:
        """Let the task process of a guardian started with ``start_guarded_early`` run the try: the
        guardian hears it first, then the task process (each wakes on its own pipe, neither waits
        for the other)."""
        self._send("go\n")
        if self.go_fd >= 0:
            try:
                os.write(self.go_fd, b"g")
            except OSError:
                pass  # the task process is gone; its guardian reports how it ended
            close_now(self.go_fd)
            self.go_fd = -1

    def terminate(self, grace: float) -> None:
        """SIGTERM the task process (its on_kill runs); SIGKILL everything after ``grace`` seconds."""
        if self.stopping is None:
            self.stopping = "terminate"
            self._send(f"term {max(grace, 0.0):.3f}\n")

    def kill(self) -> None:
        """SIGKILL the task process and everything it started, now."""
        if self.stopping != "kill":
            self.stopping = "kill"
            self._send("kill\n")

    def read_status(self) -> bool:
        """Read what the guardian reported; True once the try is over: the guardian has exited (and,
        this process's child, is reaped), or — the fork server's — has said that every process of
        the try is gone, which is its last word (its own exit, a few ms of the kernel's time,
        runs no code of the try's)."""
        try:
            chunk = os.read(self.status_fd, 4096)
        except BlockingIOError:
            return False
        if chunk:
            self.report.take(chunk)
            return not self.own_child and self.report.all_gone
        if self.own_child:
            _, status = os.waitpid(self.pid, 0)
            self.report.guardian_status = status
        return True

    def exited(self) -> bool:
        """Whether the guardian process has ended (for when its pipes cannot be read)."""
        if self.own_child:
            return os.waitpid(self.pid, os.WNOHANG)[0] != 0
        try:
            with open(f"/proc/{self.pid}/stat") as proc_stat:
                stat = proc_stat.read()
        except OSError:
            return True
        return stat[stat.rindex(")") + 2] in "ZX"

    def close(self) -> None:
        """Close the worker's ends of the try's pipes (once: a second call closes nothing)."""
        with _PIPES_LOCK:
            for fd in (self.log_fd, self.result_fd, self.status_fd, self.control_fd, self.go_fd):
                if fd < 0:
                    continue
                _TRY_PIPES.discard(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log_fd = self.result_fd = self.status_fd = self.control_fd = self.go_fd = -1

    def _send(self, command: str) -> None:
        try:
            os.write(self.control_fd, command.encode())
        except (BrokenPipeError, OSError):
            pass  # the guardian is already gone: nothing left to stop


def start_guarded(task_main: Callable[[int, int], None], *, orphan_grace: float, leftover_grace: float) -> GuardedTry:
    """Fork the guardian, which forks the task process running ``task_main(log_fd, result_fd)``
    (it must not return). The caller reads the pipes and, at the end, waits for ``read_status``."""
    return _start(
        lambda log_fd, result_fd, go: task_main(log_fd, result_fd),
        orphan_grace=orphan_grace,
        leftover_grace=leftover_grace,
        wait_for_go=False,
    )


def start_guarded_early(
    task_main: Callable[[int, int, Callable[[], bool]], None],
    *,
    orphan_grace: float,
    leftover_grace: float,
    task_only: tuple[int, ...] = (),
) -> GuardedTry:
    """Fork the guardian, which forks the task process at once; the try starts only on the worker's
    ``GuardedTry.go``, so a try whose pipes are handed on (the fork server's) starts only if they
    reached the worker — and can be made ready before anyone asks for it.

    ``task_main(log_fd, result_fd, go)`` (it must not return) may prepare what needs nothing of the
    try, and must call ``go()`` before it runs anything of it: ``go()`` waits for the worker's go
    and returns True, or returns False when the try is not to start. That is when the worker's
    ends close before any go: the guardian then SIGKILLs the task process and exits, having said
    nothing on its status pipe. When the task process ends before the go, the guardian says so on its
    status pipe as after any end, and exits (so anything readable on the status pipe before a go
    says the task process is gone). ``task_only``: descriptors ``task_main`` reads, which the
    guardian closes once it has forked the task process."""
    return _start(
        task_main, orphan_grace=orphan_grace, leftover_grace=leftover_grace, wait_for_go=True, task_only=task_only
    )


def _start(
    task_main: Callable[[int, int, Callable[[], bool]], None],
    *,
    orphan_grace: float,
    leftover_grace: float,
    wait_for_go: bool,
    task_only: tuple[int, ...] = (),
) -> GuardedTry:
    with forking():
        made: list[int] = []
        try:
            made.extend(os.pipe())
            # Both ways: the task's process reports on it, and reads the worker's answers to what it
            # asks (``try_services.py``).
            made.extend(end.detach() for end in socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
            # The last pair: the task process's go, straight from the worker (early starts only).
            for _ in range(3 if wait_for_go else 2):
                made.extend(os.pipe())
            pid = os.fork()
        except OSError:
            for fd in made:
                os.close(fd)
            raise
        log_read, log_write, result_read, result_write, *rest = made
        control_read, control_write, status_read, status_write, *go = rest
        go_read, go_write = go or (-1, -1)
        worker_ends = (log_read, result_read, control_write, status_read, *([go_write] if wait_for_go else []))
        if pid == 0:  # the guardian
            _guardian_child(
                task_main,
                worker_ends,
                log_write,
                result_write,
                control_read,
                status_write,
                go_read,
                orphan_grace=orphan_grace,
                leftover_grace=leftover_grace,
                wait_for_go=wait_for_go,
                task_only=task_only,
            )
        for fd in (log_write, result_write, control_read, status_write, *([go_read] if wait_for_go else [])):
            os.close(fd)
        _TRY_PIPES.update(worker_ends)
    os.set_blocking(status_read, False)
    return GuardedTry(
        pid=pid, log_fd=log_read, result_fd=result_read, status_fd=status_read, control_fd=control_write, go_fd=go_write
    )


def _guardian_child(
    task_main: Callable[[int, int, Callable[[], bool]], None],
    worker_ends: tuple[int, ...],
    log_write: int,
    result_write: int,
    control_read: int,
    status_write: int,
    go_read: int,
    *,
    orphan_grace: float,
    leftover_grace: float,
    wait_for_go: bool,
    task_only: tuple[int, ...],
) -> None:
    """The guardian's process from the fork on; never returns."""
    code = 1
    try:
        for fd in worker_ends:  # the other tries' pipes were closed at the fork
            os.close(fd)
        code = _guardian_main(
            task_main,
            log_write,
            result_write,
            control_read,
            status_write,
            go_read,
            orphan_grace=orphan_grace,
            leftover_grace=leftover_grace,
            wait_for_go=wait_for_go,
            task_only=task_only,
        )
    finally:
        os._exit(code)


def _go_said_to_task(go_read: int) -> bool:
    """In a task process started early: wait for the worker's go (False: its end closed first)."""
    while True:
        try:
            byte = os.read(go_read, 1)
        except InterruptedError:
            continue
        os.close(go_read)
        return byte == b"g"


def _go_said(control_read: int, task_pid: int) -> bool | None:
    """Wait for the worker's ``go`` on the control pipe: True once it came, False if anything else
    comes first (the pipe closed), None if the task process ends first (it is left to be reaped)."""
    try:
        pidfd: int | None = os.pidfd_open(task_pid)
    except (AttributeError, OSError):
        pidfd = None  # an old kernel: poll instead
    try:
        line = b""
        while not line.endswith(b"\n"):
            watched = [control_read] if pidfd is None else [control_read, pidfd]
            ready = wait_readable(watched, _REAP_INTERVAL_S if pidfd is not None else 0.05)
            if control_read not in ready:
                if pidfd is not None:
                    if pidfd in ready:
                        return None
                elif os.waitid(os.P_PID, task_pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return None
                continue
            try:
                byte = os.read(control_read, 1)
            except InterruptedError:
                continue
            if not byte:
                return False
            line += byte
        return line == b"go\n"
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _guardian_main(
    task_main: Callable[[int, int, Callable[[], bool]], None],
    log_write: int,
    result_write: int,
    control_read: int,
    status_write: int,
    go_read: int,
    *,
    orphan_grace: float,
    leftover_grace: float,
    wait_for_go: bool,
    task_only: tuple[int, ...],
) -> int:
    # The worker's own handlers (and ignored signals, which a command would inherit) end here.
    for sig in (
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGQUIT,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGHUP,
        signal.SIGCHLD,
    ):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    become_subreaper()
    name_process("tw-guardian")
    guardian = os.getpid()
    # The task process waits on ``go_read`` for the worker's go; its end of file (the worker's end
    # closed: the try given up, or the worker gone) means "do not start".
    task_pid = os.fork()
    if task_pid == 0:  # the task process
        try:
            os.close(control_read)
            os.close(status_write)
            die_with_parent(guardian)
            name_process("tw-task")
            os.setpgid(0, 0)
            task_main(log_write, result_write, lambda: _go_said_to_task(go_read))
        finally:
            os._exit(1)
    os.close(log_write)
    os.close(result_write)
    for fd in task_only:
        os.close(fd)
    if wait_for_go:
        os.close(go_read)
        said = _go_said(control_read, task_pid)
        if said is False:  # the try is not to start: stop what was made ready, say nothing
            _signal(task_pid, signal.SIGKILL)
            kill_descendants()
            return 0
        # (None: the task process ended before any go; the watch reports how, and that it is gone.)
    watch = _Watch(task_pid, control_read, orphan_grace=orphan_grace)
    signal.signal(signal.SIGTERM, lambda signum, frame: watch.stop(orphan_grace))
    status = watch.wait_for_task()
    _say(status_write, f"exit {os.waitstatus_to_exitcode(status)}\n")
    grace = 0.0 if watch.killed else min(leftover_grace, watch.remaining())

    def stuck(pids: list[int]) -> None:
        _say(status_write, f"stuck {' '.join(map(str, pids))}\n")

    _say(status_write, f"leftovers {kill_descendants(grace, on_stuck=stuck)}\n")
    return 0


class _Watch:
    """The guardian's loop while the task process runs: its commands, its deadline, its end."""

    def __init__(self, task_pid: int, control_fd: int, *, orphan_grace: float) -> None:
        self.task_pid = task_pid
        self.control_fd: int | None = control_fd
        self.orphan_grace = orphan_grace
        self.deadline: float | None = None
        self.killed = False
        self._pidfd: int | None
        try:
            self._pidfd = os.pidfd_open(task_pid)
        except (AttributeError, OSError):
            self._pidfd = None  # an old kernel: poll instead

    def wait_for_task(self) -> int:
        while True:
            for pid, status in reap_children()[0]:
                if pid == self.task_pid:
                    return status
            if self.deadline is not None and time.monotonic() >= self.deadline and not self.killed:
                self.kill()
            watched = [fd for fd in (self.control_fd, self._pidfd) if fd is not None]
            timeout = _REAP_INTERVAL_S if self._pidfd is not None else 0.05
            if self.deadline is not None:
                timeout = min(timeout, max(0.0, self.deadline - time.monotonic()))
            ready = wait_readable(watched, timeout)
            if self.control_fd is not None and self.control_fd in ready:
                self._command()

    def _command(self) -> None:
        assert self.control_fd is not None
        data = os.read(self.control_fd, 4096)
        if not data:  # the worker process died: stop the try before anyone retries it
            os.close(self.control_fd)
            self.control_fd = None
            self.stop(self.orphan_grace)
            return
        for line in data.decode("ascii", "replace").splitlines():
            word, _, value = line.partition(" ")
            if word == "kill":
                self.kill()
            elif word == "term":
                self.stop(float(value or 0))

    def stop(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        if self.deadline is None:
            _signal(self.task_pid, signal.SIGTERM)
        if self.deadline is None or deadline < self.deadline:
            self.deadline = deadline

    def kill(self) -> None:
        self.killed = True
        self.deadline = time.monotonic()
        _signal(self.task_pid, signal.SIGKILL)

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - time.monotonic())


def _signal(pid: int, sig: int) -> None:
    """Signal the task process's group (itself and what it started without a group of its own, as
    Airflow's task runner does); the rest of the try's tree is stopped once the task process ended."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _say(fd: int, line: str) -> None:
    try:
        os.write(fd, line.encode())
    except OSError:
        pass  # the worker is gone; the try's processes are stopped all the same
