"""A try guarded by a thread of the process that forked it: how a worker's fork server runs each
try in one process of its own instead of two (a guardian and a task process).

    worker (child subreaper) ── fork server (own session, child subreaper, a guard thread a try)
                                    └── task process (own session, child subreaper) ── commands …

The guard thread keeps the promises of a guardian process (``guardian.py``) from the task process's
parent:

- The task process starts a session of its own, so a signal to the worker's session or process
  group does not reach it, and becomes a child subreaper, so every orphan of what it runs (a
  command BashOperator started in its own session, a daemon that double-forked) becomes its child
  while it runs. It dies with the fork server (``PR_SET_PDEATHSIG``).
- It is forked before its try is asked for, and runs nothing of a try until the worker's ``go``
  reaches it on a pipe of its own; the guard hears the go on the control pipe. If the control pipe
  closes first, the guard SIGKILLs the waiting task process and says nothing; if the task process
  ends first, the guard reports its end as after any try.
- While the try runs, the guard carries out the worker's ``terminate`` and ``kill`` and the deadline
  they set (``guardian.TryWatch``); when the worker process dies, the control pipe closes and the
  guard stops the try within ``orphan_grace`` seconds.
- Once the task process ended, however it ended, the guard reaps it and reports its exit status.
  What it left behind was re-parented to the fork server, a child subreaper too, and an orphan the
  fork server adopted can only come from a task process that ended (a running one adopts its own).
  So the guard gives every adopted process ``leftover_grace`` seconds after a SIGTERM, SIGKILLs the
  rest, and says ``leftovers`` only once the fork server has no adopted process left, as a guardian
  process does once it has no child left. The worker writes the try's end only after that word, so
  no other try of the task instance starts beside a survivor. Orphans of two tries that ended
  together are not told apart: each guard waits until neither is left (so a leftover that even
  SIGKILL cannot end, stuck in the kernel, holds back the end of the tries that end in the
  ``process_tree.STUCK_AFTER_S`` seconds before it is found stuck, each reporting it as stuck, but
  not a try whose task process is seen alive after that, a second at most later). An orphan that
  ends while its try runs stays a zombie child of the task process until the try's end: the task
  process cannot tell it from a child of its own that its code has yet to wait for.

A process's own children are not adopted: those in ``guardian.OWN_CHILDREN`` (a fork server's task
processes, recorded at the fork and forgotten when reaped, both under the lock forks take, so a pid
the kernel hands out again is never mistaken for another process; a worker's fork servers) and
those in its own session (a child trying a DAG file, or one a DAG file's import started).

When the fork server itself dies (SIGKILLed, or given up by its worker as stuck), the tries it
runs end with it: their task processes die with it, and the worker, a child subreaper as well,
inherits what they started. It sees their status pipes close without a word, stops every process
it adopted (``stop_what_a_lost_guard_left``) and only then ends the tries, as crashed tries,
retried by their retries. What no process can survive is a SIGKILL of the worker and its fork
server together: a command that started its own session would then live on. Nor can the worker's
SIGKILL end a fork server whose main thread is stuck in the kernel (a DAG file on a mount that
hangs): the process cannot finish exiting, its guards are gone, and the task processes of its
tries run on, unguarded, until it does.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from tradewind.worker.guardian import (
    OWN_CHILDREN,
    TASK_SIGNALS,
    GuardedTry,
    TryWatch,
    close_now,
    fork_with_try_pipes,
    forking,
    keep_from_children,
    open_pidfd,
    pipes_held,
    reaped_own_child,
    say,
    signal_task,
    wait_readable,
)
from tradewind.worker.process_tree import (
    STUCK_AFTER_S,
    become_subreaper,
    descendants,
    die_with_parent,
    name_process,
    parent_map,
    signal_all,
)

logger = logging.getLogger(__name__)

#: How often a guard looks again while what a task left behind is given its grace.
_POLL_S = 0.02
#: How often a guard waiting for the worker's go checks that the task process is still there, on a
#: kernel without pidfds.
_GO_POLL_S = 0.05
#: How long a guard whose look at what was left behind failed (out of descriptors, say) waits
#: before it looks again: it never says the try is over without having looked.
_RETRY_S = 1.0
#: How long a worker waits for a fork server whose guard went silent to finish dying (its children
#: are re-parented as it does), before it looks for what they left.
_LOST_GUARD_WAIT_S = 5.0

#: The guard threads started here, those still running among them.
_GUARDS: set[threading.Thread] = set()
#: Whether this process adopts orphans (``adopt_orphans``): only then are adopted ones its to stop.
_ADOPTING = False
#: Adopted processes SIGKILL did not end in ``STUCK_AFTER_S`` (stuck in the kernel), and when they
#: were found so (monotonic; under ``guardian.pipes_held``).
_STUCK: dict[int, float] = {}


def _forget_after_fork() -> None:
    """In a process just forked: it adopts nothing (until it says so) and guards no try."""
    global _ADOPTING
    _ADOPTING = False
    _GUARDS.clear()
    _STUCK.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def adopt_orphans() -> None:
    """Make this process a child subreaper (the fork server, the worker): orphans of its children's
    trees become its children, which ``stop_adopted`` stops."""
    global _ADOPTING
    _ADOPTING = become_subreaper()


def start_thread_guarded_early(
    task_main: Callable[[int, int, Callable[[], bool]], None], *, orphan_grace: float, leftover_grace: float
) -> GuardedTry:
    """Fork the task process, running ``task_main(log_fd, result_fd, go)`` (it must not return),
    and start its guard thread. ``task_main`` may prepare what needs nothing of the try, and must
    call ``go()`` before it runs anything of it: ``go()`` waits for the worker's ``GuardedTry.go``
    and returns True, or returns False when the worker's ends closed first (the try is not to
    start; the guard then SIGKILLs the task process). Raises OSError when the process or its thread
    cannot be started (nothing of the try is left then)."""
    parent = os.getpid()
    forked_at = time.monotonic()
    with forking():
        made = fork_with_try_pipes(3)  # control, status, and the task process's go
        pid = made.pop()
        log_read, log_write, result_read, result_write, control_read, control_write, *rest = made
        status_read, status_write, go_read, go_write = rest
        worker_ends = (log_read, result_read, control_write, status_read, go_write)
        if pid == 0:
            _task_child(task_main, parent, (*worker_ends, control_read, status_write), log_write, result_write, go_read)
        for fd in (log_write, result_write, go_read):
            os.close(fd)
        OWN_CHILDREN.add(pid)
        # The guard's ends, like the worker's, are held by no other process: a task process forked
        # later holding a status pipe would keep its end of file from the worker. (Opened before
        # any other thread can reap the task process: only its guard does.)
        pidfd = open_pidfd(pid)
        keep_from_children((*worker_ends, control_read, status_write, *([pidfd] if pidfd is not None else [])))
    guarded = GuardedTry(
        pid=pid,
        log_fd=log_read,
        result_fd=result_read,
        status_fd=status_read,
        control_fd=control_write,
        go_fd=go_write,
        own_child=False,
        guard_pid=parent,
    )
    guard = threading.Thread(
        target=_guard,
        args=(pid, pidfd, control_read, status_write, orphan_grace, leftover_grace, forked_at),
        name=f"tw-guard-{pid}",
        daemon=True,
    )
    try:
        guard.start()
    except RuntimeError as exc:  # no thread to be had: nothing of the try may be left
        signal_task(pid, signal.SIGKILL)
        _reap_now(pid)
        for fd in (control_read, status_write, *([pidfd] if pidfd is not None else [])):
            close_now(fd)
        guarded.close()
        raise OSError(f"the try's guard thread could not be started: {exc}") from None
    _GUARDS.difference_update([thread for thread in _GUARDS if not thread.is_alive()])
    _GUARDS.add(guard)
    os.set_blocking(status_read, False)
    return guarded


def wait_for_guards() -> None:
    """Wait until every try guarded here is over (a try stops once its worker is gone)."""
    for guard in list(_GUARDS):
        guard.join()


def stop_what_a_lost_guard_left(guard_pid: int, since: float) -> int:
    """In a worker, for a try whose guard went silent (its status pipe closed without the word that
    nothing of the try is left, at ``since``, monotonic): once the fork server ``guard_pid`` has
    ended, stop every process it left to this worker. Returns how many were found."""
    deadline = time.monotonic() + _LOST_GUARD_WAIT_S
    while time.monotonic() < deadline:
        try:
            # Ended (a zombie, not reaped here: WNOWAIT), its children re-parented already.
            if os.waitid(os.P_PID, guard_pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
        except ChildProcessError:
            break  # reaped already, so re-parented already
        time.sleep(0.01)

    def stuck(pids: list[int]) -> None:
        logger.warning("processes a dead fork server left do not end after SIGKILL: %s", pids)

    return stop_adopted_whatever_it_takes(0.0, stuck, since=since)


def _task_child(
    task_main: Callable[[int, int, Callable[[], bool]], None],
    parent: int,
    closing: tuple[int, ...],
    log_write: int,
    result_write: int,
    go_read: int,
) -> None:
    """The task process from the fork on; never returns."""
    try:
        for fd in closing:  # the other tries' pipes were closed at the fork
            os.close(fd)
        for sig in TASK_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        become_subreaper()
        die_with_parent(parent)
        name_process("tw-task")
        task_main(log_write, result_write, lambda: _go_said_to_task(go_read))
    finally:
        os._exit(1)


def _go_said_to_task(go_read: int) -> bool:
    """In a task process started early: wait for the worker's go (False: its end closed first)."""
    while True:
        try:
            byte = os.read(go_read, 1)
        except InterruptedError:
            continue
        os.close(go_read)
        return byte == b"g"


