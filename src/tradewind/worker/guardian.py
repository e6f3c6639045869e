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

This process guardian serves a worker without a fork server. A worker's fork server guards the tries
it forks with a thread of its own instead (``thread_guard.py``): one process per try, the same
control pipe, status words and guarantees, with the fork server in the guardian's place.

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
from collections.abc import Callable, Iterable, Iterator
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
#: Children forked here that ``thread_guard.stop_adopted`` leaves alone although they are in sessions
#: of their own: a fork server's task processes, a worker's fork servers. Changed under the same
#: lock as ``_TRY_PIPES`` (so a fork is recorded before anyone looks) and emptied in every child.
OWN_CHILDREN: set[int] = set()


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
    OWN_CHILDREN.clear()


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
    """Fork (see ``forking``); in the parent, ``close_in_parent`` is closed, ``private`` joins the
    descriptors every later child closes, and the child is one of ``OWN_CHILDREN``, before any other
    fork can happen."""
    with forking():
        pid = os.fork()
        if pid != 0:
            os.close(close_in_parent)
            _TRY_PIPES.add(private)
            OWN_CHILDREN.add(pid)
        return pid


def reaped_own_child(pid: int) -> int | None:
    """Reap ``pid``, one of ``OWN_CHILDREN``, if it has ended: its wait status (and it is forgotten in
    the same breath, so its pid, handed out again, is nobody's), else None. Never waits."""
    with _PIPES_LOCK:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped already (only this function reaps them): say it was killed
            reaped, status = pid, signal.SIGKILL
        if reaped == 0:
            return None
        OWN_CHILDREN.discard(pid)
        return status


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


def keep_from_children(fds: Iterable[int]) -> None:
    """Inside ``forking``, in the parent: every process forked from this one from now on closes
    ``fds`` straight after its fork."""
    _TRY_PIPES.update(fds)


@contextmanager
def pipes_held() -> Iterator[None]:
    """Hold while no fork may happen (``forking`` takes the same lock), without holding back the
    imports ``FORK_LOCK`` waits for: for a few system calls, never for long."""
    with _PIPES_LOCK:
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
    #: When (monotonic) a fork server's guard went silent: its status pipe closed without that word.
    lost_at: float | None = None
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
    """The worker's side of one try's guardian (a process of its own, or a fork server's thread)."""

    #: The guardian's pid; for a try a fork server guards, its task process's.
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
    #: Whether the guardian is this process's child (False: a fork server guards the try, and
    #: reaps its processes).
    own_child: bool = True
    #: The fork server whose thread guards the try (0: a guardian process of this one's).
    guard_pid: int = 0

    def go(self) -> None:
        """Let a task process started ahead of its try (``thread_guard.start_thread_guarded_early``)
        run the try: its guard hears it first, then the task process (each wakes on its own pipe,
        neither waits for the other)."""
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
        """Read what the guard reported; True once the try is over: the guardian process has exited
        (and, this process's child, is reaped), or a fork server's guard thread has said that every
        process of the try is gone, its last word. (A fork server's status pipe closing without
        that word means the fork server died: ``thread_guard.stop_what_a_lost_guard_left``.)"""
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
        elif not self.report.all_gone and self.report.lost_at is None:
            self.report.lost_at = time.monotonic()
        return True

    def exited(self) -> bool:
        """Whether the guard has ended, for when its pipes cannot be read: the guardian process, or
        for a try a fork server guards, the fork server (the task process's end says nothing of
        what it left behind, which the fork server may still be stopping)."""
        if self.own_child:
            return os.waitpid(self.pid, os.WNOHANG)[0] != 0
        try:
            with open(f"/proc/{self.guard_pid}/stat") as proc_stat:
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


def fork_with_try_pipes(pipes: int) -> list[int]:
    """Inside ``forking``: make a try's channels and fork. Returns both ends of the log pipe, of the
    result socket (both ways: the task's process reports on it, and reads the worker's answers to
    what it asks, ``try_services.py``) and of ``pipes`` more pipes, then the child's pid (0 in the
    child). Nothing is left open when a channel or the fork cannot be made."""
    made: list[int] = []
    try:
        made.extend(os.pipe())
        made.extend(end.detach() for end in socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
        for _ in range(pipes):
            made.extend(os.pipe())
        made.append(os.fork())
    except OSError:
        for fd in made:
            os.close(fd)
        raise
    return made


def start_guarded(task_main: Callable[[int, int], None], *, orphan_grace: float, leftover_grace: float) -> GuardedTry:
    """Fork the guardian, which forks the task process running ``task_main(log_fd, result_fd)``
    (it must not return). The caller reads the pipes and, at the end, waits for ``read_status``."""
    with forking():
        made = fork_with_try_pipes(2)
        pid = made.pop()
        log_read, log_write, result_read, result_write, control_read, control_write, status_read, status_write = made
        worker_ends = (log_read, result_read, control_write, status_read)
        if pid == 0:  # the guardian
            _guardian_child(
                task_main,
                worker_ends,
                log_write,
                result_write,
                control_read,
                status_write,
                orphan_grace=orphan_grace,
                leftover_grace=leftover_grace,
            )
        for fd in (log_write, result_write, control_read, status_write):
            os.close(fd)
        _TRY_PIPES.update(worker_ends)
    os.set_blocking(status_read, False)
    return GuardedTry(pid=pid, log_fd=log_read, result_fd=result_read, status_fd=status_read, control_fd=control_write)


def _guardian_child(
    task_main: Callable[[int, int], None],
    worker_ends: tuple[int, ...],
    log_write: int,
    result_write: int,
    control_read: int,
    status_write: int,
    *,
    orphan_grace: float,
    leftover_grace: float,
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
            orphan_grace=orphan_grace,
            leftover_grace=leftover_grace,
        )
    finally:
        os._exit(code)


#: What a try's processes start with: the defaults, not the worker's handlers (nor its ignored
#: signals, which a command would inherit).
TASK_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGHUP,
    signal.SIGCHLD,
)


