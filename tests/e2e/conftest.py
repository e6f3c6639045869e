"""A whole tradewind cluster and a headless Chromium for the end-to-end browser test.

``web_cluster`` (module scope) starts, on this machine and against a fresh PostgreSQL database
and Redis database 12: ``tradewind scheduler``, ``tradewind worker`` and ``tradewind webserver``
on a free port, over a DAG folder holding copies of two example DAGs, with an ``Op`` user to log
in as. Everything it starts is stopped at the end by session id. ``browser`` is Debian's Chromium
(/usr/bin/chromium) driven by Playwright for Python; no browser is ever downloaded.

When PostgreSQL, Redis, Chromium or Playwright is missing the tests are skipped, except on CI
(``CI=true``), where they fail with one line saying what is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from cluster import Cluster, kill_session, wait_until  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 12
EXAMPLE_DAGS = ("example_bash_python.py", "example_task_groups.py")
USERNAME, PASSWORD = "op", "op-password-e2e"
SECRET_KEY = "e2e-browser-test-secret-key-0123456789abcdef"
#: Where the screenshots of every page go (git-ignored), for a person to look at.
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _redis(*args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as sock:
        sock.sendall(f"*2\r\n$6\r\nSELECT\r\n${len(str(REDIS_DB))}\r\n{REDIS_DB}\r\n".encode())
        sock.recv(64)
        sock.sendall(payload.encode())
        return sock.recv(1024)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium (the e2e browser test needs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install '.[test]' (the e2e browser test needs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    print(f"\nscreenshots of every page: {SCREENSHOTS}")
    return SCREENSHOTS


@dataclass
class WebCluster:
    cluster: Cluster
    base_url: str
    username: str = USERNAME
    password: str = PASSWORD


@pytest.fixture(scope="module")
def web_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebCluster]:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL at 127.0.0.1:5432 is not reachable; CI needs it ({str(exc.orig).strip()[:120]})")
    try:
        pong = _redis("PING")
    except OSError as exc:
        pong = str(exc).encode()
    if not pong.startswith(b"+PONG"):
        admin.dispose()
        _unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable; CI needs it ({pong.decode().strip()})")
    _redis("FLUSHDB")

    name = f"tradewind_e2e_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    home = tmp_path_factory.mktemp("e2e-home")
    dags = home / "dags"
    dags.mkdir()
    for example in EXAMPLE_DAGS:
        shutil.copy(REPO / "examples" / "dags" / example, dags / example)
    cluster = Cluster(
        home,
        f"postgresql://postgres@127.0.0.1:5432/{name}",
        f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        dags,
        extra_env={"TRADEWIND_SECRET_KEY": SECRET_KEY, "TRADEWIND_WEBSERVER_WORKERS": "2"},
    )
    try:
        cluster.cli("db", "migrate")
        cluster.cli("users", "create", "--username", USERNAME, "--password", PASSWORD, "--role", "Op")
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        cluster.start_scheduler()
        cluster.start_worker("e2e-worker", concurrency=4)
        cluster.start("webserver", "webserver", "--host", "127.0.0.1", "--port", str(port))
        _wait_for_health(cluster, base_url)
        for dag_id in ("example_bash_python", "example_task_groups"):
            cluster.wait_for_dag(dag_id)
        yield WebCluster(cluster, base_url)
    finally:
        processes = dict(cluster.processes)
        cluster.stop_all()
        for process in processes.values():  # stop_all already did; make sure no straggler survives
            kill_session(process.pid, 9)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        _redis("FLUSHDB")


def _wait_for_health(cluster: Cluster, base_url: str, timeout: float = 30) -> None:
    def answers() -> bool:
        process = cluster.processes["webserver"]
        if process.poll() is not None:
            raise AssertionError(f"the webserver exited with {process.returncode}:\n{cluster.log_of('webserver')}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
                return response.status == 200
        except urllib.error.HTTPError as exc:
            return exc.code in (200, 503)  # it answers; the scheduler may not have beaten yet
        except OSError:
            time.sleep(0.1)
            return False

    wait_until(answers, timeout, lambda: "the webserver never answered /health\n" + cluster.tail_logs())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The compose cluster test runs last: it is the slowest, and it starts its own Docker engine."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/test_compose_cluster.py"))