def _guard(
    task_pid: int,
    pidfd: int | None,
    control_read: int,
    status_write: int,
    orphan_grace: float,
    leftover_grace: float,
    alive_at: float,
) -> None:
    """A try's guard thread: from the fork of its task process (at ``alive_at``, monotonic) until
    nothing of the try is left."""
    control: int | None = control_read
    reaped = False

    def close_control(fd: int) -> None:
        nonlocal control
        close_now(fd)
        control = None

    def seen_alive(at: float) -> None:
        nonlocal alive_at
        alive_at = at

    def reap(pid: int) -> int | None:
        nonlocal reaped, alive_at
        now = time.monotonic()
        status = reaped_own_child(pid)
        reaped = status is not None
        if not reaped:
            alive_at = now
        return status

    try:
        try:
            said = _go_said(control_read, task_pid, pidfd, seen_alive)
            if said is False:  # the try is not to start: stop what was made ready, say nothing
                signal_task(task_pid, signal.SIGKILL)
                _reap_now(task_pid)
                return
            # (None: the task process ended before any go; the watch reports how, and that it is gone.)
            watch = TryWatch(
                task_pid, control_read, orphan_grace=orphan_grace, reap=reap, close_control=close_control, pidfd=pidfd
            )
            status = watch.wait_for_task()
            say(status_write, f"exit {os.waitstatus_to_exitcode(status)}\n")
            grace = watch.leftover_grace(leftover_grace)
        except Exception:  # noqa: BLE001 - never leave a try's process unguarded
            logger.exception("the guard of task process %s failed; killing the try", task_pid)
            if not reaped:  # (once reaped, its pid may be another process's)
                signal_task(task_pid, signal.SIGKILL)
                _reap_now(task_pid)
            grace = 0.0

        def stuck(pids: list[int]) -> None:
            say(status_write, f"stuck {' '.join(map(str, pids))}\n")

        say(status_write, f"leftovers {stop_adopted_whatever_it_takes(grace, stuck, since=alive_at)}\n")
    finally:
        for fd in (control, status_write, pidfd):
            if fd is not None:
                close_now(fd)


