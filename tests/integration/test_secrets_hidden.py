"""Secrets stay hidden wherever people look, while tasks still get the real values.

A real scheduler and worker over PostgreSQL and Redis run one DAG: a BashOperator echoes
``{{ conn.my_db.password }}``, a ``@task`` returns the same password, another returns secret
variables (``db_credential``, ``aws_access_key``, ``my_private`` — and ``atm_pin_code``, secret only
through ``TRADEWIND_SENSITIVE_NAMES``), and a last task checks it received every real value and the
run's real conf. The run was triggered from the CLI with ``{"password": …, "api_token": …}``. Then a
Viewer reads the task panels, the XCom API, the audit log, the event-log and dagRuns APIs and the
variables page; and a user runs the CLI.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from cli_helpers import LOGICAL_DATE, Cli
from cluster import Cluster
from flask import Flask
from flask.testing import FlaskClient
from web_helpers import ACCOUNTS, FAST_HASH, SECRET_KEY, login

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import audit, logs, users, xcoms
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

DAG_ID = "secret_paths"
PASSWORD = "pg-Pa55word-7781"
VARIABLES = {
    "db_credential": "cred-4471-xyz",
    "aws_access_key": "AKIA-ACCESS-55821",
    "my_private": "private-value-9901",
    "atm_pin_code": "pin-code-40417",
}
#: A word the defaults do not hold: only the setting makes ``atm_pin_code`` secret.
EXTRA_NAMES = {"TRADEWIND_SENSITIVE_NAMES": "pin_code"}
CONF = {
    "password": "conf-pw-31337",
    "api_token": "conf-tok-90210",
    "target": {"client_secret": "conf-cs-5150"},
    "region": "eu-west-1",
}
SECRETS = [PASSWORD, *VARIABLES.values(), "conf-pw-31337", "conf-tok-90210", "conf-cs-5150"]

DAG_SOURCE = f"""
import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.hooks.base import BaseHook
from airflow.models import Variable
from airflow.operators.bash import BashOperator

NAMES = {tuple(VARIABLES)!r}

