"""A typical script end to end, against a real cluster: a scheduler and a worker over PostgreSQL and
Redis, and the webserver answering HTTP on 127.0.0.1.

The script triggers a run with conf, polls it while it runs, reads every task instance's state and
log, finds the failed task, fixes its cause, clears the failed task instances and waits for the
retry to succeed. It is told twice: with the official ``apache-airflow-client`` 2.10, and with
tradewind's own CLI and its ``-o json`` output, whose answers must agree with the API's for the
same run (same run ids, states, task ids, dates).

The DAG: ``extract`` waits for a gate file named in the conf (so the script sees the run while it
runs), then prints the conf's region and rows; ``transform`` fails unless the marker file named in
the conf exists; ``load`` follows ``transform``; ``notify`` echoes the region from the conf.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from airflow_client import client as af
from airflow_client.client.api import dag_api, dag_run_api, task_instance_api
from airflow_client.client.model.clear_task_instances import ClearTaskInstances
from airflow_client.client.model.dag_run import DAGRun
from api_contract import watch_answers
from cluster import Cluster, wait_until
from web_helpers import ACCOUNTS, FAST_HASH, SECRET_KEY
from werkzeug.serving import make_server

from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose, metastore
from tradewind.metastore import users
from tradewind.metastore.engine import session_scope

pytestmark = pytest.mark.integration

DAG_ID = "nightly_load"
TASKS = ["extract", "load", "notify", "transform"]
#: How long a run may take on a busy two-core machine; every wait below is bounded by it.
RUN_TIMEOUT = 120

DAG_SOURCE = f"""
import os

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator

