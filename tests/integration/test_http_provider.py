"""The HTTP provider against a real HTTP server this test starts on 127.0.0.1 (``http.server`` in a
thread): ``tradewind dags test`` runs example_http and DAGs of HttpOperator, SimpleHttpOperator and
HttpSensor, and the test checks what reached the server (method, path, query, body, basic auth,
the connection's headers) and what the tasks left (states, XComs, the error in the log)."""

from __future__ import annotations

import base64
import json
import shutil
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cli_helpers import EXAMPLE_DAGS, LOGICAL_DATE, RUN_ID, Cli, expected_states_with_a_server, metastore_session

from tradewind.metastore import xcoms

pytestmark = pytest.mark.integration


@dataclass
class Api:
    """What the test server answers and what it was asked."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    health_404s: int = 2  # "not yet" answers before health is up
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> dict[str, Any]:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            auth = self.headers.get("Authorization", "")
            request = {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "body": self.rfile.read(length).decode() if length else "",
                "user": base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else None,
                "team": self.headers.get("X-Team"),
            }
            with api.lock:
                api.requests.append(request)
            return request

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            request = self._record()
            path = request["path"]
            if path == "/health":
                with api.lock:
                    starting = len([r for r in api.requests if r["path"] == "/health"]) <= api.health_404s
                self._answer(404, {"status": "starting"}) if starting else self._answer(200, {"status": "ok"})
            elif path.startswith("/reports/") and int(path.rsplit("/", 1)[1]) in api.reports:
                self._answer(200, api.reports[int(path.rsplit("/", 1)[1])])
            elif path == "/echo":
                self._answer(200, request)
            elif path == "/broken":
                self._answer(500, {"error": "database is down"})
            elif path == "/forbidden":
                self._answer(403, {"error": "no"})
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            request = self._record()
            if request["path"] != "/reports":
                self._answer(404, {"error": "not found"})
                return
            with api.lock:
                report_id = len(api.reports) + 1
                api.reports[report_id] = {"id": report_id, **json.loads(request["body"])}
            self._answer(201, {"id": report_id})

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def cli(api: Api, new_pg_url: Callable[[], str], tmp_path: Path) -> Cli:
    dags = tmp_path / "dags"
    dags.mkdir()
    connection = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": api.port,
        "login": "robot",
        "password": "s3cret",
        "extra": {"X-Team": "data"},
    }
    cli = Cli(home=tmp_path, dags_folder=dags, database_url=new_pg_url()).with_env(
        TRADEWIND_CONN_HTTP_DEFAULT=json.dumps(connection)
    )
    assert cli("db", "migrate").returncode == 0
    return cli


def _states(result: Any) -> dict[str, str]:
    return {row["task_id"]: row["state"] for row in result.table()}


def test_example_http_waits_for_the_service_posts_the_report_and_reads_it_back(api: Api, cli: Cli):
    shutil.copy(EXAMPLE_DAGS / "example_http.py", cli.dags_folder)
    expected = expected_states_with_a_server()["example_http"]

    result = cli("dags", "test", "example_http", LOGICAL_DATE)

    assert result.summary["state"] == expected["run_state"], result
    assert _states(result) == expected["tasks"]
    # The sensor was told "not yet" twice (404) and went on poking, in reschedule mode.
    assert [r["method"] for r in api.seen("/health")] == ["GET"] * 3
    (posted,) = api.seen("/reports")
    assert json.loads(posted["body"]) == {"day": LOGICAL_DATE, "orders": 42}
    assert posted["user"] == "robot:s3cret" and posted["team"] == "data"
    assert [r["path"] for r in api.requests][-1] == "/reports/1"
    with metastore_session(cli.settings()) as session:
        assert xcoms.get_xcom(session, "example_http", RUN_ID, "post_report", xcoms.RETURN_VALUE) == 1
        text = xcoms.get_xcom(session, "example_http", RUN_ID, "read_report", xcoms.RETURN_VALUE)
    assert json.loads(text) == {"id": 1, "day": LOGICAL_DATE, "orders": 42}
    assert "s3cret" not in result.stdout + result.stderr


DAG_FILE = textwrap.dedent("""
    from datetime import datetime, timezone
    from airflow import DAG
    from airflow.providers.http.operators.http import HttpOperator
    from airflow.providers.http.sensors.http import HttpSensor

    with DAG("http_errors", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
        HttpOperator(task_id="query_string", method="GET", endpoint="echo", data={"day": "{{ ds }}", "n": 3},
                     headers={"X-Team": "override"}, response_filter=lambda response: response.json()["query"])
        HttpOperator(task_id="server_error", method="GET", endpoint="broken")
        HttpOperator(task_id="unchecked_error", method="GET", endpoint="broken",
                     extra_options={"check_response": False}, response_filter=lambda r: r.status_code)
        HttpOperator(task_id="check_false", method="GET", endpoint="echo",
                     response_check=lambda response: response.json()["path"] == "/elsewhere")
        HttpSensor(task_id="forbidden", endpoint="forbidden", poke_interval=0.1, timeout=5)
        HttpSensor(task_id="never_there", endpoint="nowhere", poke_interval=0.1, timeout=1, soft_fail=True)
        HttpSensor(task_id="forbidden_is_not_yet", endpoint="forbidden", poke_interval=0.1, timeout=1,
                   response_error_codes_allowlist=["403"], mode="reschedule")
""")


def test_http_errors_fail_the_task_with_the_status_and_reason(api: Api, cli: Cli):
    (cli.dags_folder / "http_errors.py").write_text(DAG_FILE)

    result = cli("dags", "test", "http_errors", LOGICAL_DATE)

    assert result.summary["state"] == "failed", result
    assert _states(result) == {
        "query_string": "success",
        "server_error": "failed",
        "unchecked_error": "success",
        "check_false": "failed",
        "forbidden": "failed",
        "never_there": "skipped",
        "forbidden_is_not_yet": "failed",
    }
    log = result.stdout + result.stderr
    assert "500:Internal Server Error" in log
    assert "403:Forbidden" in log
    assert "Response check returned False." in log
    with metastore_session(cli.settings()) as session:
        query = xcoms.get_xcom(session, "http_errors", RUN_ID, "query_string", xcoms.RETURN_VALUE)
        assert query == {"day": [LOGICAL_DATE], "n": ["3"]}
        assert xcoms.get_xcom(session, "http_errors", RUN_ID, "unchecked_error", xcoms.RETURN_VALUE) == 500
    # The task's headers win over the connection's; without its own, a task sends the connection's.
    assert sorted(r["team"] for r in api.seen("/echo")) == ["data", "override"]
    # The sensor that fails on a 403 asked once; the one told that 403 means "not yet" kept asking.
    assert len(api.seen("/forbidden")) >= 3