with DAG({DAG_ID!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    echo_password = BashOperator(task_id="echo_password", bash_command="echo {{{{ conn.my_db.password }}}}")

    @task
    def fetch_password():
        return BaseHook.get_connection("my_db").password

    @task
    def read_variables():
        values = {{name: Variable.get(name) for name in NAMES}}
        for name, value in values.items():
            print(f"{{name}} is {{value}}")
        return values

    @task
    def check(echoed, fetched, variables, dag_run=None):
        real = BaseHook.get_connection("my_db").password
        assert echoed == real and fetched == real, "the password did not reach this task"
        assert variables == {{name: Variable.get(name) for name in NAMES}}, "the variables did not reach this task"
        assert dag_run.conf["password"] == Variable.get("expected_conf_password"), "the conf did not reach this task"
        print("conf password is", dag_run.conf["password"], "in", dag_run.conf["region"])
        return "all real"

    check(echo_password.output, fetch_password(), read_variables())
"""


@dataclass
class FinishedRun:
    cluster: Cluster
    run_id: str
    state: str

    def log(self, task_id: str) -> str:
        with session_scope(self.cluster.factory) as session:
            text, _ = logs.read_log(session, TIKey(DAG_ID, self.run_id, task_id), 1)
        return text


@pytest.fixture(scope="module")
def finished(new_pg_url: Any, _redis_db: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FinishedRun]:
    """The DAG run by a scheduler and a worker, triggered from the CLI with a conf holding secrets."""
    broker_url = f"redis://127.0.0.1:6379/{_redis_db}"
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    client.close()
    home = tmp_path_factory.mktemp("secrets-hidden")
    folder = home / "dags"
    folder.mkdir()
    cluster = Cluster(home / "home", new_pg_url(), broker_url, folder, extra_env=EXTRA_NAMES)
    try:
        cluster.cli("db", "migrate")
        cluster.cli("connections", "add", "my_db", "--conn-uri", f"postgres://etl:{PASSWORD}@db.internal:5432/sales")
        for key, value in {**VARIABLES, "expected_conf_password": CONF["password"]}.items():
            cluster.cli("variables", "set", key, value)
        (folder / f"{DAG_ID}.py").write_text(DAG_SOURCE)
        cluster.start_scheduler()
        cluster.start_worker("w1")
        cluster.wait_for_dag(DAG_ID)
        run_id = cluster.trigger(DAG_ID, CONF)
        state = cluster.wait_for_run(DAG_ID, run_id, timeout=120)
        yield FinishedRun(cluster, run_id, state)
    finally:
        cluster.stop_all()


@pytest.fixture(scope="module")
def web(finished: FinishedRun) -> Iterator[dict[str, FlaskClient]]:
    """A Viewer and an Admin logged in to a webserver over the cluster's metastore, with its setting."""
    settings = Settings(
        home=finished.cluster.home,
        database_url=finished.cluster.settings.database_url,
        secret_key=SECRET_KEY,
        sensitive_names=EXTRA_NAMES["TRADEWIND_SENSITIVE_NAMES"],
    )
    app: Flask = create_app(settings)
    app.config["TESTING"] = True
    clients = {}
    for role in ("Viewer", "Admin"):
        account = ACCOUNTS[role]
        with session_scope(metastore(app).factory) as session:
            users.create_user(session, account.username, account.password, account.role, hash_method=FAST_HASH)
        clients[role] = app.test_client()
        assert login(clients[role], account.username, account.password).status_code == 302
    yield clients
    dispose(app)


@pytest.fixture(scope="module")
def viewer(web: dict[str, FlaskClient]) -> FlaskClient:
    return web["Viewer"]


def _assert_no_secret(text: str, where: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{where} shows {leaked}:\n{text[:3000]}"


def _api(viewer: FlaskClient, path: str) -> Any:
    response = viewer.get(path)
    assert response.status_code == 200, response.text
    _assert_no_secret(response.text, path)
    return response.get_json()


def test_downstream_tasks_get_the_real_password_variables_and_conf(finished: FinishedRun) -> None:
    states = finished.cluster.states(DAG_ID, finished.run_id)
    assert finished.state == "success", f"{states}\n{finished.log('check')}"
    with session_scope(finished.cluster.factory) as session:
        # What downstream tasks pull is the real value, stored as it was pushed.
        assert xcoms.get_xcom(session, DAG_ID, finished.run_id, "echo_password") == PASSWORD


def test_the_task_panel_shows_stars_for_every_secret_a_task_pushed(finished: FinishedRun, viewer: FlaskClient) -> None:
    run = quote(finished.run_id, safe="")
    for task_id in ("echo_password", "fetch_password", "read_variables", "check"):
        page = viewer.get(f"/dags/{DAG_ID}/runs/{run}/tasks/{task_id}")
        assert page.status_code == 200, page.text
        _assert_no_secret(page.text, f"the panel of {task_id}")
        xcom_section = page.text.split("<h3>XCom</h3>", 1)[1].split("</table>", 1)[0]
        assert ("all real" if task_id == "check" else "***") in xcom_section, xcom_section


def test_the_xcom_api_answers_stars_and_leaves_what_is_not_secret(finished: FinishedRun, viewer: FlaskClient) -> None:
    base = f"/api/v1/dags/{DAG_ID}/dagRuns/{quote(finished.run_id, safe='')}/taskInstances"

    def value(task_id: str) -> Any:
        keys = [e["key"] for e in _api(viewer, f"{base}/{task_id}/xcomEntries")["xcom_entries"]]
        assert keys == ["return_value"]
        return _api(viewer, f"{base}/{task_id}/xcomEntries/return_value?stringify=false")["value"]

    assert value("echo_password") == "***"
    assert value("fetch_password") == "***"
    assert value("read_variables") == dict.fromkeys(VARIABLES, "***")
    assert value("check") == "all real"


def test_task_logs_hide_secret_variables_including_the_names_the_setting_adds(finished: FinishedRun) -> None:
    read = finished.log("read_variables")
    for name in VARIABLES:
        assert f"{name} is ***" in read, read
    assert "conf password is *** in eu-west-1" in finished.log("check")
    for task_id in ("echo_password", "fetch_password", "read_variables", "check"):
        _assert_no_secret(finished.log(task_id), f"the log of {task_id}")


def test_the_runs_conf_shows_stars_in_the_audit_log_and_the_apis(finished: FinishedRun, viewer: FlaskClient) -> None:
    shown_conf = {**CONF, "password": "***", "api_token": "***", "target": {"client_secret": "***"}}

    page = viewer.get(f"/audit-log?dag_id={DAG_ID}")
    assert page.status_code == 200
    _assert_no_secret(page.text, "/audit-log")
    assert "eu-west-1" in page.text, "what is not secret is still shown"

    events = _api(viewer, f"/api/v1/eventLogs?dag_id={DAG_ID}")["event_logs"]
    assert [json.loads(e["extra"])["conf"] for e in events if e["event"] == "trigger"] == [shown_conf]

    assert _api(viewer, f"/api/v1/dags/{DAG_ID}/dagRuns/{quote(finished.run_id, safe='')}")["conf"] == shown_conf
    assert [r["conf"] for r in _api(viewer, f"/api/v1/dags/{DAG_ID}/dagRuns")["dag_runs"]] == [shown_conf]

    with session_scope(finished.cluster.factory) as session:
        stored = [e.extra for e in audit.list_events(session, dag_id=DAG_ID)]
    _assert_no_secret(json.dumps(stored), "the audit table itself")


def test_the_variables_page_and_api_hide_the_names_the_setting_adds(web: dict[str, FlaskClient]) -> None:
    admin = web["Admin"]
    page = admin.get("/variables")
    assert page.status_code == 200
    _assert_no_secret(page.text, "/variables")
    assert page.text.count("***") >= len(VARIABLES)
    assert _api(admin, "/api/v1/variables/atm_pin_code")["value"] == "***"
    listed = _api(admin, "/api/v1/variables")["variables"]
    assert {v["key"]: v["value"] for v in listed if v["key"] in VARIABLES} == dict.fromkeys(VARIABLES, "***")


def test_the_cli_hides_variables_and_extra_fields_the_setting_names(finished: FinishedRun) -> None:
    cluster = finished.cluster
    assert cluster.cli("variables", "get", "atm_pin_code").stdout.strip() == "***"
    listed = json.loads(cluster.cli("variables", "list", "-o", "json").stdout)
    assert {v["key"]: v["value"] for v in listed if v["key"] in VARIABLES} == dict.fromkeys(VARIABLES, "***")
    cluster.cli("connections", "add", "bank", "--conn-type", "http", "--conn-extra", '{"pin_code": "pin-code-40417"}')
    for args in (("connections", "get", "bank", "-o", "json"), ("connections", "list", "-o", "json")):
        shown = cluster.cli(*args).stdout
        _assert_no_secret(shown, " ".join(args))
        [bank] = [row for row in json.loads(shown) if row["conn_id"] == "bank"]
        assert json.loads(bank["extra"]) == {"pin_code": "***"}


def test_dags_test_and_tasks_test_output_hide_the_names_the_setting_adds(fresh_pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    cli = Cli(home=tmp_path, dags_folder=folder, database_url=fresh_pg_url).with_env(**EXTRA_NAMES)
    for key, value in VARIABLES.items():
        assert cli("variables", "set", key, value).returncode == 0
    (folder / "prints.py").write_text(
        textwrap.dedent(
            f"""
            import pendulum
            from airflow import DAG
            from airflow.decorators import task
            from airflow.models import Variable

            with DAG("prints", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
                @task
                def show():
                    for name in {tuple(VARIABLES)!r}:
                        print(name, "is", Variable.get(name))

                show()
            """
        )
    )
    for args in (("dags", "test", "prints", LOGICAL_DATE), ("tasks", "test", "prints", "show", LOGICAL_DATE)):
        result = cli(*args)
        assert result.returncode == 0, result
        for name in VARIABLES:
            assert f"{name} is ***" in result.stdout, result
        _assert_no_secret(result.stdout + result.stderr, " ".join(args))

    # The setting is what hides atm_pin_code: without it, the CLI and a task show it as it is.
    plain = Cli(home=tmp_path, dags_folder=folder, database_url=fresh_pg_url)
    assert plain("variables", "get", "atm_pin_code").stdout.strip() == VARIABLES["atm_pin_code"]
    printed = plain("tasks", "test", "prints", "show", LOGICAL_DATE)
    assert f"atm_pin_code is {VARIABLES['atm_pin_code']}" in printed.stdout, printed
    assert "db_credential is ***" in printed.stdout, printed
