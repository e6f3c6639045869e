"""A task's process forked from the worker's fork server asks its worker for what it reads of the
metastore — variables, connections, XCom pulls, other runs — over its result socket (that it then
never imports SQLAlchemy is shown on a real worker, ``integration/test_worker.py``). Real fork
server, guardian and task processes and a real DAG file; the worker's side is played by
``TryServicesAnswerer`` over services held in memory (no metastore here)."""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_fork_server import server, spec_for, started  # noqa: F401 - the fork server fixture

from tradewind.errors import AirflowTaskTimeout
from tradewind.sdk.connection import Connection
from tradewind.settings import Settings
from tradewind.worker.guardian import GuardedTry
from tradewind.worker.task_process import ResultChannel
from tradewind.worker.try_services import (
    CallAnswering,
    TryServicesAnswerer,
    WorkerGone,
    WorkerServices,
    encode_call,
)

DAG_FILE = """
import json, os
from datetime import datetime, timezone
from tradewind import DAG, PythonOperator
from tradewind.sdk.variable import Variable
from tradewind.sdk.hooks.base import BaseHook
from tradewind.sdk import runtime_services

LEDGER = {ledger!r}

def work(ti):
    # What task code puts in its own environment is found first, as in Airflow.
    os.environ["AIRFLOW_VAR_SET_AT_RUNTIME"] = "from-the-environment"
    os.environ["AIRFLOW_CONN_MADE_AT_RUNTIME"] = "http://api.example.com:8080"
    seen = {{
        "runtime_variable": Variable.get("set_at_runtime"),
        "runtime_connection": BaseHook.get_connection("made_at_runtime").port,
        "plain": Variable.get("plain"),
        "as_json": Variable.get("structured", deserialize_json=True),
        "default": Variable.get("missing", default_var="fallback"),
        "password": BaseHook.get_connection("warehouse").password,
        "pulled": ti.xcom_pull(task_ids="upstream", key="rows"),
        "counts": runtime_services.current().count_task_states(
            "other", [datetime(2026, 1, 1, tzinfo=timezone.utc)], ["t"]
        ),
    }}
    try:
        Variable.get("missing")
    except KeyError as exc:
        seen["missing"] = str(exc)
    try:
        BaseHook.get_connection("nowhere")
    except Exception as exc:
        seen["no_connection"] = type(exc).__name__
    print("the secret is", Variable.get("api_password"), "and", seen["password"])
    with open(LEDGER, "w") as ledger:
        json.dump(seen, ledger)

with DAG("forked", start_date=datetime(2026, 1, 1), schedule=None):
    PythonOperator(task_id="work", python_callable=work)
"""


class InMemoryServices:
    """The worker's runtime services, as far as this task reads them."""

    def __init__(self) -> None:
        self.variables = {"plain": "hello", "structured": '{"a": [1, 2]}', "api_password": "hunter2-secret"}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def variable_from_metastore(self, key: str) -> str | None:
        self.calls.append(("variable_from_metastore", (key,)))
        return self.variables.get(key)

    def connection_from_metastore(self, conn_id: str) -> Connection | None:
        if conn_id != "warehouse":
            return None
        return Connection(conn_id="warehouse", conn_type="postgres", host="db", password="pg-pass-word")

    def count_task_states(self, dag_id: str, dates: list[datetime], task_ids: list[str]) -> dict[str, int]:
        self.calls.append(("count_task_states", (dag_id, tuple(dates), tuple(task_ids))))
        return {"success": 3}


class InMemoryXCom:
    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        return (True, [1, 2, 3]) if (task_id, key) == ("upstream", "rows") else (False, None)

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        return []


@pytest.fixture
def dag_file(tmp_path: Path) -> Path:
    path = tmp_path / "dags" / "forked.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(DAG_FILE.format(ledger=str(tmp_path / "ledger"))))
    return path


