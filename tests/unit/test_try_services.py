"""A task's process forked from the worker's fork server asks its worker for what it reads of the
metastore — variables, connections, XCom pulls, other runs — over its result socket (that it then
never imports SQLAlchemy is shown on a real worker, ``integration/test_worker.py``). Real fork
server, guardian and task processes and a real DAG file; the worker's side is played by
``TryServicesAnswerer`` over services held in memory (no metastore here)."""

from __future__ import annotations

import json
import os
import select
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_fork_server import server, spec_for, started  # noqa: F401 - the fork server fixture

from tradewind.errors import AirflowNotFoundException
from tradewind.sdk.connection import Connection
from tradewind.settings import Settings
from tradewind.worker.guardian import GuardedTry
from tradewind.worker.try_services import TryServicesAnswerer, WorkerGone, WorkerServices, encode_call, send_answer

DAG_FILE = """
import json, os
from datetime import datetime, timezone
from tradewind import DAG, PythonOperator
from tradewind.sdk.variable import Variable
from tradewind.sdk.hooks.base import BaseHook
from tradewind.sdk import runtime_services

LEDGER = {ledger!r}

def work(ti):
    seen = {{
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

    def get_variable(self, key: str) -> str | None:
        self.calls.append(("get_variable", (key,)))
        return self.variables.get(key)

    def get_connection(self, conn_id: str) -> Connection:
        if conn_id != "warehouse":
            raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")
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
                        send_answer(guarded.result_fd, answerer.answer(report["call"]))
                    else:
                        reports.append(line.decode())
    guarded.close()
    return log.decode(), "\n".join(reports)


def test_a_task_reads_variables_connections_and_xcom_through_its_worker(server, dag_file, tmp_path):  # noqa: F811
    services = InMemoryServices()
    guarded = started(server, spec_for(dag_file))
    log, reports = answer_to_end(guarded, TryServicesAnswerer(services, InMemoryXCom))
    assert '"state": "success"' in reports, log
    seen = json.loads((tmp_path / "ledger").read_text())
    assert seen == {
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
    # What the worker read for it is masked in the task's own log, as a direct read would be.
    assert "the secret is *** and ***" in log
    assert "hunter2-secret" not in log and "pg-pass-word" not in log


def test_the_worker_answers_only_the_services_a_task_may_call(tmp_path):
    answerer = TryServicesAnswerer(InMemoryServices(), InMemoryXCom)
    for call in (["__init__", [], {}], ["settings", [], {}], "not a call", ["get_variable", "plain", {}]):
        status, value = _unframe(answerer.answer(call))
        assert status == "error" and isinstance(value, ValueError), call
    assert _unframe(answerer.answer(json.loads(encode_call("get_variable", ["plain"], {})))) == ("ok", "hello")


def test_a_call_with_a_value_that_is_not_plain_data_is_refused_in_the_task_with_its_name():
    with pytest.raises(TypeError, match="object values cannot be sent to the worker"):
        encode_call("trigger_run", ["other"], {"conf": {"when": object()}})


def test_a_task_whose_worker_is_gone_gets_a_clear_error_not_a_hang(tmp_path):
    import socket

    from tradewind.worker.task_process import ResultChannel

    task_end, worker_end = socket.socketpair()
    channel = ResultChannel(task_end.detach())
    services = WorkerServices(Settings(home=tmp_path), channel, fallback=lambda: (None, None))
    worker_end.close()
    with pytest.raises(WorkerGone, match="the worker stopped answering"):
        services.get_variable("plain")


def _unframe(data: bytes) -> tuple[str, Any]:
    import pickle

    return pickle.loads(data[4:])