with DAG({DAG_ID!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    extract = BashOperator(
        task_id="extract",
        bash_command=(
            'for i in $(seq 1 1200); do [ -e "{{{{ dag_run.conf["gate"] }}}}" ] && break; sleep 0.1; done; '
            'echo "extracting {{{{ dag_run.conf["rows"] }}}} rows for {{{{ dag_run.conf["region"] }}}}"'
        ),
    )

    @task
    def transform(dag_run=None):
        if not os.path.exists(dag_run.conf["marker"]):
            raise RuntimeError("the source is not ready: " + dag_run.conf["marker"] + " is missing")
        print("transformed", dag_run.conf["rows"], "rows")
        return dag_run.conf["rows"]

    load = BashOperator(task_id="load", bash_command="echo loaded {{{{ ti.xcom_pull(task_ids='transform') }}}} rows")
    notify = BashOperator(task_id="notify", bash_command="echo 'region {{{{ dag_run.conf[\\"region\\"] }}}} notified'")

    extract >> transform() >> load
    extract >> notify
"""


@dataclass
class Deployment:
    cluster: Cluster
    api_url: str
    folder: Path

    def conf(self, name: str) -> dict[str, Any]:
        """A run's conf: its own gate and marker files, so each script's run is its own story."""
        return {
            "region": "eu-west-1",
            "rows": 5,
            "gate": str(self.folder / f"{name}.go"),
            "marker": str(self.folder / f"{name}.ready"),
        }


@pytest.fixture(scope="module")
def deployment(new_pg_url: Any, _redis_db: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A scheduler and a worker over a fresh PostgreSQL database and the test's Redis database, and
    the webserver over the same metastore answering HTTP on a free port of 127.0.0.1."""
    broker_url = f"redis://127.0.0.1:6379/{_redis_db}"
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()
    broker.close()
    home = tmp_path_factory.mktemp("api-script")
    folder = home / "dags"
    folder.mkdir()
    cluster = Cluster(home / "home", new_pg_url(), broker_url, folder)
    httpd = None
    app = None
    try:
        cluster.cli("db", "migrate")
        (folder / f"{DAG_ID}.py").write_text(DAG_SOURCE)
        cluster.start_scheduler()
        cluster.start_worker("w1")
        app = create_app(replace(cluster.settings, secret_key=SECRET_KEY))
        mismatches = watch_answers(app)
        with session_scope(metastore(app).factory) as session:
            for account in ACCOUNTS.values():
                users.create_user(session, account.username, account.password, account.role, hash_method=FAST_HASH)
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        cluster.wait_for_dag(DAG_ID)
        yield Deployment(cluster, f"http://127.0.0.1:{httpd.server_port}/api/v1", home)
        assert not mismatches, "answers that do not match the OpenAPI document:\n" + "\n".join(mismatches)
    finally:
        if httpd is not None:
            httpd.shutdown()
        if app is not None:
            dispose(app)
        cluster.stop_all()


@pytest.fixture
def op_client(deployment: Deployment) -> Iterator[af.ApiClient]:
    account = ACCOUNTS["Op"]
    client = af.ApiClient(
        af.Configuration(host=deployment.api_url, username=account.username, password=account.password)
    )
    yield client
    client.close()


def poll(check: Callable[[], Any], what: str, deployment: Deployment) -> Any:
    """What ``check`` returns once it is truthy, polling for at most RUN_TIMEOUT seconds."""
    return wait_until(check, RUN_TIMEOUT, lambda: f"{what}\n{deployment.cluster.tail_logs()}", interval=0.2)


def api_states(tis: task_instance_api.TaskInstanceApi, run_id: str) -> dict[str, str | None]:
    listed = tis.get_task_instances(DAG_ID, run_id).task_instances
    return {t.task_id: (t.state.value if t.state is not None else None) for t in listed}


def test_a_script_with_the_official_client_triggers_polls_reads_logs_clears_the_failed_and_waits(
    deployment: Deployment, op_client: af.ApiClient
) -> None:
    runs = dag_run_api.DAGRunApi(op_client)
    tis = task_instance_api.TaskInstanceApi(op_client)
    conf = deployment.conf("api")

    created = runs.post_dag_run(DAG_ID, DAGRun(dag_run_id="api_script", conf=conf))
    assert created.dag_run_id == "api_script" and created.conf == conf and created.state.value == "queued"

    # While it runs: extract holds at its gate; the tasks after it have no state and no host yet,
    # and the client still reads the whole list.
    poll(lambda: api_states(tis, "api_script")["extract"] == "running", "extract never started", deployment)
    assert runs.get_dag_run(DAG_ID, "api_script").state.value == "running"
    waiting = tis.get_task_instances(DAG_ID, "api_script").task_instances
    assert {t.task_id: (t.state, t.hostname) for t in waiting if t.task_id != "extract"} == {
        "load": (None, ""),
        "notify": (None, ""),
        "transform": (None, ""),
    }
    Path(conf["gate"]).touch()

    finished = poll(
        lambda: (r := runs.get_dag_run(DAG_ID, "api_script")).state.value in ("success", "failed") and r,
        "the run never finished",
        deployment,
    )
    assert finished.state.value == "failed" and finished.end_date is not None
    states = api_states(tis, "api_script")
    assert states == {"extract": "success", "transform": "failed", "load": "upstream_failed", "notify": "success"}

    logs = {}
    for ti in tis.get_task_instances(DAG_ID, "api_script").task_instances:
        if ti.try_number:
            logs[ti.task_id] = tis.get_log(DAG_ID, "api_script", ti.task_id, ti.try_number).content
    assert set(logs) == {"extract", "transform", "notify"}, "load never ran, so it has no try to read"
    assert "extracting 5 rows for eu-west-1" in logs["extract"]
    assert "region eu-west-1 notified" in logs["notify"]
    assert f"the source is not ready: {conf['marker']} is missing" in logs["transform"]

    # The cause is fixed; the failed task instances (and only they) are cleared and run again.
    Path(conf["marker"]).touch()
    cleared = dag_api.DAGApi(op_client).post_clear_task_instances(
        DAG_ID, ClearTaskInstances(dag_run_id="api_script", dry_run=False)
    )
    assert sorted(t.task_id for t in cleared.task_instances) == ["load", "transform"]

    retried = poll(
        lambda: (r := runs.get_dag_run(DAG_ID, "api_script")).state.value in ("success", "failed") and r,
        "the cleared run never finished",
        deployment,
    )
    assert retried.state.value == "success", api_states(tis, "api_script")
    assert set(api_states(tis, "api_script").values()) == {"success"}
    transform = tis.get_task_instance(DAG_ID, "api_script", "transform")
    assert transform.try_number == 2
    assert "transformed 5 rows" in tis.get_log(DAG_ID, "api_script", "transform", 2).content
    assert "is missing" in tis.get_log(DAG_ID, "api_script", "transform", 1).content, "the first try's log stays"
    assert tis.get_task_instance(DAG_ID, "api_script", "extract").try_number == 1, "what succeeded was not run again"
    assert "loaded 5 rows" in tis.get_log(DAG_ID, "api_script", "load", 1).content


def cli_json(deployment: Deployment, *args: str) -> Any:
    return json.loads(deployment.cluster.cli(*args, "-o", "json").stdout)


def cli_run(deployment: Deployment, run_id: str) -> dict[str, Any]:
    [run] = [r for r in cli_json(deployment, "dags", "list-runs", "-d", DAG_ID) if r["run_id"] == run_id]
    return dict(run)


def cli_states(deployment: Deployment, run_id: str) -> dict[str, str | None]:
    return {t["task_id"]: t["state"] for t in cli_json(deployment, "tasks", "states-for-dag-run", DAG_ID, run_id)}


def assert_cli_agrees_with_api(deployment: Deployment, client: af.ApiClient, run_id: str) -> None:
    """The CLI's JSON and the API's answers about the DAG's runs and one run's task instances agree."""
    listed = cli_json(deployment, "dags", "list-runs", "-d", DAG_ID)
    newest_first = dag_run_api.DAGRunApi(client).get_dag_runs(DAG_ID, order_by="-execution_date").dag_runs
    assert [(r["run_id"], r["state"]) for r in listed] == [(r.dag_run_id, r.state.value) for r in newest_first]
    for shown, answered in zip(listed, newest_first, strict=True):
        assert _instant(shown["execution_date"]) == _instant(answered.execution_date)
        assert _instant(shown["start_date"]) == _instant(answered.start_date)
        assert _instant(shown["end_date"]) == _instant(answered.end_date)

    rows = cli_json(deployment, "tasks", "states-for-dag-run", DAG_ID, run_id)
    answers = task_instance_api.TaskInstanceApi(client).get_task_instances(DAG_ID, run_id).task_instances
    assert sorted((r["task_id"], r["state"], r["try_number"]) for r in rows) == sorted(
        (t.task_id, t.state.value if t.state is not None else None, t.try_number) for t in answers
    )
    by_task = {t.task_id: t for t in answers}
    for row in rows:
        assert row["dag_id"] == DAG_ID
        assert _instant(row["execution_date"]) == _instant(by_task[row["task_id"]].execution_date)
        assert _instant(row["start_date"]) == _instant(by_task[row["task_id"]].start_date)
        assert _instant(row["end_date"]) == _instant(by_task[row["task_id"]].end_date)


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 answer as a datetime ("" and None: no date), for comparing across formats."""
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def test_the_same_script_with_the_cli_json_output_agrees_with_the_api(
    deployment: Deployment, op_client: af.ApiClient
) -> None:
    conf = deployment.conf("cli")
    triggered = cli_json(deployment, "dags", "trigger", DAG_ID, "--conf", json.dumps(conf), "-r", "cli_script")
    assert triggered["run_id"] == "cli_script" and triggered["state"] == "queued"
    assert dag_run_api.DAGRunApi(op_client).get_dag_run(DAG_ID, "cli_script").conf == conf

    poll(lambda: cli_states(deployment, "cli_script")["extract"] == "running", "extract never started", deployment)
    assert cli_run(deployment, "cli_script")["state"] == "running"
    # extract holds at its gate: nothing moves while the two are compared.
    assert_cli_agrees_with_api(deployment, op_client, "cli_script")
    Path(conf["gate"]).touch()

    poll(
        lambda: cli_run(deployment, "cli_script")["state"] in ("success", "failed"),
        "the run never finished",
        deployment,
    )
    assert cli_run(deployment, "cli_script")["state"] == "failed"
    assert cli_states(deployment, "cli_script") == {
        "extract": "success",
        "transform": "failed",
        "load": "upstream_failed",
        "notify": "success",
    }
    assert_cli_agrees_with_api(deployment, op_client, "cli_script")
    by_date = cli_json(
        deployment, "tasks", "states-for-dag-run", DAG_ID, cli_run(deployment, "cli_script")["execution_date"]
    )
    assert {r["task_id"]: r["state"] for r in by_date} == cli_states(deployment, "cli_script"), (
        "a logical date finds the run too"
    )

    Path(conf["marker"]).touch()
    logical_date = cli_run(deployment, "cli_script")["execution_date"]
    cleared = deployment.cluster.cli("tasks", "clear", DAG_ID, "-f", "-y", "-s", logical_date, "-e", logical_date)
    assert f"Cleared 2 task instance(s) in 1 run(s) of {DAG_ID}." in cleared.stdout, cleared.stdout

    poll(
        lambda: cli_run(deployment, "cli_script")["state"] in ("success", "failed"),
        "the cleared run never finished",
        deployment,
    )
    assert cli_run(deployment, "cli_script")["state"] == "success", cli_states(deployment, "cli_script")
    assert set(cli_states(deployment, "cli_script").values()) == {"success"}
    assert_cli_agrees_with_api(deployment, op_client, "cli_script")
    retried = [
        r
        for r in cli_json(deployment, "tasks", "states-for-dag-run", DAG_ID, "cli_script")
        if r["task_id"] == "transform"
    ]
    assert [r["try_number"] for r in retried] == [2]
    log = task_instance_api.TaskInstanceApi(op_client).get_log(DAG_ID, "cli_script", "extract", 1).content
    assert "extracting 5 rows for eu-west-1" in log, "the conf given on the command line reached the task"
