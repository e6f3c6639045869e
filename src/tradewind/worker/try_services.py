"""What a task's process asks of its worker instead of the metastore: variables, connections, XCom
pulls, other DAGs' runs — every ``RuntimeServices`` call, and the XCom reads of ``ChildXComBackend``.

    task process ── result socket: {"call": [number, name, args, kwargs]} ──▶ worker (the try's supervisor)
                 ◀── length-prefixed pickle of (number, "ok" | "error", value or exception) ──

A task process forked from the worker's fork server opens no database connection for these and
needs no SQLAlchemy (which is half of the memory the fork server would hold otherwise, and so half
of what each try's fork copies and tears down; a DAG file that imports it, an SQL hook, still
does). The secrets backend and the environment are read in the task's process, as before; only
the metastore's part of a lookup is asked of the worker. The worker answers with its own services and
the try's own XCom reader, over the socket that already carries the task's reports to it
(``ResultChannel``), on a thread of the try's own (``CallAnswering``): a slow answer never holds up
the try's supervision, and once the try is being stopped nothing it asks to change is done.

What crosses the socket: a call is JSON (names, strings, numbers, lists, mappings and datetimes;
nothing the worker would have to trust to unpickle); an answer is a pickle the task's process
trusts, as it trusts its worker. Calls are numbered and each answer's header carries its call's
number. In the task's process a thread of its own reads the answers (``_AnswerReader``), and a
call waits for its number: Python runs signal handlers in the main thread only, so a time limit's
exception or a stop's ``on_kill`` can interrupt a waiting call at once, yet never the reading of
an answer half-way — the answer to a call given up on is dropped when it comes, and a handler that
asks in turn gets its own. An exception raised in the worker is raised in the task as it was
(``KeyError``, ``AirflowNotFoundException``...). A secret read this way is registered with the task
process's secrets masker as a direct read would have registered it, and not with the worker's.

A process the task forked in turn (``multiprocessing``, a fork of its own) shares the socket with
the task's process, so it does not ask over it: it reaches the metastore itself, as every process
did before.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from tradewind.secrets import lookup, masker
from tradewind.settings import Settings
from tradewind.worker.guardian import close_now, duplicate_privately

logger = logging.getLogger(__name__)

#: An answer's length, then the number of the call it answers.
_HEADER = struct.Struct("!Ii")
_DATETIME_TAG = "__datetime__"
#: Wraps a mapping that holds a key spelled like a tag, so it is not taken for one.
_MAPPING_TAG = "__mapping__"
#: The signals a task's code may handle (a time limit's, a stop's): held while a task process
#: starts a thread, or writes a report line (``task_process.ResultChannel``).
HANDLED_SIGNALS = frozenset(
    {signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD}
)
#: The number of the answer to a line the worker could not read as a call.
UNREADABLE_CALL = -1
#: How long the worker waits for a task process to take any of an answer before it answers no more.
ANSWER_SEND_TIMEOUT_S = 60.0

#: The calls a task's process may make of its worker's ``MetastoreServices`` (its ``RuntimeServices``
#: methods that reach the metastore, and the metastore's part of a variable's or connection's lookup),
#: and the XCom reads.
SERVICE_CALLS = frozenset(
    {
        "variable_from_metastore",
        "connection_from_metastore",
        "set_variable",
        "delete_variable",
        "external_dag",
        "count_task_states",
        "count_run_states",
        "trigger_run",
        "reset_run",
        "run_state",
        "dataset_events",
        "run_dataset_events",
    }
)
XCOM_CALLS = frozenset({"pull", "pull_mapped"})
#: The calls that change something: refused once the try is being stopped.
WRITE_CALLS = frozenset({"set_variable", "delete_variable", "trigger_run", "reset_run"})


@contextmanager
def handled_signals_held() -> Iterator[None]:
    """Hold ``HANDLED_SIGNALS`` in this thread for the block. The mask as it was comes back however
    the block ends, and also when a handler that runs as the signals are held raises."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class WorkerGone(ConnectionError):
    """The worker stopped answering (it died, or the try is being stopped)."""


# --- the task process's side ---------------------------------------------------------------------