def stop_adopted_whatever_it_takes(
    grace: float = 0.0, on_stuck: Callable[[list[int]], None] | None = None, *, since: float = float("inf")
) -> int:
    """``stop_adopted``, tried again until it could look: a try is never said to be over without a
    look at what it left."""
    while True:
        try:
            return stop_adopted(grace, on_stuck=on_stuck, since=since)
        except Exception:  # noqa: BLE001 - out of descriptors, say: the try stays live meanwhile
            logger.exception("stopping what a task left behind failed; looking again")
            time.sleep(_RETRY_S)


def _go_said(control_read: int, task_pid: int, pidfd: int | None, seen_alive: Callable[[float], None]) -> bool | None:
    """Wait for the worker's ``go`` on the control pipe: True once it came, False if anything else
    comes first (the pipe closed), None if the task process ends first (it is left to be reaped).
    ``seen_alive(monotonic)`` hears each time the task process was seen still there."""
    line = b""
    while not line.endswith(b"\n"):
        seen_alive(time.monotonic())
        watched = [control_read] if pidfd is None else [control_read, pidfd]
        ready = wait_readable(watched, 1.0 if pidfd is not None else _GO_POLL_S)
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


def _reap_now(task_pid: int) -> None:
    """Wait for the SIGKILLed task process's end and reap it."""
    while reaped_own_child(task_pid) is None:
        time.sleep(0.005)