def answer_to_end(guarded: GuardedTry, answerer: TryServicesAnswerer, timeout: float = 20) -> tuple[str, str]:
    """Play the worker's supervisor: answer the task's calls until its guardian is done; returns the
    task's log and its reports other than calls."""
    deadline = time.monotonic() + timeout
    log, reports, pending = b"", [], b""
    calls = CallAnswering(answerer, guarded.result_fd)
    done = False
    while not done:
        assert time.monotonic() < deadline, "the try did not end"
        ready, _, _ = select.select([guarded.status_fd, guarded.result_fd, guarded.log_fd], [], [], 0.1)
        for fd in ready:
            if fd == guarded.status_fd:
                done = guarded.read_status() or done
            elif fd == guarded.log_fd:
                log += os.read(fd, 65536)
            else:
                *lines, pending = (pending + os.read(fd, 65536)).split(b"\n")
                for line in lines:
                    report = json.loads(line)
                    if "call" in report:
                        calls.take(report["call"])
                    else:
                        reports.append(line.decode())
    assert calls.close(10)
    guarded.close()
    return log.decode(), "\n".join(reports)


def test_a_task_reads_variables_connections_and_xcom_through_its_worker(server, dag_file, tmp_path):  # noqa: F811
    services = InMemoryServices()
    guarded = started(server, spec_for(dag_file))
    log, reports = answer_to_end(guarded, TryServicesAnswerer(services, InMemoryXCom))
    assert '"state": "success"' in reports, log
    seen = json.loads((tmp_path / "ledger").read_text())
    assert seen == {
        "runtime_variable": "from-the-environment",
        "runtime_connection": 8080,
        "plain": "hello",
        "as_json": {"a": [1, 2]},
        "default": "fallback",
        "password": "pg-pass-word",
        "pulled": [1, 2, 3],
        "counts": {"success": 3},
        "missing": "'Variable missing does not exist'",
        "no_connection": "AirflowNotFoundException",
    }
    # The datetimes the task passed arrive as datetimes, not as their JSON form.
    assert ("count_task_states", ("other", (datetime(2026, 1, 1, tzinfo=UTC),), ("t",))) in services.calls
    # Only the metastore's part of a lookup reached the worker; the environment's was the task's own.
    assert ("variable_from_metastore", ("set_at_runtime",)) not in services.calls
    # What the worker read for it is masked in the task's own log, as a direct read would be.
    assert "the secret is *** and ***" in log
    assert "hunter2-secret" not in log and "pg-pass-word" not in log


