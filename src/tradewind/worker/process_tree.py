"""Linux process-tree tools for keeping a try's processes together: the ``prctl`` flags that tie a
process to its parent, a reading of ``/proc`` that finds every descendant of a process, and
``kill_descendants``, which leaves a child subreaper with no descendants at all.

A try's guardian process (``guardian.py``) is a child subreaper: every orphan in the try's tree —
a daemon that double-forked, a command started in its own session — is re-parented to it rather
than to init. So "the guardian has no children left" means "no process of the try is left". A
fork server's task processes and the fork server itself are child subreapers too
(``thread_guard.py``).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36

#: How often ``kill_descendants`` looks again while waiting for a process that ignored SIGTERM.
_POLL_S = 0.02
#: After this long, processes that SIGKILL did not end (another user's, or stuck in the kernel) are
#: reported, and looked at once a second from then on.
STUCK_AFTER_S = 10.0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _prctl(option: int, value: int | bytes) -> bool:
    libc = _libc()
    try:
        return libc is not None and int(libc.prctl(option, value, 0, 0, 0)) == 0
    except AttributeError:
        return False


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (and exit now if the parent
    ``parent`` already died before the request took effect)."""
    if _prctl(_PR_SET_PDEATHSIG, int(sig)) and os.getppid() != parent:
        os._exit(1)


def name_process(name: str) -> bool:
    """Name this process as ``top``, ``ps -e`` and ``/proc/<pid>/comm`` show it (15 bytes at most),
    so a worker's fork server, a try's task process (and guardian, in a worker without a fork
    server) can be told apart."""
    return _prctl(_PR_SET_NAME, name.encode()[:15])


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children instead of init's (Linux 3.4+)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def parent_map(proc: str = "/proc", *, ended: bool = False) -> dict[int, int]:
    """pid -> parent pid of every living process visible in ``proc`` (zombies are only waiting to be
    reaped, and have no children: their children were re-parented when they died); with ``ended``,
    of the zombies too."""
    parents: dict[int, int] = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # gone between the listing and the read
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        fields = stat[stat.rindex(b")") + 2 :].split()
        if ended or fields[0] != b"Z":
            parents[int(name)] = int(fields[1])
    return parents


def descendants(root: int, parents: Mapping[int, int]) -> list[int]:
    """Every process below ``root`` in ``parents`` (pid -> parent pid), parents before children."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    frontier = sorted(children.get(root, []))
    while frontier:
        found.extend(frontier)
        frontier = sorted(child for pid in frontier for child in children.get(pid, []) if child != root)
    return found


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def reap_children() -> tuple[list[tuple[int, int]], bool]:
    """Reap every child that has exited; returns (pid, wait status) of each and whether any child is
    left (alive or not yet reaped)."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped, False
        if pid == 0:
            return reaped, True
        reaped.append((pid, status))


def kill_descendants(grace: float = 0.0, on_stuck: Callable[[list[int]], None] | None = None) -> int:
    """Stop every descendant of this process (a child subreaper) and reap them all: SIGTERM first
    when ``grace`` > 0, SIGKILL to whatever is left after ``grace`` seconds. Returns how many
    processes were found. Returns only when this process has no children left: a process SIGKILL
    cannot end keeps it waiting, and is passed to ``on_stuck`` once, after ``STUCK_AFTER_S``."""
    me = os.getpid()
    found: set[int] = set()
    if not reap_children()[1]:
        return 0  # the usual case: the task left nothing behind, and /proc need not be read
    if grace > 0:
        victims = descendants(me, parent_map())
        found.update(victims)
        signal_all(victims, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not reap_children()[1]:
                return len(found)
            time.sleep(_POLL_S)
    stuck_at: float | None = time.monotonic() + STUCK_AFTER_S
    while True:
        _, left = reap_children()
        if not left:
            return len(found)
        # Children of a killed process are re-parented here and show up on the next reading.
        victims = descendants(me, parent_map())
        found.update(victims)
        signal_all(victims, signal.SIGKILL)
        if stuck_at is not None and time.monotonic() > stuck_at:
            stuck_at = None
            if on_stuck is not None:
                on_stuck(victims)
        time.sleep(_POLL_S if stuck_at is not None else 1.0)