def stop_adopted(
    grace: float = 0.0, on_stuck: Callable[[list[int]], None] | None = None, *, since: float = float("inf")
) -> int:
    """Stop every process this child subreaper adopted, and everything below them: SIGTERM first
    when ``grace`` > 0, SIGKILL to whatever is left after ``grace`` seconds. Returns how many
    processes were found, once none is left (adopted ones reaped): a process SIGKILL cannot end
    keeps it waiting, and is passed to ``on_stuck`` once, after ``process_tree.STUCK_AFTER_S``.
    One already found stuck before ``since`` (monotonic: when the caller's task process was last
    seen alive, so before anything of its try was adopted) belongs to another try, and does not
    keep this one waiting. Nothing in a process that does not adopt orphans (``adopt_orphans``)."""
    if not _ADOPTING:
        return 0
    found: set[int] = set()
    if not _signal_adopted(None, found, since):
        return 0  # the usual case: no task left anything behind, and /proc need not be scanned
    if grace > 0:
        _signal_adopted(signal.SIGTERM, found, since)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _signal_adopted(None, found, since):
                return len(found)
            time.sleep(_POLL_S)
    stuck_at: float | None = time.monotonic() + STUCK_AFTER_S
    while True:
        # Children of a killed process are re-parented here and show up on the next look.
        victims = _signal_adopted(signal.SIGKILL, found, since)
        if not victims:
            return len(found)
        if stuck_at is not None and time.monotonic() > stuck_at:
            stuck_at = None
            with pipes_held():
                # Only adopted ones: their pids are nobody else's until they are reaped here.
                for pid in set(victims) & set(_children()):
                    _STUCK.setdefault(pid, time.monotonic())
            if on_stuck is not None:
                on_stuck(victims)
        time.sleep(_POLL_S if stuck_at is not None else 1.0)


def _signal_adopted(sig: int | None, found: set[int], since: float) -> list[int]:
    """Reap the adopted processes that ended; send ``sig`` (None: none) to the living ones and
    everything below them, and return those (``found`` gains them) but the ones found stuck before
    ``since``; empty only when no other is left. Under the lock forks take, so no adopted pid is
    reaped by another guard, and no process of this one's own is forked, in between."""
    session = os.getsid(0)
    with pipes_held():
        while True:
            adopted: list[int] = []
            reaped_any = False
            for pid in _children():
                if pid in OWN_CHILDREN:
                    continue
                state = _adopted_state(pid, session)
                if state == "ended":
                    reaped_any = True
                elif state == "living":
                    adopted.append(pid)
            # A process that ended handed its children to this one as it did: look again for them.
            if adopted or not reaped_any:
                break
        # One found stuck before ``since`` is another try's, and so is everything below it.
        stuck_before = [pid for pid in adopted if _STUCK.get(pid, since) < since]
        adopted = [pid for pid in adopted if pid not in stuck_before]
        if sig is not None and stuck_before:
            signal_all(stuck_before, sig)
        if not adopted:
            return []
        victims = adopted
        if sig is not None:
            parents = parent_map()
            victims = adopted + [pid for root in adopted for pid in descendants(root, parents)]
            signal_all(victims, sig)
        found.update(victims)
        return victims


def _adopted_state(pid: int, session: int) -> str:
    """``living`` or ``ended`` (and reaped now) for an orphan this process adopted; ``own`` for a
    child in its own session, ``gone`` for one that is no longer there."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    fields = stat[stat.rindex(b")") + 2 :].split()
    if int(fields[3]) == session:
        # A child trying a DAG file, or a command a DAG file's import started: its own code waits
        # for it (reaping it here would take its exit status from that code).
        return "own"
    if fields[0] != b"Z":
        return "living"
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    _STUCK.pop(pid, None)
    return "ended"


def _children() -> list[int]:
    """This process's children, whichever of its threads forked or adopted them, ended ones too.
    Read until two readings agree: a child reaped while the kernel lists them (by code that does
    not take the pipes lock: a DAG file's import running a command) can hide another."""
    me = os.getpid()
    if not os.path.exists(f"/proc/{me}/task/{me}/children"):
        # A kernel without those files: the whole of /proc, ended children too.
        return sorted(pid for pid, parent in parent_map(ended=True).items() if parent == me)
    last = _children_once(me)
    while (again := _children_once(me)) != last:
        last = again
    return last


def _children_once(me: int) -> list[int]:
    children: list[int] = []
    for thread in os.listdir(f"/proc/{me}/task"):
        try:
            with open(f"/proc/{me}/task/{thread}/children") as handle:
                children.extend(int(pid) for pid in handle.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between the listing and the read
    return sorted(children)