class WorkerServices:
    """``RuntimeServices`` and the XCom reader of a task process, answered by its worker.

    ``channel`` is the try's result channel: calls go out as its reports do; the answers come back
    on the same socket, read by a thread of this process (``_AnswerReader``). ``fallback`` builds, once, what a
    process forked from the task's process uses instead: its own services and XCom reader."""

    def __init__(
        self,
        settings: Settings,
        channel: Any,
        fallback: Callable[[], tuple[Any, Any]],
    ) -> None:
        self._settings = settings
        self._channel = channel
        self._fallback = fallback
        self._fallback_made: tuple[Any, Any] | None = None
        self._owner = os.getpid()
        self._reader = _AnswerReader(channel.fd)

    @property
    def settings(self) -> Settings:
        return self._settings

    # RuntimeServices ------------------------------------------------------------------------------

    # The secrets backend and the environment are read here, in the task's process (whose own
    # os.environ task code may have changed); only the metastore's part is asked of the worker.

    def get_variable(self, key: str) -> str | None:
        return lookup.find_variable_via(key, self._settings, lambda name: self._ask("variable_from_metastore", name))

    def variable_outside_metastore(self, key: str) -> str | None:
        return lookup.variable_outside_metastore(key, self._settings)

    def set_variable(self, key: str, text: str, description: str | None) -> None:
        self._ask("set_variable", key, text, description)

    def delete_variable(self, key: str) -> bool:
        return bool(self._ask("delete_variable", key))

    def get_connection(self, conn_id: str) -> Any:
        # A Connection masks its secrets as it is unpickled here.
        return lookup.find_connection_via(
            conn_id, self._settings, lambda name: self._ask("connection_from_metastore", name)
        )

    def external_dag(self, dag_id: str) -> Any:
        return self._ask("external_dag", dag_id)

    def count_task_states(self, dag_id: str, dates: Sequence[datetime], task_ids: Sequence[str]) -> dict[str, int]:
        return dict(self._ask("count_task_states", dag_id, list(dates), list(task_ids)))

    def count_run_states(self, dag_id: str, dates: Sequence[datetime]) -> dict[str, int]:
        return dict(self._ask("count_run_states", dag_id, list(dates)))

    # The run's arguments are keyword-only in ``RuntimeServices``; they go to the worker as given.

    def trigger_run(self, dag_id: str, **run: Any) -> Any:
        return self._ask("trigger_run", dag_id, **run)

    def reset_run(self, dag_id: str, **run: Any) -> Any:
        return self._ask("reset_run", dag_id, **run)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self._ask("run_state", dag_id, run_id))

    def dataset_events(self, uri: str) -> list[dict[str, Any]]:
        return list(self._ask("dataset_events", uri))

    def run_dataset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self._ask("run_dataset_events", dag_id, run_id))

    # The XCom reader of ChildXComBackend ---------------------------------------------------------

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        found, value = self._ask("pull", task_id, key, map_index)
        return bool(found), value

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        return list(self._ask("pull_mapped", task_id, key))

    # ---------------------------------------------------------------------------------------------

    def _ask(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != self._owner:
            return self._ask_directly(name, args, kwargs)
        call_id = self._reader.new_call()
        try:
            line = encode_call(call_id, name, args, kwargs)
            try:
                self._channel.send_encoded("call", line)
            except OSError as exc:
                raise WorkerGone(f"the worker stopped answering ({exc.strerror or exc})") from None
            status, value = _unframed(self._reader.answer_to(call_id))
        finally:
            self._reader.give_up(call_id)
        if status == "error":
            raise value
        return value

    def _ask_directly(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._fallback_made is None:
            self._fallback_made = self._fallback()
        services, xcom_reader = self._fallback_made
        target = xcom_reader if name in XCOM_CALLS else services
        return getattr(target, name)(*args, **kwargs)


def encode_call(call_id: int, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The JSON of one call (``TypeError`` naming the value when something in it is not plain data)."""
    return json.dumps([call_id, name, _plain(list(args)), _plain(dict(kwargs))])


def _plain(value: Any) -> Any:
    """``value`` as JSON can carry it: datetimes tagged, a mapping that holds a tag key escaped."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return {_DATETIME_TAG: value.isoformat()}
    if isinstance(value, Mapping):
        plain = {key: _plain(item) for key, item in value.items()}
        return {_MAPPING_TAG: plain} if _DATETIME_TAG in plain or _MAPPING_TAG in plain else plain
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} values cannot be sent to the worker: {value!r:.100}")


def _restore(value: Any) -> Any:
    """A call's value as the task's process had it (``_plain`` undone)."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(_DATETIME_TAG), str):
            return datetime.fromisoformat(value[_DATETIME_TAG])
        if len(value) == 1 and isinstance(value.get(_MAPPING_TAG), dict):
            return {key: _restore(item) for key, item in value[_MAPPING_TAG].items()}
        return {key: _restore(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item) for item in value]
    return value


def _unframed(frame: bytes) -> tuple[str, Any]:
    try:
        answer = pickle.loads(frame)
    except Exception as exc:  # noqa: BLE001 - whatever the bytes were, they are no answer
        raise WorkerGone(f"the worker's answer could not be read ({type(exc).__name__}: {exc})") from None
    if not (isinstance(answer, tuple) and len(answer) == 2 and answer[0] in ("ok", "error")):
        raise WorkerGone(f"the worker's answer could not be read: {answer!r:.200}")
    return answer


class _AnswerReader:
    """The thread of a task's process that reads its worker's answers and hands each to the call
    waiting for it. Being no main thread, it runs no signal handler: nothing interrupts it half-way
    through an answer. Started by the first call (most tries make none, and a thread costs a fresh
    process about 0.4 ms), with the signals a handler may catch held while it is started: no
    handler interrupts the start (two starts, or none). A first call made from a handler itself
    (an ``on_kill`` reading a connection) starts it from there; should the code it interrupted have
    been inside ``threading``'s own start of a thread, that call waits, and the stop's grace ends it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        # Re-entrant: a signal handler that runs while the main thread holds it may ask in turn.
        self.lock = threading.RLock()
        self._arrived = threading.Condition(self.lock)
        #: Numbers of the calls waiting for their answers; an answer to no waiting call is dropped.
        self.waiting: set[int] = set()
        self._answers: dict[int, bytes] = {}
        self._gone: str | None = None
        self._last_id = 0
        self._started = False

    def new_call(self) -> int:
        """The number of a new call, waited for from now on (the reading thread started first)."""
        if not self._started:
            self._start()
        with self.lock:
            self._last_id += 1
            self.waiting.add(self._last_id)
            return self._last_id

    def _start(self) -> None:
        with handled_signals_held(), self.lock:
            if self._started:
                return
            try:
                threading.Thread(target=self._read_all, name="worker-answers", daemon=True).start()
            except RuntimeError as exc:  # no thread to be had (a limit on processes): calls fail, not hang
                self._gone = f"the task's process cannot read its worker's answers ({exc})"
            self._started = True

    def answer_to(self, call_id: int) -> bytes:
        """The answer to call ``call_id`` (pickled) once it has come; a signal handler may interrupt
        the wait (then ``give_up``)."""
        with self._arrived:
            while call_id not in self._answers:
                if self._gone is not None:
                    raise WorkerGone(self._gone)
                self._arrived.wait()
            return self._answers.pop(call_id)

    def _read_exactly(self, size: int) -> bytes | None:
        """``size`` bytes from the socket (an answer of megabytes is read into one buffer, not
        copied again at each chunk); None at its end."""
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            read = os.readv(self._fd, [view[got:]])
            if read == 0:
                return None
            got += read
        return bytes(buffer)

    def give_up(self, call_id: int) -> None:
        with self.lock:
            self.waiting.discard(call_id)
            self._answers.pop(call_id, None)

    def _read_all(self) -> None:
        gone = "the worker stopped answering (it is gone, or it is stopping this try)"
        try:
            while (header := self._read_exactly(_HEADER.size)) is not None:
                size, answered = _HEADER.unpack(header)
                frame = self._read_exactly(size)
                if frame is None:
                    return
                with self._arrived:
                    if answered in self.waiting:
                        self._answers[answered] = frame
                        self._arrived.notify_all()
        except OSError as exc:
            gone = f"the worker stopped answering ({exc.strerror or exc})"
        except Exception as exc:  # noqa: BLE001 - whatever broke the reading, no call waits for ever
            gone = f"the worker's answers could not be read ({type(exc).__name__}: {exc})"
        finally:
            with self._arrived:
                self._gone = gone
                self._arrived.notify_all()


# --- the worker's side ---------------------------------------------------------------------------


class TryServicesAnswerer:
    """Answers the calls of one try's task process with the worker's ``services`` and the try's
    XCom reader (made on first use)."""

    def __init__(self, services: Any, xcom_reader: Callable[[], Any]) -> None:
        self._services = services
        self._xcom_reader = xcom_reader
        self._reader: Any = None

    def answer(self, call: Any) -> bytes:
        """The framed answer to one call (as the task's report carried it). Secrets read for the
        task are its process's to hide; this process does not keep them (``masker``)."""
        with masker.read_for_another_process():
            try:
                result: tuple[str, Any] = ("ok", self._call(call))
            except Exception as exc:  # noqa: BLE001 - the task's code gets what the call raised
                result = ("error", exc)
            return framed(call_number(call), *result)

    def _call(self, call: Any) -> Any:
        if not (isinstance(call, list) and len(call) == 4 and isinstance(call[1], str)):
            raise ValueError(f"unreadable call from the task's process: {call!r:.200}")
        _, name, args, kwargs = call
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError(f"unreadable call from the task's process: {call!r:.200}")
        args, kwargs = _restore(args), _restore(kwargs)
        if name in XCOM_CALLS:
            if self._reader is None:
                self._reader = self._xcom_reader()
            target = self._reader
        elif name in SERVICE_CALLS:
            target = self._services
        else:
            raise ValueError(f"the worker does not answer {name!r}")
        return getattr(target, name)(*args, **kwargs)


def framed(call_id: int, status: str, value: Any) -> bytes:
    """One answer as it goes on the socket. An exception that would not load again in the task's
    process (its class needs other arguments than it keeps) goes as a ``RuntimeError`` naming it."""
    try:
        payload = pickle.dumps((status, value), protocol=pickle.HIGHEST_PROTOCOL)
        if status == "error":
            pickle.loads(payload)
    except Exception:  # noqa: BLE001 - an answer that cannot travel is an error of its own
        payload = pickle.dumps(("error", RuntimeError(_described(value))), protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload), call_id) + payload


def call_number(call: Any) -> int:
    """The number of a call as its report carried it (``UNREADABLE_CALL`` when it has none)."""
    number = call[0] if isinstance(call, list) and call else None
    return number if isinstance(number, int) and not isinstance(number, bool) else UNREADABLE_CALL


def _described(value: Any) -> str:
    try:
        return f"{type(value).__name__}: {value}"
    except Exception:  # noqa: BLE001 - a value whose str() fails is still named
        return f"the worker's answer could not be sent ({type(value).__name__})"


class CallAnswering:
    """Answers one try's calls on a thread of their own, one at a time, so that a slow call (a
    database that does not answer, a lock waited for) never holds up the try's supervision: its
    fencing, time limit and stop requests. Writes to its own duplicate of the worker's end of the
    socket, so a call still running when the try ends never writes where another try's socket is.
    ``refuse_writes``: the try is being stopped already (see ``refuse_writes``)."""

    def __init__(self, answerer: TryServicesAnswerer | None, fd: int, *, refuse_writes: str | None = None) -> None:
        self._answerer = answerer
        self._sock = socket.socket(fileno=duplicate_privately(fd))
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._refuse_all: str | None = None if answerer is not None else "this try's process asks no worker"
        self._refuse_writes = refuse_writes
        self._thread = threading.Thread(target=self._answer_all, name="try-calls", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            close_now(self._sock.fileno(), self._sock.close)
            raise

    def take(self, call: Any) -> None:
        """Answer ``call`` (a report's ``call``; ``[number, None]`` for a call line that could not be
        read, which is answered with an error)."""
        self._calls.put(call)

    def refuse_writes(self, why: str) -> None:
        """From now on refuse, saying ``why``, every call that would change something (the try is
        being stopped: its ``on_kill`` may still read, but nothing it asks is done any more)."""
        if self._refuse_writes is None:
            self._refuse_writes = why

    def close(self, wait: float) -> bool:
        """No more calls: wait up to ``wait`` seconds for the one being answered (so nothing the try
        asked is still being done once its end is written); False if it is still running."""
        self._refuse_all = self._refuse_all or "the try has ended"
        self._calls.put(None)
        self._thread.join(wait)
        return not self._thread.is_alive()

    def _answer_all(self) -> None:
        try:
            while (call := self._calls.get()) is not None:
                try:
                    answer = self._answer(call)
                except Exception as exc:  # noqa: BLE001 - the task waits for an answer: it gets this one
                    answer = framed(call_number(call), "error", RuntimeError(f"the worker failed to answer: {exc}"))
                try:
                    send_answer(self._sock, answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the task's process is gone
                except Exception as exc:  # noqa: BLE001 - a stuck task, an answer cut off half-way
                    # Nothing more can go on this socket after part of an answer: the task's process
                    # reads the end of it (and fails its call) rather than wait for the rest.
                    logger.warning("an answer to a task's call could not be sent (%s); no more calls answered", exc)
                    self._refuse_all = str(exc)
                    self._shut()
        finally:
            self._shut()
            close_now(self._sock.fileno(), self._sock.close)

    def _shut(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _answer(self, call: Any) -> bytes:
        call_id = call_number(call)
        name = call[1] if isinstance(call, list) and len(call) > 1 and isinstance(call[1], str) else None
        refusal = self._refuse_all or (self._refuse_writes if name in WRITE_CALLS else None)
        if name is None:
            refusal = refusal or "the worker could not read the task's call"
        if refusal is not None or self._answerer is None:
            return framed(call_id, "error", RuntimeError(refusal))
        return self._answerer.answer(call)


def send_answer(sock: socket.socket, data: bytes, timeout: float = ANSWER_SEND_TIMEOUT_S) -> None:
    """Write ``data`` to the task process's socket; ``BrokenPipeError`` when the task's process is
    gone, ``TimeoutError`` when it reads nothing of it for ``timeout`` seconds (a stuck try)."""
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view, socket.MSG_DONTWAIT)
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the task's process took none of the worker's answer for {timeout:g} s") from None
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLOUT)
            poller.poll(left * 1000)
            continue
        view = view[sent:]
        deadline = time.monotonic() + timeout  # a large answer may take long; a stuck reader may not