def _guardian_main(
    task_main: Callable[[int, int], None],
    log_write: int,
    result_write: int,
    control_read: int,
    status_write: int,
    *,
    orphan_grace: float,
    leftover_grace: float,
) -> int:
    for sig in TASK_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    become_subreaper()
    name_process("tw-guardian")
    guardian = os.getpid()
    task_pid = os.fork()
    if task_pid == 0:  # the task process
        try:
            os.close(control_read)
            os.close(status_write)
            die_with_parent(guardian)
            name_process("tw-task")
            os.setpgid(0, 0)
            task_main(log_write, result_write)
        finally:
            os._exit(1)
    os.close(log_write)
    os.close(result_write)
    watch = TryWatch(task_pid, control_read, orphan_grace=orphan_grace, reap=_reaped_among_children)
    signal.signal(signal.SIGTERM, lambda signum, frame: watch.stop(orphan_grace))
    status = watch.wait_for_task()
    say(status_write, f"exit {os.waitstatus_to_exitcode(status)}\n")

    def stuck(pids: list[int]) -> None:
        say(status_write, f"stuck {' '.join(map(str, pids))}\n")

    say(status_write, f"leftovers {kill_descendants(watch.leftover_grace(leftover_grace), on_stuck=stuck)}\n")
    return 0


def _reaped_among_children(task_pid: int) -> int | None:
    """Reap every ended child (orphans of the try the guardian adopted among them); the task
    process's wait status once it is among them."""
    for pid, status in reap_children()[0]:
        if pid == task_pid:
            return status
    return None


class TryWatch:
    """A guardian's loop while the task process runs: the worker's commands on the control pipe,
    the deadline they set, the task process's end. ``reap(task_pid)`` returns the task process's
    wait status once it has ended (and reaps it), else None; ``close_control`` closes the control
    pipe once the worker's end of it closed. ``pidfd``: one of the task process the caller owns
    (else the watch opens, and closes, its own)."""

    def __init__(
        self,
        task_pid: int,
        control_fd: int,
        *,
        orphan_grace: float,
        reap: Callable[[int], int | None],
        close_control: Callable[[int], None] = os.close,
        pidfd: int | None = None,
    ) -> None:
        self.task_pid = task_pid
        self.control_fd: int | None = control_fd
        self.orphan_grace = orphan_grace
        self.deadline: float | None = None
        self.killed = False
        self._reap = reap
        self._close_control = close_control
        self._own_pidfd = pidfd is None
        self._pidfd = open_pidfd(task_pid) if pidfd is None else pidfd

    def wait_for_task(self) -> int:
        """Watch until the task process has ended; its wait status."""
        try:
            while True:
                status = self._reap(self.task_pid)
                if status is not None:
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
        finally:
            if self._own_pidfd and self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None

    def leftover_grace(self, leftover_grace: float) -> float:
        """How long what the task left behind has after a SIGTERM: none once the try was killed,
        and never past the deadline a stop set."""
        return 0.0 if self.killed else min(leftover_grace, self.remaining())

    def _command(self) -> None:
        assert self.control_fd is not None
        data = os.read(self.control_fd, 4096)
        if not data:  # the worker process died: stop the try before anyone retries it
            self._close_control(self.control_fd)
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
            signal_task(self.task_pid, signal.SIGTERM)
        if self.deadline is None or deadline < self.deadline:
            self.deadline = deadline

    def kill(self) -> None:
        self.killed = True
        self.deadline = time.monotonic()
        signal_task(self.task_pid, signal.SIGKILL)

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - time.monotonic())


def open_pidfd(pid: int) -> int | None:
    """A pidfd of ``pid`` (readable once it has ended), or None on a kernel without them (poll)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def signal_task(pid: int, sig: int) -> None:
    """Signal the task process's group (itself and what it started without a group of its own, as
    Airflow's task runner does); the rest of the try's tree is stopped once the task process ended."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def say(fd: int, line: str) -> None:
    """Write a status line for the worker (a worker already gone is no error)."""
    try:
        os.write(fd, line.encode())
    except OSError:
        pass  # the worker is gone; the try's processes are stopped all the same
