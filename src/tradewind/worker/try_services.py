"""What a task's process asks of its worker instead of the metastore: variables, connections, XCom
pulls, other DAGs' runs — every ``RuntimeServices`` call, and the XCom reads of ``ChildXComBackend``.

    task process ── result socket: {"call": [name, args, kwargs]} ──▶ worker (the try's supervisor)
                 ◀── length-prefixed pickle of ("ok", value) or ("error", exception) ──

A task process forked from the worker's fork server never opens a database connection and never
imports SQLAlchemy (which is half of the memory the fork server would hold otherwise, and so half
of what each try's two forks copy and tear down). The worker answers with its own services and
the try's own XCom reader, over the socket that already carries the task's reports to it
(``ResultChannel``), so a try reads exactly what it read before, in the order it asked.

What crosses the socket: a call is JSON (names, strings, numbers, lists, mappings and datetimes;
nothing the worker would have to trust to unpickle); an answer is a pickle the task's process
trusts, as it trusts its worker. An exception raised in the worker is raised in the task as it
was (``KeyError``, ``AirflowNotFoundException``...). A secret read this way is registered with the
task process's secrets masker as a direct read would have registered it.

A process the task forked in turn (``multiprocessing``, a fork of its own) shares the socket with
the task's process, so it does not ask over it: it reaches the metastore itself, as every process
did before.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tradewind.secrets.lookup import mask_if_secret
from tradewind.settings import Settings

_HEADER = struct.Struct("!I")
_DATETIME_TAG = "__datetime__"
#: How long the worker waits for a task process to take an answer before it gives up on the try.
ANSWER_SEND_TIMEOUT_S = 60.0

#: The calls a task's process may make: the ``RuntimeServices`` methods, and the XCom reads.
SERVICE_CALLS = frozenset(
    {
        "get_variable",
        "variable_outside_metastore",
        "set_variable",
        "delete_variable",
        "get_connection",
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


class WorkerGone(ConnectionError):
    """The worker stopped answering (it died, or the try is being stopped)."""


# --- the task process's side ---------------------------------------------------------------------


class WorkerServices:
    """``RuntimeServices`` and the XCom reader of a task process, answered by its worker.

    ``channel`` is the try's result channel: calls go out as its reports do, under its lock, which
    is held until the answer is read from the same socket. ``fallback`` builds, once, what a
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
        self._pending = b""

    @property
    def settings(self) -> Settings:
        return self._settings

    # RuntimeServices ------------------------------------------------------------------------------

    def get_variable(self, key: str) -> str | None:
        value = self._ask("get_variable", key)
        mask_if_secret(key, value)
        return value

    def variable_outside_metastore(self, key: str) -> str | None:
        value = self._ask("variable_outside_metastore", key)
        mask_if_secret(key, value)
        return value

    def set_variable(self, key: str, text: str, description: str | None) -> None:
        self._ask("set_variable", key, text, description)

    def delete_variable(self, key: str) -> bool:
        return bool(self._ask("delete_variable", key))

    def get_connection(self, conn_id: str) -> Any:
        return self._ask("get_connection", conn_id)  # a Connection masks its secrets as it is unpickled

    def external_dag(self, dag_id: str) -> Any:
        return self._ask("external_dag", dag_id)

    def count_task_states(self, dag_id: str, dates: Sequence[datetime], task_ids: Sequence[str]) -> dict[str, int]:
        return dict(self._ask("count_task_states", dag_id, list(dates), list(task_ids)))

    def count_run_states(self, dag_id: str, dates: Sequence[datetime]) -> dict[str, int]:
        return dict(self._ask("count_run_states", dag_id, list(dates)))

    def trigger_run(
        self,
        dag_id: str,
        *,
        conf: Mapping[str, Any] | None,
        run_id: str | None,
        logical_date: datetime,
        owner: str,
        source: str,
    ) -> Any:
        return self._ask(
            "trigger_run", dag_id, conf=conf, run_id=run_id, logical_date=logical_date, owner=owner, source=source
        )

    def reset_run(self, dag_id: str, *, run_id: str | None, logical_date: datetime, owner: str, source: str) -> Any:
        return self._ask("reset_run", dag_id, run_id=run_id, logical_date=logical_date, owner=owner, source=source)

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
        call = encode_call(name, args, kwargs)
        with self._channel.lock:
            try:
                self._channel.send_encoded("call", call)
            except OSError as exc:
                raise WorkerGone(f"the worker stopped answering ({exc.strerror or exc})") from None
            status, value = self._answer()
        if status == "error":
            raise value
        return value

    def _answer(self) -> tuple[str, Any]:
        header = self._read(_HEADER.size)
        answer = pickle.loads(self._read(_HEADER.unpack(header)[0]))
        if not (isinstance(answer, tuple) and len(answer) == 2 and answer[0] in ("ok", "error")):
            raise WorkerGone(f"the worker's answer could not be read: {answer!r:.200}")
        return answer

    def _read(self, size: int) -> bytes:
        while len(self._pending) < size:
            try:
                chunk = os.read(self._channel.fd, max(65536, size - len(self._pending)))
            except InterruptedError:
                continue
            if not chunk:
                raise WorkerGone("the worker stopped answering (it is gone, or it is stopping this try)")
            self._pending += chunk
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _ask_directly(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._fallback_made is None:
            self._fallback_made = self._fallback()
        services, xcom_reader = self._fallback_made
        target = xcom_reader if name in XCOM_CALLS else services
        return getattr(target, name)(*args, **kwargs)


def encode_call(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The JSON of one call (``TypeError`` naming the value when something in it is not plain data)."""
    return json.dumps([name, list(args), dict(kwargs)], default=_encode_value)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME_TAG: value.isoformat()}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} values cannot be sent to the worker: {value!r:.100}")


def _restore(value: Any) -> Any:
    """A call's value as the task's process had it (datetimes back from their JSON form)."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(_DATETIME_TAG), str):
            return datetime.fromisoformat(value[_DATETIME_TAG])
        return {key: _restore(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item) for item in value]
    return value


# --- the worker's side ---------------------------------------------------------------------------


class TryServicesAnswerer:
    """Answers the calls of one try's task process with the worker's ``services`` and the try's
    XCom reader (made on first use)."""

    def __init__(self, services: Any, xcom_reader: Callable[[], Any]) -> None:
        self._services = services
        self._xcom_reader = xcom_reader
        self._reader: Any = None

    def answer(self, call: Any) -> bytes:
        """The framed answer to one call (as the task's report carried it)."""
        try:
            result: tuple[str, Any] = ("ok", self._call(call))
        except Exception as exc:  # noqa: BLE001 - the task's code gets what the call raised
            result = ("error", exc)
        return _framed(result)

    @staticmethod
    def refusal(why: str) -> bytes:
        """The framed answer of a worker that answers no calls of this try."""
        return _framed(("error", RuntimeError(why)))

    def _call(self, call: Any) -> Any:
        if not (isinstance(call, list) and len(call) == 3 and isinstance(call[0], str)):
            raise ValueError(f"unreadable call from the task's process: {call!r:.200}")
        name, args, kwargs = call
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


def _framed(result: tuple[str, Any]) -> bytes:
    try:
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an answer that cannot travel is an error of its own
        payload = pickle.dumps(("error", RuntimeError(f"the worker's answer could not be sent: {exc}")))
    return _HEADER.pack(len(payload)) + payload


def send_answer(fd: int, data: bytes, timeout: float = ANSWER_SEND_TIMEOUT_S) -> None:
    """Write ``data`` to the task process's socket within ``timeout`` seconds; ``BrokenPipeError``
    when the task's process is gone, ``TimeoutError`` when it does not read (a stuck try)."""
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    try:
        while view:
            try:
                sent = os.write(fd, view)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the task's process did not take the worker's answer in {timeout:g} s"
                    ) from None
                select.select([], [fd], [], left)
                continue
            view = view[sent:]
    finally:
        os.set_blocking(fd, was_blocking)