class TaskSide:
    """A task process's ``WorkerServices`` over a real socket pair, with the worker's side (the
    supervisor's reading of call lines and ``CallAnswering``) on a thread of the test."""

    def __init__(self, tmp_path: Path, services: Any = None, *, play_worker: Callable[[Any, Any], None] | None = None):
        import socket

        task_end, self.worker_end = socket.socketpair()
        self.channel = ResultChannel(task_end.detach())
        self.services = WorkerServices(Settings(home=tmp_path), self.channel, fallback=lambda: (None, None))
        self.calls = CallAnswering(
            TryServicesAnswerer(services or InMemoryServices(), InMemoryXCom), self.worker_end.fileno()
        )
        self.reader = threading.Thread(
            target=play_worker or self._supervise, args=(self.worker_end, self.calls), daemon=True
        )
        self.reader.start()

    @staticmethod
    def _supervise(worker_end: Any, calls: CallAnswering) -> None:
        pending = b""
        while chunk := worker_end.recv(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                calls.take(json.loads(line)["call"])

    def close(self) -> None:
        assert self.calls.close(10)
        self.channel.close()
        self.reader.join(5)
        self.worker_end.close()


class SlowServices(InMemoryServices):
    def variable_from_metastore(self, key: str) -> str | None:
        if key == "slow":
            time.sleep(0.5)
        return super().variable_from_metastore(key)

    def set_variable(self, key: str, text: str, description: str | None) -> None:
        self.variables[key] = text


def test_a_time_limit_that_fires_during_a_call_interrupts_it_and_its_late_answer_goes_to_no_other_call(tmp_path):
    """``execution_timeout`` fires while a call waits: the task gets the exception at once, and its
    ``on_kill`` or callback then reads what it asks for, never the late answer to the first call."""
    side = TaskSide(tmp_path, SlowServices())

    def timed_out(signum: int, frame: Any) -> None:
        raise AirflowTaskTimeout("Timeout, PID: 1")

    previous = signal.signal(signal.SIGALRM, timed_out)
    started = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(AirflowTaskTimeout):
            side.services.get_variable("slow")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 0.45, "the time limit waited for the worker's answer"
    assert side.services.get_variable("plain") == "hello"  # asked while the answer to "slow" is still to come
    assert side.services.get_variable("api_password") == "hunter2-secret"
    side.close()


def test_a_signal_handler_that_asks_during_a_call_and_the_call_each_get_their_own_answer(tmp_path):
    side = TaskSide(tmp_path, SlowServices())
    asked_inside: list[Any] = []
    started = time.monotonic()

    def ask(*_: Any) -> None:
        asked_at = time.monotonic() - started
        asked_inside.append((side.services.get_variable("api_password"), asked_at))

    previous = signal.signal(signal.SIGALRM, ask)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        assert side.services.get_variable("slow") is None  # SlowServices holds no "slow": None, after 0.5 s
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    [(value, asked_at)] = asked_inside
    assert value == "hunter2-secret"
    assert asked_at < 0.45, "the handler ran only once the call was over"  # it ran while the call waited
    side.close()


def test_a_try_being_stopped_may_still_read_but_nothing_it_asks_to_change_is_done(tmp_path):
    services = SlowServices()
    side = TaskSide(tmp_path, services)
    side.services.set_variable("before", "1", None)
    side.calls.refuse_writes("the task instance was cleared; stopped")
    with pytest.raises(RuntimeError, match="the task instance was cleared; stopped"):
        side.services.set_variable("after", "2", None)
    assert side.services.get_variable("plain") == "hello"  # its on_kill may read a connection or a variable
    assert services.variables.get("before") == "1" and "after" not in services.variables
    side.close()


def test_an_answer_larger_than_the_socket_holds_arrives_whole(tmp_path):
    services = InMemoryServices()
    services.variables["big"] = "x" * 3_000_000
    side = TaskSide(tmp_path, services)
    assert side.services.get_variable("big") == "x" * 3_000_000
    side.close()


def test_a_conf_that_looks_like_the_call_encoding_arrives_as_it_was_sent(tmp_path):
    conf = {
        "k": {"__datetime__": "2024-01-01"},
        "m": {"__mapping__": {"a": 1}},
        "when": datetime(2026, 1, 1, tzinfo=UTC),
    }
    triggered: list[Any] = []

    class Triggering(InMemoryServices):
        def trigger_run(self, dag_id: str, **kwargs: Any) -> str:
            triggered.append(kwargs["conf"])
            return "manual__1"

    side = TaskSide(tmp_path, Triggering())
    side.services.trigger_run(
        "other", conf=conf, run_id=None, logical_date=datetime(2026, 1, 1, tzinfo=UTC), owner="t", source="task"
    )
    assert triggered == [conf]
    side.close()


class NeedsTwo(Exception):
    """An exception that pickles but does not load again (its ``__init__`` wants two arguments)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} and {b}")


def test_an_exception_the_task_could_not_load_arrives_as_a_runtime_error_naming_it(tmp_path):
    class Failing(InMemoryServices):
        def variable_from_metastore(self, key: str) -> str | None:
            raise NeedsTwo("one", "two")

    side = TaskSide(tmp_path, Failing())
    with pytest.raises(RuntimeError, match="NeedsTwo: one and two"):
        side.services.get_variable("plain")
    side.close()


def supervisor_reader(worker_end: Any, answerer: TryServicesAnswerer | None) -> Any:
    """The worker's reader of one try's pipes (``supervisor._PipeReader``) over ``worker_end``."""
    import socket

    from tradewind.worker.guardian import GuardedTry
    from tradewind.worker.supervisor import _PipeReader

    log_read, log_write = os.pipe()
    status_read, status_write = os.pipe()
    control_read, control_write = os.pipe()
    guarded = GuardedTry(0, log_read, worker_end.fileno(), status_read, control_write, own_child=False)
    reader = _PipeReader(guarded, None, None, answerer)
    reader.spare = (log_write, status_write, control_read, socket)  # kept open for the test
    return reader


def test_a_call_line_the_worker_cannot_read_gets_an_error_not_a_hang(tmp_path):
    import socket

    task_end, worker_end = socket.socketpair()
    reader = supervisor_reader(worker_end, TryServicesAnswerer(InMemoryServices(), InMemoryXCom))
    task_end.sendall(b'{"call": [7, "get_variable", ["pla\n')  # cut off: no JSON, but its number is there
    reader.read(1.0)
    header = task_end.recv(8)
    size, number = struct.unpack("!Ii", header)
    status, value = pickle.loads(task_end.recv(size))
    assert number == 7 and status == "error"
    assert "could not read the task's call" in str(value)
    reader.close()


def test_a_try_being_stopped_before_it_asked_anything_has_its_later_writes_refused(tmp_path):
    """Stopped (cleared, timed out) before its first call: its ``on_kill`` may read, not write."""
    services = SlowServices()
    side = TaskSide(tmp_path, services, play_worker=lambda worker_end, calls: None)
    reader = supervisor_reader(side.worker_end, TryServicesAnswerer(services, InMemoryXCom))
    reader.refuse_writes("the task instance was cleared; stopped")
    done = threading.Event()

    def feed() -> None:
        while not done.is_set():
            reader.read(0.05)

    feeding = threading.Thread(target=feed, daemon=True)
    feeding.start()
    with pytest.raises(RuntimeError, match="cleared; stopped"):
        side.services.set_variable("after", "2", None)
    assert side.services.get_variable("plain") == "hello"
    assert "after" not in services.variables
    done.set()
    feeding.join(10)
    reader.close()
    side.channel.close()
    side.worker_end.close()


def test_a_task_whose_worker_dies_during_a_call_gets_a_clear_error_not_a_hang(tmp_path):
    def dying_worker(worker_end: Any, calls: CallAnswering) -> None:
        worker_end.recv(65536)  # the call arrives; then the worker is gone
        worker_end.shutdown(2)
        calls.close(1)

    side = TaskSide(tmp_path, play_worker=dying_worker)
    with pytest.raises(WorkerGone, match="the worker stopped answering"):
        side.services.get_variable("plain")
    side.reader.join(5)
    side.channel.close()
    side.worker_end.close()


def test_the_worker_answers_only_the_services_a_task_may_call(tmp_path):
    answerer = TryServicesAnswerer(InMemoryServices(), InMemoryXCom)
    for call in (
        [1, "__init__", [], {}],
        [2, "settings", [], {}],
        "not a call",
        [3, "variable_from_metastore", "x", {}],
    ):
        _, status, value = _unframe(answerer.answer(call))
        assert status == "error" and isinstance(value, ValueError), call
    assert _unframe(answerer.answer(json.loads(encode_call(7, "variable_from_metastore", ["plain"], {})))) == (
        7,
        "ok",
        "hello",
    )


def test_a_call_with_a_value_that_is_not_plain_data_is_refused_in_the_task_with_its_name():
    with pytest.raises(TypeError, match="object values cannot be sent to the worker"):
        encode_call(1, "trigger_run", ["other"], {"conf": {"when": object()}})


def _unframe(data: bytes) -> tuple[int, str, Any]:
    size, number = struct.unpack_from("!Ii", data)
    return (number, *pickle.loads(data[8 : 8 + size]))
