"""The worker's fork server: the small process every try's task process is forked from, and
whose threads guard them.

    worker (threads: Celery, slots, heartbeats) ── socket ── fork server ── task process

Forking the worker itself for each try is costly where it hurts: the worker is large and busy, so
after every fork the kernel must copy each page the worker then writes to (thousands per try),
and the fork copies the page tables of all of it. The fork server is forked from the worker once,
as it starts — before Celery builds its consumer, its pool's threads and its connections — so it
shares those pages with the worker, stays idle between requests (it writes almost nothing, so
forking it leaves almost nothing to copy), and forks only from its main thread.

It is forked before the worker imports SQLAlchemy, Celery and kombu, and imports none of them
itself: a try's task process asks its worker for what it reads and writes of the metastore
(variables, connections, XCom pulls: ``try_services.py``), so the fork server holds only what a
task needs — about half the memory it would otherwise, and each try's fork copies and tears down
that much less. (A DAG file that imports SQLAlchemy, or reads a variable as it is imported, brings
it in; a fork server started again after one died is forked from the worker as it is then.)

A slot asks for a try by sending what the task's process needs (``TrySpec``: the DAG file and the
version of it the slot tried in a child, the task instance, the run; no live objects). The fork
server loads the task from the DAG file (its own ``DagLoader``, once per file version, with
``dagbag_import_timeout``; a version the slot did not try, and after a fork server died every
version, it tries in a child first, so a file that crashes its importer does not take it down),
hands the spec to a task process guarded by a thread of its own (``thread_guard.py``: one process
per try), and sends back the task process's pid, the worker's ends of the try's pipes
(``SCM_RIGHTS``, keeping none of them) and what the worker needs of the task (``task_facts.py``).
From there the worker supervises the try as before: reads its log and reports, stops it through
the control pipe, and learns from the status pipe how the task process ended and that nothing of
the try is left. The fork server is in a session of its own and a child subreaper, so what a task
process leaves behind becomes the fork server's to stop, and a signal to the worker's session or
group does not reach it: when the worker dies, the guards see the control pipes close and stop
the tries, and the fork server exits once they are over.

The next try's task process is forked as soon as a try has been handed on, before anyone asks
for it (``_ReadyTry``): it waits for the spec and for the worker's go, so a try starts a fork
sooner, and a chain of tasks runs that much faster. It is used once, for one try, like any other;
it is given up, and a try's process forked on the spot, when a DAG file was loaded since it was
forked (it would not hold it), when the try asks for other graces, and when the task process ended
while it waited (the next one is then made only once another try is asked for) or does not take
its try. The worker's ``go`` still comes only once it holds the try's pipes, and a guard whose
control pipe closes first (the fork server gave the process up) SIGKILLs its task process, which
has run nothing of a try. So when the fork server cannot answer, the try being started is simply
asked of a new one (forked from the worker then, which is larger). When the fork server itself dies
(SIGKILLed, or given up by the worker as stuck), the tries it runs end with it, as crashed tries,
retried by their retries, once the worker has stopped what they started (``thread_guard.py``).
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import select
import signal
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tradewind.errors import DagFileImportError, DagNotFound, TaskNotFound
from tradewind.sdk import runtime_services
from tradewind.settings import Settings
from tradewind.task_services import MetastoreServices
from tradewind.ti_key import TIKey
from tradewind.worker.dag_loader import DagLoader, Trials
from tradewind.worker.guardian import (
    OWN_CHILDREN,
    GuardedTry,
    close_in_children,
    close_now,
    fork_keeping,
    reaped_own_child,
    receive_try_pipes,
    wait_readable,
)
from tradewind.worker.process_tree import name_process
from tradewind.worker.task_facts import TaskFacts
from tradewind.worker.task_process import ResultChannel, TryRequest, child_main
from tradewind.worker.thread_guard import (
    adopt_orphans,
    start_thread_guarded_early,
    stop_adopted_whatever_it_takes,
    wait_for_guards,
)
from tradewind.worker.try_services import WorkerServices

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
#: The pipes sent with each started try: log, result, the guard's status, control, the task's go.
_PIPES_PER_TRY = 5
#: How often an idle fork server checks its worker is alive and the next try's process is ready.
_IDLE_WAKE_S = 1.0
#: How long the worker waits for an answer beyond the time a DAG file may take to import.
_ANSWER_SLACK_S = 30.0
#: How long ``close`` waits for the fork server to exit (it stays while a try it started runs).
_CLOSE_WAIT_S = 10.0
#: How long a fork server whose end closed is given to be seen gone (its socket closes as it
#: exits, a moment before it can be reaped) before it is taken for one that goes on.
_DYING_WAIT_S = 0.5
#: How long handing a spec larger than a pipe holds to a try's task process may take in all (one
#: just forked may still be starting; one that ended fails at once): well within the worker's
#: ``_ANSWER_SLACK_S``.
_SPEC_WRITE_S = 10.0


class _NoAnswer(OSError):
    """The fork server did not answer in time: stuck (stopped, or hung in an import)."""


class ForkServerError(Exception):
    """The fork server could not start the try; the message says why (for the try's log)."""


class TaskNotLoadable(ForkServerError):
    """The try's task could not be loaded from its DAG file (gone, broken, or without the task):
    the message is the reason. Nothing of the try was started."""


@dataclass
class TrySpec:
    """What the fork server needs to start one try (everything but live objects)."""

    fileloc: str
    key: TIKey
    #: The try's request with ``task`` left out (the fork server loads its own).
    request: TryRequest
    orphan_grace: float
    leftover_grace: float
    #: The content hash of the DAG file's version the worker tried in a child (``DagLoader.check``):
    #: the fork server imports that version straight away, and tries any other one first.
    tried: str | None = None


class ForkServer:
    """The worker's side: starts the fork server and asks it for tries, from any thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.owner = os.getpid()
        self.pid = 0
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._answer_within = float(settings.dagbag_import_timeout or 30.0) + _ANSWER_SLACK_S
        #: The next fork server replaces one that failed: it tries every DAG file version it imports.
        self._replacing = False
        #: Fork servers given up on that still finish the tries they run (reaped once they exit).
        self._retired: list[int] = []

    def start(self) -> None:
        """Fork the fork server (again, if it died); call from the worker."""
        self._retired = [pid for pid in self._retired if reaped_own_child(pid) is None]
        # Whatever exists now is out of both collectors' reach: a collection walks (and so writes
        # to) every object it tracks, which would copy each page the two processes share.
        gc.freeze()
        worker_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        server_fd = server_end.detach()
        try:
            pid = fork_keeping(worker_end.fileno(), close_in_parent=server_fd)
        except OSError:
            os.close(server_fd)
            worker_end.close()
            raise
        if pid == 0:  # the fork server
            code = 1
            try:
                worker_end.close()
                code = serve(socket.socket(fileno=server_fd), self.settings, replacement=self._replacing)
            except BaseException:  # noqa: BLE001 - said on stderr; the worker starts another
                traceback.print_exc()
            finally:
                os._exit(code)
        self._sock, self.pid = worker_end, pid
        logger.debug("fork server started (pid %s)", pid)

    def start_try(self, spec: TrySpec) -> tuple[GuardedTry, TaskFacts]:
        """Have the fork server hand the try to a task process it guards: that, and the facts of
        the task as the fork server loaded it. Raises ``TaskNotLoadable`` when the task cannot be
        loaded, ``ForkServerError`` when the try cannot be started otherwise (no fork server answers).

        The task process runs the try only on the worker's ``GuardedTry.go``: so the caller may
        check first that the try is still its to run (the answer may have taken a while), and when
        a fork server dies before its answer arrives nothing of the try ran, and the try is asked
        of a new fork server once more."""
        payload = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            for attempt in (1, 2):
                try:
                    sock = self._connected()
                    sock.sendall(_HEADER.pack(len(payload)) + payload)
                    answer, fds = self._answer(sock)
                    break
                except (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
                    self._lost(str(exc), stuck=isinstance(exc, _NoAnswer))
                    if attempt == 2:
                        raise ForkServerError(f"the worker's fork server could not start the try: {exc}") from None
        if "unloadable" in answer:
            raise TaskNotLoadable(str(answer["unloadable"]))
        if "error" in answer:
            raise ForkServerError(str(answer["error"]))
        log_fd, result_fd, status_fd, control_fd, go_fd = fds
        os.set_blocking(status_fd, False)
        guarded = GuardedTry(
            pid=int(answer["pid"]),
            log_fd=log_fd,
            result_fd=result_fd,
            status_fd=status_fd,
            control_fd=control_fd,
            go_fd=go_fd,
            own_child=False,
            guard_pid=self.pid,
        )
        return guarded, answer["facts"]

    def close(self) -> None:
        """Stop the fork server: it exits once its socket is closed and the tries it runs are over
        (waited for here at most ``_CLOSE_WAIT_S``; tries already started go on to their end, or
        until this worker is gone)."""
        with self._lock:
            if self._sock is not None:
                self._drop_socket()
                self._reap(_CLOSE_WAIT_S)
        self._retired = [pid for pid in self._retired if reaped_own_child(pid) is None]

    def _connected(self) -> socket.socket:
        if self._sock is None:
            self.start()
        assert self._sock is not None
        return self._sock

    def _answer(self, sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
        if not wait_readable([sock.fileno()], self._answer_within):
            raise _NoAnswer(f"no answer in {self._answer_within:g} s")
        data, fds = receive_try_pipes(sock, 65536, _PIPES_PER_TRY)
        try:
            if not data:
                raise EOFError("it exited")
            while len(data) < _HEADER.size or len(data) < _HEADER.size + _HEADER.unpack_from(data)[0]:
                if not wait_readable([sock.fileno()], self._answer_within):
                    raise _NoAnswer("its answer was cut short")
                more = sock.recv(65536)
                if not more:
                    raise EOFError("it exited while answering")
                data += more
            answer = pickle.loads(data[_HEADER.size :])
            if "pid" in answer and len(fds) != _PIPES_PER_TRY:
                raise ValueError(f"it sent {len(fds)} pipes instead of {_PIPES_PER_TRY}")
        except BaseException:
            _close_all(fds)
            raise
        return answer, fds

    def _lost(self, why: str, *, stuck: bool = False) -> None:
        """The fork server failed (or could not be started); the next try starts another. One that
        is ``stuck`` (no answer in time) is SIGKILLed, which ends the tries it runs (the worker
        stops what they started before their ends are written); one that merely closed its end, or
        answered nonsense, is left to finish them (its guard threads go on whatever its main thread
        does) and exits once they are over. So is one that a SIGKILL does not end in time (its main
        thread stuck in the kernel), rather than holding every slot's next start."""
        logger.error("the worker's fork server (pid %s) failed: %s; starting another for the next try", self.pid, why)
        # What took it down may be a DAG file its import met after the worker's trial passed (the
        # file changed in between, or behaves differently now): the next one tries each file first.
        self._replacing = True
        if self._sock is None:
            return  # it was never started, or is gone already
        self._drop_socket()
        if stuck:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap(_CLOSE_WAIT_S if stuck else _DYING_WAIT_S)
        if self.pid in OWN_CHILDREN:  # alive: retired, reaped once it has seen its tries over
            self._retired.append(self.pid)
            return
        # It is gone: its task processes died with it and were this worker's to reap; what they
        # started is stopped before their tries end (``thread_guard.stop_what_a_lost_guard_left``),
        # and the process it had made ready, which no try waits for, is stopped here.
        stop_adopted_whatever_it_takes()

    def _drop_socket(self) -> None:
        sock = self._sock
        if sock is not None:
            close_now(sock.fileno(), sock.close)
            self._sock = None

    def _reap(self, within: float) -> None:
        """Reap the fork server once it has exited, waiting at most ``within`` seconds (one that goes
        on is left to finish the tries it runs, and stays in ``OWN_CHILDREN``)."""
        deadline = time.monotonic() + within
        while reaped_own_child(self.pid) is None:
            if time.monotonic() > deadline:
                logger.info("the fork server (pid %s) goes on until the tries it runs are over", self.pid)
                return
            time.sleep(0.01)


def serve(sock: socket.socket, settings: Settings, *, replacement: bool = False) -> int:
    """The fork server's loop: one request at a time until the worker closes the socket.
    ``replacement``: it replaces one that failed, and tries every DAG file version it imports."""
    # The worker decides about Ctrl+C and shutdowns, and the fork server ends once its worker is
    # gone and its tries are over; the task processes reset what they need.
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # A session of its own, out of reach of a signal to the worker's (``kill -9 -<pgid>``), and
    # every orphan of a try's processes its own to stop (``thread_guard.py``).
    os.setsid()
    adopt_orphans()
    close_in_children(sock.fileno())  # task processes never hold the socket
    name_process("tw-fork-server")
    # Only a DAG file that reads a variable as it is imported reaches the metastore from here (the
    # engine is made then); the tries ask the worker (``try_services.py``).
    services = MetastoreServices(settings)
    runtime_services.install(services)
    loader = DagLoader(
        dags_folder=settings.resolved_dags_folder,
        import_timeout=settings.dagbag_import_timeout,
        after_fork=services.drop_inherited_connections,
        trials=Trials.ALL if replacement else Trials.UNTRIED,
    )
    gc.freeze()
    ready: _ReadyTry | None = None
    #: The graces of the last request: those of the next try, made ready before it is asked for.
    graces: tuple[float, float] | None = None
    #: Making the next try ready failed (out of processes): not again until the next request.
    unready = False
    try:
        while True:
            if ready is not None and ready.gone():
                # Not again until the next request: a task process that keeps dying while it waits
                # (the OOM killer's pick) would otherwise be forked anew every second.
                logger.warning("the task process made ready for the next try ended first; the next try forks its own")
                ready.discard()
                ready, unready = None, True
            elif ready is not None and ready.imports != loader.imports:
                ready.discard()  # forked before a DAG file was loaded: it would not hold it
                ready = None
            if ready is None and graces is not None and not unready:
                ready = _make_ready_or_none(loader, services, graces)
                unready = ready is None
            if not wait_readable([sock.fileno()], _IDLE_WAKE_S):
                continue
            try:
                request = _read_request(sock)
            except (pickle.UnpicklingError, AttributeError, ValueError, TypeError) as exc:
                _send(sock, {"error": f"the worker's request could not be read: {exc}"}, [])
                continue
            if request is None:
                return 0  # the worker closed the socket, or died
            spec, unready = request, False
            graces = (spec.orphan_grace, spec.leftover_grace)
            try:
                spec, facts = _checked(spec, loader)
            except TaskNotLoadable as exc:
                _send(sock, {"unloadable": str(exc)}, [])
                continue
            body = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
            offered, ready = ready, None
            try:
                chosen = _hand_over(spec, body, offered, loader, services)
            except OSError as exc:  # out of processes or descriptors, for now: this try fails, not the server
                _send(sock, {"error": f"the try's processes could not be started: {exc}"}, [])
                continue
            guarded = chosen.guarded
            try:
                pipes = [guarded.log_fd, guarded.result_fd, guarded.status_fd, guarded.control_fd, guarded.go_fd]
                _send(sock, {"pid": guarded.pid, "facts": facts}, pipes)
            finally:
                guarded.close()  # the worker holds them now (or, gone, lets the guard stop the try)
    finally:
        if ready is not None:
            ready.discard()
        # The worker closed the socket, or is gone (then the guards stop its tries, whose control
        # pipes closed); a worker that finds the socket closed starts another fork server. Exiting
        # before the tries are over would kill their task processes.
        close_now(sock.fileno(), sock.close)
        wait_for_guards()


def _checked(spec: TrySpec, loader: DagLoader) -> tuple[TrySpec, TaskFacts]:
    """Load the spec's task in the fork server (once per DAG file version: every process forked
    from it afterwards holds it): the spec with the DAG file's path as the loader knows it, by
    which a process forked since finds the DAG (``DagLoader.cached_dag``), and the task's facts."""
    path = loader.path_of(spec.fileloc)
    try:
        task = loader.get_dag(path, spec.key.dag_id, tried=spec.tried).get_task(spec.key.task_id)
    except (DagFileImportError, DagNotFound, TaskNotFound) as exc:
        raise TaskNotLoadable(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever the file raised is the try's error
        logger.exception("loading %s from %s failed", spec.key, path)
        raise TaskNotLoadable("".join(traceback.format_exception_only(exc)).strip()) from None
    try:
        facts = TaskFacts.of(task)
    except Exception as exc:  # noqa: BLE001 - a task whose settings cannot be read cannot be supervised
        logger.exception("reading the settings of %s from %s failed", spec.key, path)
        why = "".join(traceback.format_exception_only(exc)).strip()
        raise TaskNotLoadable(f"the task's settings could not be read: {why}") from None
    return replace(spec, fileloc=path), facts


def _hand_over(
    spec: TrySpec, body: bytes, ready: _ReadyTry | None, loader: DagLoader, services: MetastoreServices
) -> _ReadyTry:
    """The task process that now holds ``spec`` (``body``, pickled): the one made ready, when it
    still can run it, else one forked on the spot. ``ready`` is used or given up either way, even when
    this raises."""
    deadline = time.monotonic() + _SPEC_WRITE_S
    if ready is not None and ready.fits(spec) and ready.usable(loader.imports):
        try:
            ready.give(body, deadline)
            return ready
        except OSError:
            pass  # its task process is gone after all (give discarded it): fork anew
    elif ready is not None:
        ready.discard()
    fresh = _make_ready(loader, services, (spec.orphan_grace, spec.leftover_grace))
    fresh.give(body, deadline)
    return fresh


@dataclass
class _ReadyTry:
    """A try's task process and its guard, forked before the try is asked for: the task process
    waits for the try's ``TrySpec`` on ``spec_fd`` (written once, then closed) and for the worker's
    go. It holds the fork server's DAG files as they were when it was forked."""

    guarded: GuardedTry
    spec_fd: int
    #: ``DagLoader.imports`` when it was forked.
    imports: int
    graces: tuple[float, float]

    def usable(self, imports: int) -> bool:
        """Whether its task process still waits and holds what the fork server holds: no DAG file
        was loaded since it was forked (``imports``), and it is not gone."""
        return self.imports == imports and not self.gone()

    def gone(self) -> bool:
        """Whether its task process ended while it waited: its guard says nothing on the status
        pipe before a go unless the task process ended (then it reports that, and closes it)."""
        return bool(wait_readable([self.guarded.status_fd], 0))

    def fits(self, spec: TrySpec) -> bool:
        """Whether it guards a try with the graces ``spec`` asks for."""
        return self.graces == (spec.orphan_grace, spec.leftover_grace)

    def give(self, body: bytes, deadline: float) -> None:
        """Hand the try's spec to the waiting task process; OSError (and the processes given up)
        when it is gone, or has not taken the spec by ``deadline`` (monotonic)."""
        message = _HEADER.pack(len(body)) + body
        try:
            while message:
                try:
                    message = message[os.write(self.spec_fd, message) :]
                except BlockingIOError:
                    self._wait_to_write(deadline)
        except OSError:
            self.discard()
            raise
        self._close_spec()

    def discard(self) -> None:
        """Give it up: its guard sees the control pipe close before any go, and stops it."""
        self._close_spec()
        self.guarded.close()

    def _wait_to_write(self, deadline: float) -> None:
        poller = select.poll()
        poller.register(self.spec_fd, select.POLLOUT)
        poller.register(self.guarded.status_fd, select.POLLIN)
        events = dict(poller.poll(max(0.0, deadline - time.monotonic()) * 1000))
        if self.guarded.status_fd in events:
            raise OSError("the try's task process ended before it took the try")
        if self.spec_fd not in events:
            raise OSError(f"the try's processes did not take the try in {_SPEC_WRITE_S:g} s")

    def _close_spec(self) -> None:
        if self.spec_fd >= 0:
            close_now(self.spec_fd)
            self.spec_fd = -1


def _make_ready(loader: DagLoader, services: MetastoreServices, graces: tuple[float, float]) -> _ReadyTry:
    spec_read, spec_write = os.pipe()
    close_in_children(spec_write)  # the spec's only writer is the fork server
    os.set_blocking(spec_write, False)
    try:
        guarded = start_thread_guarded_early(
            _waiting_task_main(loader, services, spec_read), orphan_grace=graces[0], leftover_grace=graces[1]
        )
    except BaseException:
        close_now(spec_write)
        raise
    finally:
        os.close(spec_read)
    return _ReadyTry(guarded, spec_write, loader.imports, graces)


def _make_ready_or_none(
    loader: DagLoader, services: MetastoreServices, graces: tuple[float, float]
) -> _ReadyTry | None:
    try:
        return _make_ready(loader, services, graces)
    except OSError as exc:  # out of processes for now: the next request forks its own
        logger.warning("could not make the next try ready ahead of time: %s", exc)
        return None


def _waiting_task_main(
    loader: DagLoader, services: MetastoreServices, spec_read: int
) -> Callable[[int, int, Callable[[], bool]], None]:
    def task_main(log_fd: int, result_fd: int, go: Callable[[], bool]) -> None:
        key: TIKey | None = None

        def the_try() -> TryRequest | None:
            # Called once the output goes to the try's log: what fails here is in the log.
            nonlocal key
            services.drop_inherited_connections(parent_single_threaded=True)
            body = _read_spec(spec_read)
            if body is None or not go():
                return None  # given up before it was asked for, or not to start
            spec = pickle.loads(body)
            key, request = spec.key, spec.request
            request.task = loader.cached_dag(spec.fileloc, key.dag_id).get_task(key.task_id)
            return request

        def reader_for(channel: ResultChannel) -> WorkerServices:
            assert key is not None
            return _ask_the_worker(services.settings, channel, key)

        child_main(the_try, log_fd, result_fd, reader_for)

    return task_main


def _read_spec(fd: int) -> bytes | None:
    """The spec the fork server writes to a waiting task process; None if it closed the pipe first."""
    with os.fdopen(fd, "rb", closefd=True) as pipe:
        header = pipe.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        size = _HEADER.unpack(header)[0]
        body = pipe.read(size)
        return body if len(body) == size else None


def _ask_the_worker(settings: Settings, channel: ResultChannel, key: TIKey) -> WorkerServices:
    """In the task's process: the runtime services and XCom reads, answered by the worker."""

    def own_services() -> tuple[Any, Any]:
        # In a process the task forked: its own connections (the socket is the task process's).
        from tradewind.worker.reporting import MetastoreXComBackend

        direct = MetastoreServices(settings)
        runtime_services.install(direct)
        return direct, MetastoreXComBackend(direct.session_factory(), key)

    services = WorkerServices(settings, channel, own_services)
    runtime_services.install(services)
    return services


def _read_request(sock: socket.socket) -> TrySpec | None:
    """The next request, or None once the worker's end is closed."""
    header = _read_exactly(sock, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(sock, _HEADER.unpack(header)[0])
    if body is None:
        return None
    spec = pickle.loads(body)
    if not isinstance(spec, TrySpec):
        raise TypeError(f"expected a TrySpec, got {type(spec).__name__}")
    return spec


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _send(sock: socket.socket, answer: dict[str, Any], fds: list[int]) -> None:
    payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    message = _HEADER.pack(len(payload)) + payload
    try:
        sent = socket.send_fds(sock, [message], fds)
        if sent < len(message):
            sock.sendall(message[sent:])
    except OSError:
        pass  # the worker is gone; the next read ends the loop


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        close_now(fd)
